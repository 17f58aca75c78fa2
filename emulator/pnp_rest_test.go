package emulator

import (
	"strings"
	"testing"

	"github.com/hubspec/hubspec/hub"
)

// The digital twin REST operations on the wire, as PYHUB's
// digital_twin_operations sends them.

const dtPath = "/digitaltwins/d1?api-version=2021-04-12"

// TestDigitalTwinPatchRefusals: every breach of the patch rules is 400
// ArgumentInvalid (IotHubFormatError for a body that is not JSON) and
// changes nothing: not the twin's etag, not its desired $version, and
// nothing is pushed.
func TestDigitalTwinPatchRefusals(t *testing.T) {
	h := newTestHub(t)
	h.createDevice("d1")
	h.wantStatus(h.do("PATCH", "/twins/d1?api-version=2021-04-12", `{"properties":{"desired":{"plain":{"a":1},"thermostat1":{"__t":"c","t":1}}}}`, "If-Match", "*"), 200, nil)
	before := h.do("GET", "/twins/d1?api-version=2021-04-12", "")
	h.log.take()
	for name, body := range map[string]string{
		"an object":                   `{"op":"add","path":"/x","value":1}`,
		"move":                        `[{"op":"move","from":"/a","path":"/x"}]`,
		"test":                        `[{"op":"test","path":"/x","value":1}]`,
		"copy":                        `[{"op":"copy","from":"/a","path":"/x"}]`,
		"no op":                       `[{"path":"/x","value":1}]`,
		"not an object":               `[1]`,
		"no value":                    `[{"op":"add","path":"/x"}]`,
		"the root":                    `[{"op":"add","path":"/","value":1}]`,
		"three levels":                `[{"op":"add","path":"/a/b/c","value":1}]`,
		"no leading slash":            `[{"op":"add","path":"x","value":1}]`,
		"a digit first":               `[{"op":"add","path":"/1x","value":1}]`,
		"an underscore first":         `[{"op":"add","path":"/_x","value":1}]`,
		"an underscore last":          `[{"op":"add","path":"/x_","value":1}]`,
		"a dash":                      `[{"op":"add","path":"/x-y","value":1}]`,
		"65 characters":               `[{"op":"add","path":"/` + strings.Repeat("a", 65) + `","value":1}]`,
		"an array":                    `[{"op":"add","path":"/x","value":[1,2]}]`,
		"an array inside":             `[{"op":"add","path":"/x","value":{"a":{"b":[1]}}}]`,
		"six levels":                  `[{"op":"add","path":"/x","value":{"a":{"b":{"c":{"d":{"e":{"f":1}}}}}}}]`,
		"a field that is no name":     `[{"op":"add","path":"/x","value":{"a-b":1}}]`,
		"a marker that is not empty":  `[{"op":"add","path":"/c","value":{"p":1,"$metadata":{"x":1}}}]`,
		"a component property array":  `[{"op":"add","path":"/c/p","value":[1]}]`,
		"into a property":             `[{"op":"add","path":"/plain/a","value":2}]`,
		"a whole component over one":  `[{"op":"replace","path":"/plain","value":{"a":2,"$metadata":{}}}]`,
		"a property over a component": `[{"op":"add","path":"/thermostat1","value":5}]`,
		"a later operation is bad":    `[{"op":"add","path":"/ok","value":1},{"op":"add","path":"/bad-name","value":1}]`,
	} {
		r := h.do("PATCH", dtPath, body, "If-Match", "*")
		if e := r.hubError(); r.status != 400 || e.Name != hub.ErrArgumentInvalid.Name {
			t.Errorf("%s: got %d %v, want 400 ArgumentInvalid", name, r.status, e)
		}
	}
	if r := h.do("PATCH", dtPath, `[{"op":`); r.status != 400 || r.hubError().Name != hub.ErrIotHubFormatError.Name {
		t.Errorf("not JSON: got %d %s", r.status, r.body)
	}
	after := h.do("GET", "/twins/d1?api-version=2021-04-12", "")
	if string(after.body) != string(before.body) {
		t.Errorf("refused patches changed the twin:\n%s\n%s", before.body, after.body)
	}
	if desired, _ := h.log.take(); len(desired) > 0 {
		t.Errorf("refused patches pushed %v", desired)
	}
}

// TestDigitalTwinPatchAnswer: 202 with no body, a weak ETag and the
// Location; an absent device is 404, a stale etag 412; an empty patch
// changes nothing.
func TestDigitalTwinPatchAnswer(t *testing.T) {
	h := newTestHub(t)
	h.createDevice("d1")
	got := h.do("GET", dtPath, "")
	h.wantStatus(got, 200, nil)
	etag := got.header.Get("ETag")
	if etag != `W/"AAAAAAAAAAE="` {
		t.Errorf("ETag %q", etag)
	}
	r := h.do("PATCH", dtPath, `[]`, "If-Match", etag)
	h.wantStatus(r, 202, nil)
	if r.header.Get("ETag") != etag || len(r.body) != 0 {
		t.Errorf("an empty patch: ETag %q, body %q", r.header.Get("ETag"), r.body)
	}
	r = h.do("PATCH", dtPath, `[{"op":"add","path":"/fanSpeed","value":2}]`, "If-Match", etag)
	h.wantStatus(r, 202, nil)
	if r.header.Get("ETag") != `W/"AAAAAAAAAAI="` || r.header.Get("Location") != "https://"+h.host+"/digitaltwins/d1" {
		t.Errorf("ETag %q, Location %q", r.header.Get("ETag"), r.header.Get("Location"))
	}
	h.wantStatus(h.do("PATCH", dtPath, `[{"op":"remove","path":"/fanSpeed"}]`, "If-Match", etag), 412, hub.ErrPreconditionFailed)
	h.wantStatus(h.do("PATCH", "/digitaltwins/nobody", `[]`), 404, hub.ErrDeviceNotFound)
	h.wantStatus(h.do("GET", "/digitaltwins/nobody", ""), 404, hub.ErrDeviceNotFound)
	// "remove" of a property with no desired value clears nothing and is no fault.
	h.wantStatus(h.do("PATCH", dtPath, `[{"op":"remove","path":"/thermostat9/x"},{"op":"remove","path":"/never"}]`), 202, nil)
}

