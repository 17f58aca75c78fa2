package steps

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/harness"
)

// Evidence: what each step sent to the hub and what came back, attached to
// the step in godog's report so that a reader of a failed run sees the
// traffic, not only the error. The hub clients hand it over redacted (see
// service.WithObserver, device.WithObserver); this file shapes it.
//
// The contract with the report (keep it exactly): one godog.Attachment per
// item, in the order things happened, with MediaType EvidenceMediaType,
// FileName the item's one-line title, and Body one JSON object
//
//	{"kind": "http"|"mqtt"|"twin", "title": …, "at": RFC 3339 with ns,
//	 "http": {"method", "url", "requestHeaders": {name: value}, "requestBody",
//	          "status", "responseHeaders": {name: value}, "responseBody",
//	          "durationMs", "error"},
//	 "mqtt": {"client": `module "filter"`, "direction": "sent"|"received"|
//	          "connect"|"subscribe"|"disconnect", "topic", "qos", "payload", "detail"},
//	 "twin": {"identity": `module "filter"`, "document": {the twin}}}
//
// with only the member of its kind present. Twin snapshots are items of
// their own: every twin GET, PATCH or PUT the service makes that the hub
// answers 200 is followed by a "twin" item holding the document it
// returned, so a report can show the twin step by step without parsing
// URLs. An unsubscribe is direction "subscribe" with a detail beginning
// "unsubscribe"; a lost connection is "disconnect" with detail
// "connection lost: …"; a connect's detail holds the username, the
// password (signature masked) and the CONNACK.
//
// Memory is bounded: bodies and payloads are cut at maxEvidenceText with a
// "… (N bytes more)" marker (a twin too large for that gets no twin item),
// and a step keeps at most maxEvidenceItems items; the rest are counted and
// reported in one text/plain attachment after them.
const (
	EvidenceMediaType = "application/vnd.hubspec.evidence+json"
	maxEvidenceText   = 64 << 10
	maxEvidenceItems  = 200
)

// EvidenceMediaType marks an evidence attachment; Evidence is its Body.
// The report renderer (cmd/hubspec) decodes these same types, so the
// contract has one definition.

// Evidence is one item of a step's evidence: an HTTP exchange, an MQTT
// event or a twin snapshot, with only the member of its Kind set.
type Evidence struct {
	when  time.Time     // At as a time, to order items by
	Kind  string        `json:"kind"`
	Title string        `json:"title"`
	At    string        `json:"at"`
	HTTP  *HTTPEvidence `json:"http,omitempty"`
	MQTT  *MQTTEvidence `json:"mqtt,omitempty"`
	Twin  *TwinEvidence `json:"twin,omitempty"`
}

// HTTPEvidence is one HTTP attempt, headers flattened to one value each.
type HTTPEvidence struct {
	Method          string            `json:"method"`
	URL             string            `json:"url"`
	RequestHeaders  map[string]string `json:"requestHeaders"`
	RequestBody     string            `json:"requestBody"`
	Status          int               `json:"status"`
	ResponseHeaders map[string]string `json:"responseHeaders"`
	ResponseBody    string            `json:"responseBody"`
	DurationMs      float64           `json:"durationMs"`
	Error           string            `json:"error"`
}

// MQTTEvidence is one MQTT event of a client the feature names by alias.
type MQTTEvidence struct {
	Client    string `json:"client"`
	Direction string `json:"direction"`
	Topic     string `json:"topic"`
	QoS       int    `json:"qos"`
	Payload   string `json:"payload"`
	Detail    string `json:"detail"`
}

// TwinEvidence is a twin document as the hub returned it.
type TwinEvidence struct {
	Identity string          `json:"identity"`
	Document json.RawMessage `json:"document"`
}

// evidenceLog collects one scenario's evidence until the step ends. MQTT
// events arrive on paho's goroutines, hence the mutex; adding never blocks
// for longer than an append.
type evidenceLog struct {
	sc *harness.Scenario // reads hub ids back into the feature's aliases

	mu    sync.Mutex
	items []Evidence
	left  int // items past maxEvidenceItems, not kept
}

