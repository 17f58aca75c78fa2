package steps

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"

	"github.com/hubspec/hubspec/harness"
)

func testLog() *evidenceLog {
	return &evidenceLog{sc: &harness.Scenario{Run: &harness.Run{Prefix: "hsabc"}, ID: "0a1b2c3d"}}
}

// TestEvidenceIsBounded: a body is cut at 64 KiB on a character boundary
// with the size of the rest, and a step keeps 200 items, then says how
// many it left out.
func TestEvidenceIsBounded(t *testing.T) {
	big := strings.Repeat("é", maxEvidenceText) // two bytes each
	got := capText(big)
	kept, marker, ok := strings.Cut(got, "… (")
	if !ok || len(kept) > maxEvidenceText || !strings.HasPrefix(big, kept) || marker != "65536 bytes more)" {
		t.Errorf("capText kept %d bytes, marker %q", len(kept), marker)
	}
	if s := strings.Repeat("x", maxEvidenceText); capText(s) != s {
		t.Error("capText cut a text that fits")
	}

	l := testLog()
	observe := l.mqtt(`module "m"`)
	for range maxEvidenceItems + 50 {
		observe(device.Event{At: time.Now(), Kind: device.EventSent, Topic: "t", Payload: big})
	}
	atts := l.take()
	if len(atts) != maxEvidenceItems+1 {
		t.Fatalf("%d attachments, want %d", len(atts), maxEvidenceItems+1)
	}
	last := atts[len(atts)-1]
	if last.MediaType != "text/plain" || !strings.HasPrefix(string(last.Body), "50 more evidence items") {
		t.Errorf("last attachment %s %q", last.MediaType, last.Body)
	}
	if len(l.take()) != 0 {
		t.Error("take left items behind")
	}
}

// TestEvidenceOrderAndTwins: items come in the order things happened
// (an exchange dated when it began), a twin exchange adds the twin it
// returned under the feature's alias, and a non-twin or failed one does not.
func TestEvidenceOrderAndTwins(t *testing.T) {
	l := testLog()
	start := time.Now()
	twin := `{"deviceId":"hsabc-sensor-0a1b2c3d","moduleId":"hsabc-filter-0a1b2c3d","properties":{"desired":{"$version":2}}}`
	l.mqtt(`module "filter"`)(device.Event{At: start.Add(time.Millisecond), Kind: device.EventReceived, Topic: "$iothub/twin/PATCH/properties/desired/?$version=2"})
	l.http(service.HTTPExchange{Method: "PATCH", URL: "https://h/twins/hsabc-sensor-0a1b2c3d/modules/hsabc-filter-0a1b2c3d?api-version=1",
		Status: 200, ResponseBody: twin, Start: start, Duration: 2 * time.Millisecond})
	l.http(service.HTTPExchange{Method: "GET", URL: "https://h/twins/other%2Fdevice?api-version=1", Status: 200, ResponseBody: `{}`, Start: start.Add(3 * time.Millisecond)})
	l.http(service.HTTPExchange{Method: "GET", URL: "https://h/twins/d?api-version=1", Status: 404, ResponseBody: `{}`, Start: start.Add(4 * time.Millisecond)})
	l.http(service.HTTPExchange{Method: "GET", URL: "https://h/devices/d?api-version=1", Status: 200, ResponseBody: `{}`, Start: start.Add(5 * time.Millisecond)})

	var kinds, titles []string
	var snapshots []TwinEvidence
	for _, a := range l.take() {
		var it struct {
			Kind  string        `json:"kind"`
			Title string        `json:"title"`
			Twin  *TwinEvidence `json:"twin"`
		}
		if err := json.Unmarshal(a.Body, &it); err != nil || a.MediaType != EvidenceMediaType || a.FileName != it.Title {
			t.Fatalf("attachment %q %s: %v", a.FileName, a.Body, err)
		}
		kinds, titles = append(kinds, it.Kind), append(titles, it.Title)
		if it.Twin != nil {
			snapshots = append(snapshots, *it.Twin)
		}
	}
	if got := strings.Join(kinds, " "); got != "http mqtt twin http twin http http" {
		t.Errorf("kinds %s, titles %q", got, titles)
	}
	if len(snapshots) != 2 || snapshots[0].Identity != `module "filter" on device "sensor"` || string(snapshots[0].Document) != twin ||
		snapshots[1].Identity != `device "other/device"` {
		t.Errorf("twin snapshots %+v", snapshots)
	}
	// Titles name identities by the feature's aliases; the URL with the
	// hub ids is in the item.
	if want := "PATCH /twins/sensor/modules/filter → 200 (2.0 ms)"; titles[0] != want {
		t.Errorf("title %q, want %q", titles[0], want)
	}
	if want := "GET /twins/other%2Fdevice → 200 (0.0 ms)"; titles[3] != want {
		t.Errorf("title %q, want %q", titles[3], want)
	}
}

// TestEvidenceContract: each body has exactly the members the report reads,
// only its kind's member, and MQTT's own event kinds map onto the five
// directions of the contract.
func TestEvidenceContract(t *testing.T) {
	l := testLog()
	now := time.Now()
	l.http(service.HTTPExchange{Method: "GET", URL: "https://h/devices/d", Start: now, Err: "connection refused"})
	observe := l.mqtt(`device "d"`)
	observe(device.Event{At: now.Add(1), Kind: device.EventConnect, Username: "u", Password: "SharedAccessSignature sr=h&sig=***&se=1", Detail: "CONNACK 5 (Connection Refused: Not Authorised)"})
	observe(device.Event{At: now.Add(2), Kind: device.EventUnsubscribe, Topic: "$iothub/twin/res/#"})
	observe(device.Event{At: now.Add(3), Kind: device.EventConnectionLost, Detail: "EOF"})
	want := []struct{ kind, members, direction, title string }{
		{"http", "at http kind title", "", "GET /devices/d → error (0.0 ms)"},
		{"mqtt", "at kind mqtt title", "connect", `device "d" connects → CONNACK 5 (Connection Refused: Not Authorised)`},
		{"mqtt", "at kind mqtt title", "subscribe", `device "d" unsubscribes from $iothub/twin/res/#`},
		{"mqtt", "at kind mqtt title", "disconnect", `device "d" loses its connection: EOF`},
	}
	atts := l.take()
	if len(atts) != len(want) {
		t.Fatalf("%d attachments, want %d", len(atts), len(want))
	}
	for i, a := range atts {
		var body map[string]any
		if err := json.Unmarshal(a.Body, &body); err != nil {
			t.Fatal(err)
		}
		members := slices.Sorted(maps.Keys(body))
		if strings.Join(members, " ") != want[i].members || body["kind"] != want[i].kind || body["title"] != want[i].title {
			t.Errorf("item %d: members %v, kind %v, title %q; want %+v", i, members, body["kind"], body["title"], want[i])
		}
		if m, ok := body["mqtt"].(map[string]any); ok {
			if keys := strings.Join(slices.Sorted(maps.Keys(m)), " "); keys != "client detail direction payload qos topic" || m["direction"] != want[i].direction {
				t.Errorf("item %d: mqtt members %s, direction %v", i, keys, m["direction"])
			}
		}
		if h, ok := body["http"].(map[string]any); ok && len(h) != 9 {
			t.Errorf("item %d: http has %d members, want 9: %v", i, len(h), h)
		}
	}
}
