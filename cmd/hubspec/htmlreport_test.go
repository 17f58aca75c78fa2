package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/steps"
)

// b64 is an embedding's data as godog writes it.
func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func embedding(name, mimeType, data string) map[string]any {
	return map[string]any{"name": name, "mime_type": mimeType, "data": data}
}

func step(keyword, text, status string, extra map[string]any) map[string]any {
	s := map[string]any{"keyword": keyword, "name": text, "line": 1, "match": map[string]any{"location": "x.go:1"},
		"result": map[string]any{"status": status, "duration": 1500000}}
	for k, v := range extra {
		s[k] = v
	}
	return s
}

// png1x1 is a one-pixel PNG.
const png1x1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

// fixtureReport is Cucumber JSON with every status, argument and kind of
// attachment the page shows, and a secret planted wherever text can go.
func fixtureReport(t *testing.T) []byte {
	t.Helper()
	httpEv := `{"kind":"http","title":"PUT /devices/d1 → 200 (2.0 ms)","at":"2026-01-02T03:04:05.123456789Z","http":{
		"method":"PUT","url":"https://h/devices/d1?sig=abc","requestHeaders":{"Authorization":"SharedAccessSignature sr=h&sig=abc&se=1","Accept":"application/json, text/plain"},
		"requestBody":"{\"deviceId\":\"d1\",\"authentication\":{\"symmetricKey\":{\"primaryKey\":\"secret1\"}}}",
		"status":200,"responseHeaders":{"Etag":"\"e1\""},"responseBody":"{\"deviceId\":\"d1\",\"etag\":\"e1\"}","durationMs":2.0}}`
	mqttEv := `{"kind":"mqtt","title":"module \"m\" ⇠ $iothub/twin/PATCH/properties/desired/?$version=2","at":"2026-01-02T03:04:06Z",
		"mqtt":{"client":"module \"m\"","direction":"received","topic":"$iothub/twin/PATCH/properties/desired/?$version=2","qos":0,"payload":"{\"mode\":\"eco\",\"$version\":2}"}}`
	getEv := `{"kind":"http","title":"GET /twins/d1/modules/m → 200 (1.0 ms)","at":"2026-01-02T03:04:05.9Z","http":{"method":"GET",
		"url":"https://h/twins/d1/modules/m","status":200,"responseBody":"{\"deviceId\": \"d1\", \"properties\": {\"desired\": {\"primaryKey\": \"secret2\"}}}"}}`
	twinEv := `{"kind":"twin","title":"twin of module \"m\" as GET returned it","at":"2026-01-02T03:04:07Z",
		"twin":{"identity":"module \"m\"","document":{"deviceId":"d1","properties":{"desired":{"primaryKey":"secret2"}}}}}`
	const evidence = "application/vnd.hubspec.evidence+json"
	feats := []map[string]any{
		{"uri": "features/a.feature", "keyword": "Feature", "name": "Alpha <b>bold</b>", "description": "  Why alpha.",
			"tags": []map[string]any{{"name": "@smoke"}},
			"elements": []map[string]any{
				{"keyword": "Scenario", "name": "It passes", "line": 3, "type": "scenario", "steps": []map[string]any{
					step("Given ", "a twin", "passed", map[string]any{"doc_string": map[string]any{"value": `{"a": 1}`},
						"embeddings": []map[string]any{embedding("PUT /devices/d1 → 200 (2.0 ms)", evidence, b64(httpEv))}}),
					step("Then ", "the modules are:", "passed", map[string]any{"rows": []map[string]any{{"cells": []string{"m1"}}, {"cells": []string{"<m2>"}}}}),
				}},
				{"keyword": "Scenario", "name": "Escaped <script>alert(1)</script>", "line": 9, "type": "scenario", "steps": []map[string]any{
					step("When ", "module \"m\" is connected", "passed", map[string]any{"embeddings": []map[string]any{
						embedding("get", evidence, b64(getEv)), embedding("mqtt", evidence, b64(mqttEv)), embedding("twin", evidence, b64(twinEv))}}),
					step("Then ", "the hub refuses with 409 DeviceAlreadyExists", "failed", map[string]any{
						"result": map[string]any{"status": "failed", "duration": 2000000, "error_message": "expected 409, got 200 <ok> for SharedAccessKey=xyz"}}),
					step("And ", "nothing else", "skipped", map[string]any{"result": map[string]any{"status": "skipped"}}),
				}},
			}},
		{"uri": "features/b.feature", "keyword": "Feature", "name": "Beta",
			"elements": []map[string]any{
				{"keyword": "Scenario", "name": "Not here", "line": 2, "type": "scenario", "steps": []map[string]any{
					step("Given ", "a live hub", "skipped", map[string]any{"result": map[string]any{"status": "skipped"}}),
				}},
				{"keyword": "Scenario", "name": "Odd attachments", "line": 5, "type": "scenario", "steps": []map[string]any{
					step("Given ", "attachments", "passed", map[string]any{"embeddings": []map[string]any{
						embedding("broken base64", evidence, "not base64!"),
						embedding("broken json", evidence, b64(`{"kind":`)),
						embedding("no member", evidence, b64(`{"kind":"http","title":"lonely"}`)),
						embedding("a note", "text/plain; charset=utf-8", b64("connection string HostName=h;SharedAccessKey=xyz")),
						embedding("shot.png", "image/png", png1x1),
						embedding("blob.bin", "application/zip", b64("sig=zzz")),
					}}),
					step("Then ", "a step nobody wrote", "undefined", map[string]any{"result": map[string]any{"status": "undefined"}}),
				}},
			}},
	}
	data, err := json.Marshal(feats)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func renderFixture(t *testing.T, data []byte) string {
	t.Helper()
	var page bytes.Buffer
	if err := writeHTMLReport(&page, data, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	return page.String()
}

// TestHTMLReportStructure checks the page's outline against the fixture:
// features, scenarios with status and open state, steps, arguments,
// errors and evidence, in order; timings are left out.
func TestHTMLReportStructure(t *testing.T) {
	root := parseHTML(t, renderFixture(t, fixtureReport(t)))
	var outline []string
	for _, f := range root.all("section", "feature") {
		outline = append(outline, fmt.Sprintf("feature %q problems=%v", f.first("h2", "").text(), f.hasClass("problems")))
		for _, s := range f.all("details", "scenario") {
			_, open := s.attr["open"]
			outline = append(outline, fmt.Sprintf("  scenario %q %s open=%v", s.first("span", "name").text(), s.attr["data-status"], open))
			for _, st := range s.all("li", "step") {
				outline = append(outline, fmt.Sprintf("    step %q %s", st.first("div", "line").text(), st.attr["data-status"]))
				for _, a := range st.all("pre", "arg") {
					outline = append(outline, fmt.Sprintf("      doc %q", a.text()))
				}
				for _, a := range st.all("td", "") {
					outline = append(outline, fmt.Sprintf("      cell %q", a.text()))
				}
				for _, e := range st.all("pre", "error") {
					outline = append(outline, fmt.Sprintf("      error %q", e.text()))
				}
				for _, ev := range st.all("details", "ev") {
					_, open := ev.attr["open"]
					outline = append(outline, fmt.Sprintf("      evidence %s %q open=%v", ev.attr["class"], ev.first("summary", "").text(), open))
				}
			}
		}
	}
	want := []string{
		`feature "Feature: Alpha <b>bold</b> features/a.feature@smoke" problems=true`,
		`  scenario "Scenario: It passes" passed open=false`,
		`    step "Given a twin1.5 ms" passed`,
		`      doc "{\"a\": 1}"`,
		`      evidence ev ev-http "http PUT /devices/d1 → 200 (2.0 ms) 03:04:05.123" open=false`,
		`    step "Then the modules are:1.5 ms" passed`,
		`      cell "m1"`,
		`      cell "<m2>"`,
		`  scenario "Scenario: Escaped <script>alert(1)</script>" failed open=true`,
		`    step "When module \"m\" is connected1.5 ms" passed`,
		`      evidence ev ev-http "http GET /twins/d1/modules/m → 200 (1.0 ms) 03:04:05.900" open=false`,
		`      evidence ev ev-mqtt "mqtt module \"m\" ⇠ $iothub/twin/PATCH/properties/desired/?$version=2 03:04:06.000" open=false`,
		`      evidence ev ev-twin "twin twin of module \"m\" as GET returned it 03:04:07.000" open=false`,
		`    step "Then the hub refuses with 409 DeviceAlreadyExists2.0 ms" failed`,
		`      error "expected 409, got 200 <ok> for SharedAccessKey=***"`,
		`    step "And nothing else" skipped`,
		`feature "Feature: Beta features/b.feature" problems=true`,
		`  scenario "Scenario: Not here" skipped open=false`,
		`    step "Given a live hub" skipped`,
		`  scenario "Scenario: Odd attachments" undefined open=true`,
		`    step "Given attachments1.5 ms" passed`,
		`      evidence ev ev-unreadable "unreadable broken base64 unreadable evidence: its data is not base64 (illegal base64 data at input byte 3)" open=false`,
		`      evidence ev ev-unreadable "unreadable broken json unreadable evidence: not the evidence JSON (unexpected end of JSON input)" open=false`,
		`      evidence ev ev-unreadable "unreadable lonely unreadable evidence: kind \"http\" without its \"http\" member" open=false`,
		`      evidence ev ev-text "text a note" open=false`,
		`      evidence ev ev-image "image shot.png" open=false`,
		`      evidence ev ev-file "file blob.bin" open=false`,
		`    step "Then a step nobody wrote" undefined`,
	}
	if got, w := strings.Join(outline, "\n"), strings.Join(want, "\n"); got != w {
		t.Errorf("outline:\n%s\n\nwant:\n%s", got, w)
	}

	totals := root.first("p", "totals").text()
	for _, w := range []string{"2 features", "4 scenarios: 1 passed 1 failed 1 skipped 1 undefined", "8 steps: 4 passed 1 failed 2 skipped 1 undefined", "time in steps 8.0 ms", "generated Fri, 02 Jan 2026 03:04:05 UTC"} {
		if !strings.Contains(totals, w) {
			t.Errorf("totals %q lack %q", totals, w)
		}
	}
	if got := root.first("title", "").text(); got != "Hubspec report: failed" {
		t.Errorf("title %q", got)
	}
}

// TestHTMLReportEvidence checks what the evidence shows once opened:
// decoded, pretty-printed bodies, the MQTT line, the twin, images inline,
// files as downloads.
func TestHTMLReportEvidence(t *testing.T) {
	page := renderFixture(t, fixtureReport(t))
	root := parseHTML(t, page)
	evidence := map[string]*node{}
	for _, ev := range root.all("details", "ev") {
		evidence[ev.attr["class"]+" "+ev.first("summary", "").text()] = ev
	}
	text := func(key string) string {
		t.Helper()
		for k, n := range evidence {
			if strings.HasPrefix(k, key) {
				return n.raw()
			}
		}
		t.Fatalf("no evidence %q", key)
		return ""
	}
	for key, wants := range map[string][]string{
		"ev ev-http http PUT": {"Request", "PUT https://h/devices/d1?sig=***", "Authorization: SharedAccessSignature sr=h&sig=***&se=1",
			"Accept: application/json, text/plain", "\"primaryKey\": \"***\"", "Response 200 OK", "Etag: \"e1\"", "{\n  \"deviceId\": \"d1\",\n  \"etag\": \"e1\"\n}"},
		"ev ev-http http GET": {"Response 200 OK", "The body is the twin shown below in “twin of module \"m\" as GET returned it”."},
		"ev ev-mqtt":          {"⇠ received module \"m\" $iothub/twin/PATCH/properties/desired/?$version=2 QoS 0", "\"mode\": \"eco\""},
		"ev ev-twin":          {"twin of module \"m\"", "\"desired\": {\n      \"primaryKey\": \"***\""},
		"ev ev-text":          {"HostName=h;SharedAccessKey=***"},
		"ev ev-file":          {"download blob.bin"},
		"ev ev-unreadable unreadable broken json": {`{"kind":`},
	} {
		got := text(key)
		for _, w := range wants {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", key, got, w)
			}
		}
	}
	if src := root.first("img", "").attr["src"]; src != "data:image/png;base64,"+png1x1 {
		t.Errorf("image src %q", src)
	}
	href := root.first("a", "").attr["href"]
	blob, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(href, "data:application/octet-stream;base64,"))
	if err != nil || string(blob) != "sig=***" {
		t.Errorf("download %q: %q, %v; want the redacted text as bytes", href, blob, err)
	}
	for _, secret := range []string{"abc", "secret1", "secret2", "xyz", "zzz", b64("sig=zzz")} {
		if strings.Contains(page, secret) {
			t.Errorf("the page holds the secret %q", secret)
		}
	}
}