// TestDigitalTwinOfTheDocs: the device twin of Microsoft's "Understand IoT
// Plug and Play digital twins" renders as that page's digital twin.
func TestDigitalTwinOfTheDocs(t *testing.T) {
	h := newTestHub(t)
	h.createDevice("sample-device")
	h.wantStatus(h.do("PATCH", "/twins/sample-device", `{"properties":{"desired":{"thermostat1":{"__t":"c","targetTemperature":21.8}}}}`), 200, nil)
	if _, err := h.reg.patchReported("sample-device", "", []byte(`{"serialNumber":"alwinexlepaho8329","thermostat1":{"maxTempSinceLastReboot":25.3,"__t":"c","targetTemperature":{"value":21.8,"ac":200,"ad":"Successfully executed patch","av":2}}}`)); err != nil {
		t.Fatal(err)
	}
	r := h.do("GET", "/digitaltwins/sample-device", "")
	h.wantStatus(r, 200, nil)
	ts := t0.UTC().Format(hub.MetadataTimeFormat)
	want := `{"$dtId":"sample-device","serialNumber":"alwinexlepaho8329","thermostat1":{"maxTempSinceLastReboot":25.3,"targetTemperature":21.8,` +
		`"$metadata":{"maxTempSinceLastReboot":{"lastUpdateTime":"` + ts + `"},"targetTemperature":{"ackCode":200,"ackDescription":"Successfully executed patch","ackVersion":2,"desiredValue":21.8,"desiredVersion":2,"lastUpdateTime":"` + ts + `"}}},` +
		`"$metadata":{"serialNumber":{"lastUpdateTime":"` + ts + `"}}}`
	if string(r.body) != want {
		t.Errorf("digital twin\n got %s\nwant %s", r.body, want)
	}
}

// TestCommandRequestRefusals: a command's name, payload and timeouts are
// checked as a direct method's, before anything waits.
func TestCommandRequestRefusals(t *testing.T) {
	h := newTestHub(t)
	h.createDevice("d1")
	for _, c := range map[string]struct{ path, body string }{
		"response timeout 4":  {"/digitaltwins/d1/commands/reboot?responseTimeoutInSeconds=4", `{}`},
		"response timeout x":  {"/digitaltwins/d1/commands/reboot?responseTimeoutInSeconds=x", `{}`},
		"connect timeout 301": {"/digitaltwins/d1/components/c/commands/reboot?connectTimeoutInSeconds=301", `{}`},
		"a name with $":       {"/digitaltwins/d1/commands/re$boot", `{}`},
	} {
		h.wantStatus(h.do("POST", c.path, c.body), 400, hub.ErrArgumentInvalid)
	}
	h.wantStatus(h.do("POST", "/digitaltwins/d1/commands/reboot", `{"a":`), 400, hub.ErrIotHubFormatError)
	h.wantStatus(h.do("POST", "/digitaltwins/nobody/commands/reboot", `{}`), 404, hub.ErrDeviceNotFound)
	// Without an MQTT side nothing is online: the call is the method's 404.
	h.wantStatus(h.do("POST", "/digitaltwins/d1/components/thermostat1/commands/reboot", `{}`), 404, hub.ErrDeviceNotOnline)
}

// FuzzDigitalTwinPatch: no patch body makes the parser or its translation
// panic, and every patch it accepts translates into a desired patch the twin
// rules accept or refuse with a hub error.
func FuzzDigitalTwinPatch(f *testing.F) {
	for _, s := range []string{`[]`, `[{"op":"add","path":"/c/p","value":{"a":1}}]`, `[{"op":"replace","path":"/c","value":{"p":1,"$metadata":{}}}]`, `[{"op":"remove","path":"/c"}]`, `[{"op":"add","path":"/~1","value":1}]`} {
		f.Add([]byte(s))
	}
	desired := map[string]any{"c": map[string]any{"__t": "c", "p": 1.0}, "plain": 2.0}
	f.Fuzz(func(t *testing.T, body []byte) {
		ops, err := parseDigitalTwinPatch(body)
		if err != nil {
			if _, ok := hub.AsError(err); !ok {
				t.Fatalf("not a hub error: %v", err)
			}
			return
		}
		patch, err := desiredPatch(ops, desired, nil)
		if err == nil {
			err = validateSection(patch, "properties.desired")
		}
		if _, ok := hub.AsError(err); err != nil && !ok {
			t.Fatalf("not a hub error: %v", err)
		}
	})
}
