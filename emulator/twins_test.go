package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// stepClock is a registry clock the test moves by hand.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// twinView is a REST twin decoded for assertions.
type twinView struct {
	ETag       string         `json:"etag"`
	Version    int64          `json:"version"`
	Tags       map[string]any `json:"tags"`
	Properties struct {
		Desired  map[string]any `json:"desired"`
		Reported map[string]any `json:"reported"`
	} `json:"properties"`
}

func getTwinView(t *testing.T, reg *registry, d, m string) twinView {
	t.Helper()
	doc, err := reg.getTwin(d, m)
	if err != nil {
		t.Fatalf("get twin %s: %v", identityName(d, m), err)
	}
	var v twinView
	dec := json.NewDecoder(bytes.NewReader(doc.body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode twin: %v\n%s", err, doc.body)
	}
	if v.ETag != doc.etag {
		t.Errorf("twin body etag %q != header etag %q", v.ETag, doc.etag)
	}
	return v
}

// values is a section without $metadata and $version, as canonical JSON.
func values(section map[string]any) string {
	m := map[string]any{}
	for k, v := range section {
		if !strings.HasPrefix(k, "$") {
			m[k] = v
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func newTwinRegistry(t *testing.T) (*registry, *stepClock, *eventLog) {
	t.Helper()
	clock := &stepClock{now: t0}
	reg := newRegistry(clock.Now)
	log := &eventLog{}
	reg.setEvents(log.events())
	mustPutDevice(t, reg, "myFirstDevice", `{}`)
	mustPutModule(t, reg, "myFirstDevice", "myFirstModule", `{}`)
	return reg, clock, log
}

// TestTutorialTwin follows the seed tutorial's module twin and compares the
// wire bytes with the shape of real twins (the fidelity table's "Fresh
// twin", "Counters" and "Twin JSON" rows).
func TestTutorialTwin(t *testing.T) {
	reg, _, log := newTwinRegistry(t)
	m, _ := reg.getModule("myFirstDevice", "myFirstModule")
	const head = `{"deviceId":"myFirstDevice","moduleId":"myFirstModule","etag":"%s","deviceEtag":"%s","status":"enabled","statusUpdateTime":"0001-01-01T00:00:00Z","connectionState":"Disconnected","lastActivityTime":"0001-01-01T00:00:00Z","cloudToDeviceMessageCount":0,"authenticationType":"sas","x509Thumbprint":{"primaryThumbprint":null,"secondaryThumbprint":null},"modelId":"","version":%d,"properties":{"desired":{%s"$metadata":{"$lastUpdated":"2025-01-01T00:00:00.0000000Z","$lastUpdatedVersion":%d%s},"$version":%d},"reported":{"$metadata":{"$lastUpdated":"2025-01-01T00:00:00.0000000Z"},"$version":1}}}`

	doc, err := reg.getTwin("myFirstDevice", "myFirstModule")
	want := fmt.Sprintf(head, "AAAAAAAAAAE=", m.ETag, 2, "", 1, "", 1)
	if err != nil || string(doc.body) != want || doc.etag != "AAAAAAAAAAE=" {
		t.Fatalf("fresh twin:\n got %s\nwant %s", doc.body, want)
	}

	doc, err = reg.patchTwin("myFirstDevice", "myFirstModule", []byte(`{"properties":{"desired":{"telemetryInterval":122}}}`), parseIfMatch(`"AAAAAAAAAAE="`))
	want = fmt.Sprintf(head, "AAAAAAAAAAI=", m.ETag, 3, `"telemetryInterval":122,`, 2,
		`,"telemetryInterval":{"$lastUpdated":"2025-01-01T00:00:00.0000000Z","$lastUpdatedVersion":2}`, 2)
	if err != nil || string(doc.body) != want {
		t.Fatalf("patched twin (err %v):\n got %s\nwant %s", err, doc.body, want)
	}
	if desired, _ := log.take(); len(desired) != 1 || desired[0] != `myFirstDevice/myFirstModule v=2 {"telemetryInterval":122,"$version":2}` {
		t.Errorf("DesiredChanged = %q", desired)
	}
	sections, err := reg.twinSections("myFirstDevice", "myFirstModule")
	if want := `{"desired":{"telemetryInterval":122,"$version":2},"reported":{"$version":1}}`; err != nil || string(sections) != want {
		t.Errorf("twinSections = %s, %v; want %s", sections, err, want)
	}
}

func TestPatchTwinSequence(t *testing.T) {
	reg, _, log := newTwinRegistry(t)
	const d, m = "myFirstDevice", "myFirstModule"
	steps := []struct {
		name, body         string
		desired, tags      string
		dv, version, etagN int64
		notify             string // "" = no DesiredChanged
	}{
		{"set", `{"properties":{"desired":{"a":1,"b":{"c":"x","d":true}}}}`, `{"a":1,"b":{"c":"x","d":true}}`, `{}`, 2, 3, 2,
			`v=2 {"a":1,"b":{"c":"x","d":true},"$version":2}`},
		{"null deletes", `{"properties":{"desired":{"b":{"c":null},"a":null}}}`, `{"b":{"d":true}}`, `{}`, 3, 4, 3,
			`v=3 {"a":null,"b":{"c":null},"$version":3}`},
		{"nulls for missing keys create nothing", `{"properties":{"desired":{"x":null,"y":{"z":null}}}}`, `{"b":{"d":true}}`, `{}`, 4, 5, 4,
			`v=4 {"x":null,"y":{"z":null},"$version":4}`},
		{"tags only", `{"tags":{"env":"prod"}}`, `{"b":{"d":true}}`, `{"env":"prod"}`, 4, 6, 5, ""},
		{"tags and desired bump once", `{"tags":{"env":null,"site":{"room":7}},"properties":{"desired":{"k":[1,"two",{"three":3}]}}}`,
			`{"b":{"d":true},"k":[1,"two",{"three":3}]}`, `{"site":{"room":7}}`, 5, 7, 6, `v=5 {"k":[1,"two",{"three":3}],"$version":5}`},
		{"empty body changes nothing", `{}`, `{"b":{"d":true},"k":[1,"two",{"three":3}]}`, `{"site":{"room":7}}`, 5, 7, 6, ""},
		{"empty sections change nothing", `{"tags":{},"properties":{"desired":{}}}`, `{"b":{"d":true},"k":[1,"two",{"three":3}]}`, `{"site":{"room":7}}`, 5, 7, 6, ""},
		{"C# full twin: read-only fields, $metadata, $version and reported ignored",
			`{"deviceId":"x","etag":"zzz","version":99,"properties":{"desired":{"n":1,"$metadata":{"$lastUpdated":"x"},"$version":5},"reported":{"r":1,"$version":9}}}`,
			`{"b":{"d":true},"k":[1,"two",{"three":3}],"n":1}`, `{"site":{"room":7}}`, 6, 8, 7, `v=6 {"n":1,"$version":6}`},
		{"same value still bumps", `{"properties":{"desired":{"n":1}}}`, `{"b":{"d":true},"k":[1,"two",{"three":3}],"n":1}`, `{"site":{"room":7}}`, 7, 9, 8,
			`v=7 {"n":1,"$version":7}`},
		{"object replaced by scalar", `{"properties":{"desired":{"b":5,"k":{"new":{}}}}}`, `{"b":5,"k":{"new":{}},"n":1}`, `{"site":{"room":7}}`, 8, 10, 9,
			`v=8 {"b":5,"k":{"new":{}},"$version":8}`},
	}
	for _, s := range steps {
		doc, err := reg.patchTwin(d, m, []byte(s.body), precondition{})
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		tw := getTwinView(t, reg, d, m)
		if got := values(tw.Properties.Desired); got != s.desired {
			t.Errorf("%s: desired = %s, want %s", s.name, got, s.desired)
		}
		if got := values(tw.Tags); got != s.tags {
			t.Errorf("%s: tags = %s, want %s", s.name, got, s.tags)
		}
		if dv := hub.SectionVersion(tw.Properties.Desired); dv != s.dv || tw.Version != s.version || tw.ETag != (&twinState{etag: uint64(s.etagN)}).etagString() || doc.etag != tw.ETag {
			t.Errorf("%s: desired $version %d, version %d, etag %s; want %d, %d, %d", s.name, dv, tw.Version, tw.ETag, s.dv, s.version, s.etagN)
		}
		desired, _ := log.take()
		want := []string(nil)
		if s.notify != "" {
			want = []string{d + "/" + m + " " + s.notify}
		}
		if strings.Join(desired, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: DesiredChanged = %q, want %q", s.name, desired, want)
		}
	}
	if tw := getTwinView(t, reg, d, m); hub.SectionVersion(tw.Properties.Reported) != 1 || values(tw.Properties.Reported) != `{}` {
		t.Errorf("service writes touched reported: %v", tw.Properties.Reported)
	}

	// A stale etag is 412 and changes nothing; an unquoted one is ignored.
	before := getTwinView(t, reg, d, m)
	_, err := reg.patchTwin(d, m, []byte(`{"properties":{"desired":{"z":1}}}`), parseIfMatch(`"AAAAAAAAAAE="`))
	wantHubError(t, err, hub.ErrPreconditionFailed)
	if after := getTwinView(t, reg, d, m); after.ETag != before.ETag || values(after.Properties.Desired) != values(before.Properties.Desired) {
		t.Error("a 412 PATCH changed the twin")
	}
	_, err = reg.patchTwin(d, m, []byte(`{"properties":{"desired":{"z":1}}}`), parseIfMatch(`AAAAAAAAAAE=`))
	wantHubError(t, err, nil)
}

func TestTwinMetadata(t *testing.T) {
	reg, clock, _ := newTwinRegistry(t)
	const d = "myFirstDevice"
	patch := func(body string) {
		t.Helper()
		clock.Advance(time.Second)
		if _, err := reg.patchTwin(d, "", []byte(body), precondition{}); err != nil {
			t.Fatal(err)
		}
	}
	patch(`{"properties":{"desired":{"a":1,"b":{"c":1,"d":2}}}}`) // v2 at t0+1s
	patch(`{"properties":{"desired":{"b":{"c":5}}}}`)             // v3 at t0+2s
	patch(`{"properties":{"desired":{"b":{"d":null}}}}`)          // v4 at t0+3s
	clock.Advance(time.Second)
	if _, err := reg.patchReported(d, "", []byte(`{"r":{"s":1}}`)); err != nil { // at t0+4s
		t.Fatal(err)
	}
	tw := getTwinView(t, reg, d, "")
	ts := func(s int) string { return t0.Add(time.Duration(s) * time.Second).Format(hub.MetadataTimeFormat) }
	wantDesired := fmt.Sprintf(`{"$lastUpdated":%q,"$lastUpdatedVersion":4,"a":{"$lastUpdated":%q,"$lastUpdatedVersion":2},"b":{"$lastUpdated":%q,"$lastUpdatedVersion":4,"c":{"$lastUpdated":%q,"$lastUpdatedVersion":3}}}`,
		ts(3), ts(1), ts(3), ts(2))
	if got, _ := json.Marshal(tw.Properties.Desired["$metadata"]); string(got) != wantDesired {
		t.Errorf("desired $metadata\n got %s\nwant %s", got, wantDesired)
	}
	wantReported := fmt.Sprintf(`{"$lastUpdated":%q,"r":{"$lastUpdated":%q,"s":{"$lastUpdated":%q}}}`, ts(4), ts(4), ts(4))
	if got, _ := json.Marshal(tw.Properties.Reported["$metadata"]); string(got) != wantReported {
		t.Errorf("reported $metadata\n got %s\nwant %s", got, wantReported)
	}
}

func TestReplaceTwin(t *testing.T) {
	reg, _, log := newTwinRegistry(t)
	const d = "myFirstDevice"
	if _, err := reg.patchTwin(d, "", []byte(`{"tags":{"t":1},"properties":{"desired":{"a":1,"b":{"c":1,"d":2},"e":3}}}`), precondition{}); err != nil {
		t.Fatal(err)
	}
	log.take()
	_, err := reg.replaceTwin(d, "", []byte(`{"tags":{"u":2},"properties":{"desired":{"a":1,"b":{"c":2},"f":null}}}`), parseIfMatch(`"AAAAAAAAAAI="`))
	wantHubError(t, err, nil)
	tw := getTwinView(t, reg, d, "")
	if values(tw.Tags) != `{"u":2}` || values(tw.Properties.Desired) != `{"a":1,"b":{"c":2}}` || tw.Version != 4 || hub.SectionVersion(tw.Properties.Desired) != 3 || tw.ETag != "AAAAAAAAAAM=" {
		t.Errorf("after replace: %+v", tw)
	}
	if desired, _ := log.take(); len(desired) != 1 || desired[0] != `myFirstDevice v=3 {"b":{"c":2,"d":null},"e":null,"$version":3}` {
		t.Errorf("DesiredChanged = %q", desired)
	}
	meta := tw.Properties.Desired["$metadata"].(map[string]any)
	if a := meta["a"].(map[string]any); a["$lastUpdatedVersion"] != json.Number("2") {
		t.Errorf("unchanged member's metadata was rewritten: %v", a)
	}
	// A PUT without sections empties both.
	if _, err := reg.replaceTwin(d, "", []byte(`{}`), parseIfMatch("*")); err != nil {
		t.Fatal(err)
	}
	if tw := getTwinView(t, reg, d, ""); tw.Tags != nil || values(tw.Properties.Desired) != `{}` {
		t.Errorf("after empty replace: tags %v desired %v", tw.Tags, tw.Properties.Desired)
	}
	_, err = reg.replaceTwin(d, "", []byte(`{}`), parseIfMatch(`"AAAAAAAAAAI="`))
	wantHubError(t, err, hub.ErrPreconditionFailed)
}

func TestPatchReported(t *testing.T) {
	reg, _, log := newTwinRegistry(t)
	const d, m = "myFirstDevice", "myFirstModule"
	v, err := reg.patchReported(d, m, []byte(`{"temp":21.5,"fw":{"v":"1.0"}}`))
	if err != nil || v != 2 {
		t.Fatalf("patchReported = %d, %v", v, err)
	}
	v, err = reg.patchReported(d, m, []byte(`{"fw":null}`))
	if err != nil || v != 3 {
		t.Fatalf("patchReported = %d, %v", v, err)
	}
	tw := getTwinView(t, reg, d, m)
	if tw.ETag != "AAAAAAAAAAE=" || tw.Version != 4 || values(tw.Properties.Reported) != `{"temp":21.5}` {
		t.Errorf("after reported patches: %+v", tw)
	}
	if desired, _ := log.take(); len(desired) != 0 {
		t.Errorf("reported patch fired DesiredChanged: %v", desired)
	}
	sections, _ := reg.twinSections(d, m)
	if want := `{"desired":{"$version":1},"reported":{"temp":21.5,"$version":3}}`; string(sections) != want {
		t.Errorf("twinSections = %s, want %s", sections, want)
	}
	for body, want := range map[string]*hub.Error{
		`{"$version":3}`: hub.ErrArgumentInvalid, `{"a":{"$x":1}}`: hub.ErrArgumentInvalid,
		`[1]`: hub.ErrArgumentInvalid, `"x"`: hub.ErrArgumentInvalid, `null`: hub.ErrArgumentInvalid,
		`{`: hub.ErrIotHubFormatError, ``: hub.ErrIotHubFormatError, ` `: hub.ErrIotHubFormatError,
		`{} {}`: hub.ErrIotHubFormatError, `{"a":1}x`: hub.ErrIotHubFormatError, `{'a':1}`: hub.ErrIotHubFormatError,
	} {
		_, err := reg.patchReported(d, m, []byte(body))
		if !errIs(err, want) {
			t.Errorf("patchReported(%q) = %v, want %s", body, err, want.StatusText())
		}
	}
	if after := getTwinView(t, reg, d, m); after.Version != 4 {
		t.Errorf("rejected patches changed the twin version to %d", after.Version)
	}
	_, err = reg.patchReported(d, "ghost", []byte(`{}`))
	wantHubError(t, err, hub.ErrModuleNotFound)
	_, err = reg.twinSections("ghost", "")
	wantHubError(t, err, hub.ErrDeviceNotFound)
}

func errIs(err error, want *hub.Error) bool {
	e, ok := hub.AsError(err)
	return ok && e.Code == want.Code && e.StatusCode == want.StatusCode
}

// TestDesiredEventsInVersionOrder patches one twin from many goroutines:
// events must arrive with strictly increasing versions.
func TestDesiredEventsInVersionOrder(t *testing.T) {
	reg, _, _ := newTwinRegistry(t)
	var mu sync.Mutex
	var versions []int64
	reg.setEvents(registryEvents{DesiredChanged: func(_, _ string, _ []byte, v int64, _ bool) {
		mu.Lock()
		versions = append(versions, v)
		mu.Unlock()
	}})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			_, _ = reg.patchTwin("myFirstDevice", "", []byte(fmt.Sprintf(`{"properties":{"desired":{"k%d":%d}}}`, i, i)), precondition{})
			_, _ = reg.patchReported("myFirstDevice", "", []byte(`{"r":1}`))
		})
	}
	wg.Wait()
	if len(versions) != 20 {
		t.Fatalf("%d events, want 20", len(versions))
	}
	for i, v := range versions {
		if v != int64(i)+2 {
			t.Fatalf("event versions %v are not 2..21 in order", versions)
		}
	}
}

// TestTwinSnapshotSharesNothing: a twin is rendered from a copy taken under
// the registry lock, so a snapshot keeps what it saw while the state moves
// on, and rendering needs no lock (-race checks the concurrent half).
func TestTwinSnapshotSharesNothing(t *testing.T) {
	reg, _, _ := newTwinRegistry(t)
	const d, m = "myFirstDevice", "myFirstModule"
	if _, err := reg.patchTwin(d, m, []byte(`{"tags":{"a":{"b":1}},"properties":{"desired":{"x":{"y":1}}}}`), precondition{}); err != nil {
		t.Fatal(err)
	}
	var snap twinSnapshot
	_ = reg.locked(func() error {
		dev, st, err := reg.findIdentity(d, m)
		snap = snapshotTwin(dev, st, m)
		return err
	})
	before, err := renderTwin(snap)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 20 {
			body := fmt.Sprintf(`{"tags":{"a":{"b":%d}},"properties":{"desired":{"x":{"y":%d},"z":null}}}`, i, i)
			if _, err := reg.patchTwin(d, m, []byte(body), precondition{}); err != nil {
				t.Error(err)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for range 20 {
			if _, err := reg.getTwin(d, m); err != nil {
				t.Error(err)
			}
			if _, err := reg.twinSections(d, m); err != nil {
				t.Error(err)
			}
			if _, err := renderTwin(snap); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
	after, err := renderTwin(snap)
	if err != nil || !bytes.Equal(before.body, after.body) || before.etag != after.etag {
		t.Fatalf("the snapshot changed with the state (err %v):\nbefore %s\nafter  %s", err, before.body, after.body)
	}
}

// TestDesiredEventSaysWhetherOnline: the event of a desired change says
// whether the identity was connected when the change was made, so a change
// made while it was offline is never pushed to a connection opened after it
// (the push goes out later, from the server's event queue).
func TestDesiredEventSaysWhetherOnline(t *testing.T) {
	reg, _, _ := newTwinRegistry(t)
	var online []bool
	reg.setEvents(registryEvents{DesiredChanged: func(_, _ string, _ []byte, _ int64, o bool) { online = append(online, o) }})
	patch := []byte(`{"properties":{"desired":{"k":1}}}`)
	if _, err := reg.patchTwin("myFirstDevice", "myFirstModule", patch, precondition{}); err != nil {
		t.Fatal(err)
	}
	reg.setConnected("myFirstDevice", "myFirstModule", true)
	if _, err := reg.patchTwin("myFirstDevice", "myFirstModule", patch, precondition{}); err != nil {
		t.Fatal(err)
	}
	reg.setConnected("myFirstDevice", "myFirstModule", false)
	if _, err := reg.replaceTwin("myFirstDevice", "myFirstModule", []byte(`{}`), precondition{}); err != nil {
		t.Fatal(err)
	}
	if want := []bool{false, true, false}; !slices.Equal(online, want) {
		t.Fatalf("online = %v, want %v", online, want)
	}
}