// TestHTMLReportIsSelfContained: html/template escapes every text, the
// page's own script is the only one, and nothing is fetched from elsewhere.
func TestHTMLReportIsSelfContained(t *testing.T) {
	page := renderFixture(t, fixtureReport(t))
	if strings.Contains(page, "<script>alert") || !strings.Contains(page, "Escaped &lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the scenario name is not escaped")
	}
	if n := strings.Count(page, "<script"); n != 1 {
		t.Errorf("%d script elements, want the page's own one", n)
	}
	for _, m := range regexp.MustCompile(`(?i)(?:src|href)="([^"]*)"|url\(|@import|<link`).FindAllStringSubmatch(page, -1) {
		if !strings.HasPrefix(m[1], "data:") {
			t.Errorf("the page refers to %q", m[0])
		}
	}
}

// TestHTMLReportCapsLongTexts: a body larger than maxShown is cut, and the
// page says how much is left out; the body is in the page once.
func TestHTMLReportCapsLongTexts(t *testing.T) {
	body := strings.Repeat("é", maxShown) // two bytes each
	ev := fmt.Sprintf(`{"kind":"mqtt","title":"big","mqtt":{"client":"c","direction":"sent","topic":"t","payload":%q}}`, body)
	data, _ := json.Marshal([]map[string]any{{"name": "F", "elements": []map[string]any{{"name": "S", "steps": []map[string]any{
		step("Given ", "a big payload", "passed", map[string]any{"embeddings": []map[string]any{
			embedding("big", steps.EvidenceMediaType, b64(ev))}}),
	}}}}})
	page := renderFixture(t, data)
	if !strings.Contains(page, fmt.Sprintf("… %d more bytes not shown", maxShown)) {
		t.Error("no note of the bytes left out")
	}
	if len(page) > maxShown+20<<10 {
		t.Errorf("the page has %d bytes for a payload cut at %d", len(page), maxShown)
	}
}

func TestHTMLReportRejectsWhatIsNotCucumberJSON(t *testing.T) {
	for _, in := range []string{"", "{}", `[{"elements": 3}]`, "<html>"} {
		if err := writeHTMLReport(io.Discard, []byte(in), time.Now()); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
	if page := renderFixture(t, []byte("[]")); !strings.Contains(page, "This report holds no scenarios.") {
		t.Error("an empty report does not say so")
	}
}