func (l *evidenceLog) add(items ...Evidence) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, it := range items {
		if len(l.items) >= maxEvidenceItems {
			l.left++
			continue
		}
		l.items = append(l.items, it)
	}
}

// take returns the evidence gathered so far as attachments, in the order
// things happened, and starts afresh. An exchange is recorded when it ends
// but dated when it began, so a patch the hub pushed while answering the
// PATCH that caused it comes between the request and the twin it returned.
func (l *evidenceLog) take() []godog.Attachment {
	l.mu.Lock()
	items, left := l.items, l.left
	l.items, l.left = nil, 0
	l.mu.Unlock()
	slices.SortStableFunc(items, func(a, b Evidence) int { return a.when.Compare(b.when) })
	out := make([]godog.Attachment, 0, len(items)+1)
	for _, it := range items {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // bodies stay readable: "<", ">" and "&" as they are
		_ = enc.Encode(it)       // strings, numbers and checked JSON: it cannot fail
		out = append(out, godog.Attachment{Body: bytes.TrimSpace(b.Bytes()), FileName: it.Title, MediaType: EvidenceMediaType})
	}
	if left > 0 {
		msg := fmt.Sprintf("%d more evidence items of this step left out (at most %d are kept)", left, maxEvidenceItems)
		out = append(out, godog.Attachment{Body: []byte(msg), FileName: msg, MediaType: "text/plain"})
	}
	return out
}

// attachEvidence is the after-step hook: the step's evidence goes with it,
// whatever its outcome.
func attachEvidence(ctx context.Context, _ *godog.Step, _ godog.StepResultStatus, _ error) (context.Context, error) {
	w, ok := ctx.Value(worldKey{}).(*world)
	if !ok {
		return ctx, nil // the scenario never started (skipped by its tags)
	}
	if atts := w.evidence.take(); len(atts) > 0 {
		ctx = godog.Attach(ctx, atts...)
	}
	return ctx, nil
}

// dialOptions are the target's dial options and an observer that records
// the connection's traffic as i's evidence.
func (w *world) dialOptions(i ident) []device.Option {
	return append(slices.Clone(w.target.DialOptions()), device.WithObserver(w.evidence.mqtt(i.String())))
}

// http records a registry exchange, and the twin it returned if it is one.
func (l *evidenceLog) http(x service.HTTPExchange) {
	path := x.URL
	if u, err := url.Parse(x.URL); err == nil {
		path = l.aliases(u.EscapedPath())
	}
	outcome := "error"
	if x.Status != 0 {
		outcome = fmt.Sprint(x.Status)
	}
	title := fmt.Sprintf("%s %s → %s (%.1f ms)", x.Method, path, outcome, ms(x.Duration))
	items := []Evidence{{when: x.Start, Kind: "http", Title: title, At: stamp(x.Start), HTTP: &HTTPEvidence{
		Method: x.Method, URL: x.URL,
		RequestHeaders: flatten(x.RequestHeader), RequestBody: capText(x.RequestBody),
		Status: x.Status, ResponseHeaders: flatten(x.ResponseHeader), ResponseBody: capText(x.ResponseBody),
		DurationMs: ms(x.Duration), Error: x.Err,
	}}}
	if tw, ok := l.twinSnapshot(x); ok {
		items = append(items, tw)
	}
	l.add(items...)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// flatten turns headers into one value per name, as a report shows them.
func flatten(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, vs := range h {
		out[k] = strings.Join(vs, ", ")
	}
	return out
}

// capText cuts s at maxEvidenceText (on a character boundary) and says how
// much was left out.
func capText(s string) string {
	if len(s) <= maxEvidenceText {
		return s
	}
	cut := maxEvidenceText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes more)", s[:cut], len(s)-cut)
}
