package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/hubspec/hubspec/hub"
)

// jsonTrees are values appendJSON must render as encoding/json does: the
// twin trees it writes itself and the values it hands on.
var jsonTrees = []any{
	nil, true, false, "", "plain", `quote " and \ backslash`, "tab\tnew\nline\x00\x1f\x7f",
	"<html> & ünïcödé", "line \u2028 separator", "paragraph \u2029", "invalid \xff UTF-8", json.Number("0"), json.Number("-12.5e+3"),
	json.Number(""), int64(-1 << 62), 42, 1.5, 1e21, float32(0.1),
	map[string]any{}, map[string]any(nil), []any{}, []any(nil),
	map[string]any{"b": 1, "a": []any{"x", nil, map[string]any{"z": json.Number("1"), "$y": true}}, "é": "k", "\"": "q"},
	map[string]string{"b": "x", "a": "y"},
	struct {
		A string         `json:"a"`
		M map[string]any `json:"m,omitempty"`
	}{"<&>", map[string]any{"k": json.Number("2")}},
}

func TestAppendJSONRendersAsEncodingJSON(t *testing.T) {
	for _, v := range jsonTrees {
		want, werr := encodeJSON(v)
		got, gerr := appendJSON([]byte("prefix:"), v)
		if werr != nil || gerr != nil {
			t.Fatalf("%#v: errors %v, %v", v, gerr, werr)
		}
		if !bytes.Equal(got, append([]byte("prefix:"), want...)) {
			t.Errorf("%#v:\n got %s\nwant prefix:%s", v, got, want)
		}
	}
}

func TestAppendJSONRefusesAnInvalidNumberAsEncodingJSON(t *testing.T) {
	for _, n := range []json.Number{"01", "1.", "-", "1e", "1e+", ".5", "1x", "+1", "NaN"} {
		if _, err := encodeJSON(n); err == nil {
			t.Fatalf("encoding/json takes %q", n)
		}
		if b, err := appendJSON(nil, map[string]any{"n": n}); err == nil {
			t.Errorf("%q: rendered %s, want encoding/json's error", n, b)
		}
	}
	for _, n := range []json.Number{"0", "-0", "10", "1.25", "1E5", "-1e-05", "0.0e+0"} {
		if b, err := appendJSON(nil, n); err != nil || string(b) != string(n) {
			t.Errorf("%q: %s, %v", n, b, err)
		}
	}
}

// FuzzAppendJSON renders every object decodeObject accepts, as twin
// writes store it, both ways.
func FuzzAppendJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":{"b":[1,2.5e3,"x\u2028",null,true]},"\u00e9":"<>&"}`, `{"k":"\ud800"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v map[string]any
		if decodeObject(data, &v) != nil {
			return
		}
		want, werr := encodeJSON(v)
		got, gerr := appendJSON(nil, v)
		if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("%q:\n got %s, %v\nwant %s, %v", data, got, gerr, want, werr)
		}
	})
}

// FuzzMetadataJSON merges two patches into a section and renders its
// $metadata directly, whole and for the members of the second patch (as
// a twin-change event shows it), as encoding/json renders the metadata
// object toJSON builds.
func FuzzMetadataJSON(f *testing.F) {
	f.Add([]byte(`{"a":{"b":1,"c":{"d":null}},"e":2}`), []byte(`{"a":{"c":{"x":1}},"f":[1]}`))
	f.Add([]byte(`{}`), []byte(`{"a":null}`))
	f.Fuzz(func(t *testing.T, first, second []byte) {
		s := twinSection{values: map[string]any{}, version: 1, meta: newMetaNode(stamp{at: "2026-01-01T00:00:00.0000000Z", version: 1})}
		var patches [2]map[string]any
		for i, data := range [][]byte{first, second} {
			if decodeObject(data, &patches[i]) != nil {
				return
			}
			mergePatch(s.values, patches[i], s.meta, stamp{at: fmt.Sprintf("2026-01-0%dT00:00:00.0000000Z", i+2), version: int64(i + 2)})
		}
		want, err := encodeJSON(s.meta.toJSON())
		if err != nil {
			t.Fatal(err)
		}
		if got := s.meta.appendJSON(nil, nil); !bytes.Equal(got, want) {
			t.Fatalf("whole:\n got %s\nwant %s", got, want)
		}
		written := map[string]any{"$lastUpdated": s.meta.lastUpdated}
		if s.meta.lastUpdatedVersion != 0 {
			written["$lastUpdatedVersion"] = s.meta.lastUpdatedVersion
		}
		for k := range patches[1] {
			if c, ok := s.meta.children[k]; ok {
				written[k] = c.toJSON()
			}
		}
		want, err = encodeJSON(written)
		if err != nil {
			t.Fatal(err)
		}
		got := s.meta.appendJSON(nil, func(k string) bool { _, ok := patches[1][k]; return ok })
		if !bytes.Equal(got, want) {
			t.Fatalf("written:\n got %s\nwant %s", got, want)
		}
	})
}

// TestTwinJSONRendersAsEncodingJSON: the REST twin written directly is
// encoding/json's rendering of twinJSON, for device and module twins with
// and without their optional members.
func TestTwinJSONRendersAsEncodingJSON(t *testing.T) {
	reason, thumb := "because <&>", "ABC"
	section := json.RawMessage(`{"a":{"b":"c"},"$metadata":{"$lastUpdated":"t"},"$version":3}`)
	for _, j := range []twinJSON{
		{DeviceID: "dev", ETag: "AAAAAAAAAAE=", DeviceETag: "MQ==", Status: "enabled", StatusUpdateTime: "0001-01-01T00:00:00Z",
			ConnectionState: "Disconnected", LastActivityTime: "0001-01-01T00:00:00Z", AuthenticationType: "sas", Version: 2,
			Properties: twinPropertiesJSON{Desired: section, Reported: section}, Capabilities: &hub.DeviceCapabilities{}},
		{DeviceID: "dév \"1\"", ModuleID: "mod/1", ETag: "e", DeviceETag: "d", Status: "disabled", StatusReason: &reason,
			StatusUpdateTime: "s", ConnectionState: "Connected", LastActivityTime: "l", CloudToDeviceMessageCount: 7,
			AuthenticationType: "selfSigned", X509Thumbprint: hub.X509Thumbprint{PrimaryThumbprint: &thumb}, ModelID: "dtmi:x;1",
			Version: 1 << 40, Tags: map[string]any{"z": json.Number("1"), "a": []any{"x"}},
			Properties:     twinPropertiesJSON{Desired: section, Reported: json.RawMessage(`{"$version":1}`)},
			Configurations: map[string]any{"c1": map[string]any{"status": "Applied"}}, Capabilities: &hub.DeviceCapabilities{IoTEdge: true}},
		{DeviceID: "d", StatusReason: new(string), Tags: map[string]any{},
			Properties: twinPropertiesJSON{Desired: section, Reported: section}},
	} {
		want, err := encodeJSON(j)
		if err != nil {
			t.Fatal(err)
		}
		got, err := j.appendJSON(nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s, %v\nwant %s", j.DeviceID, got, err, want)
		}
	}
}

// TestTwinUpdateBodyRendersAsEncodingJSON: an updateTwin event's body
// written directly is encoding/json's rendering of {version, tags
// omitempty, properties omitempty} around the changed section.
func TestTwinUpdateBodyRendersAsEncodingJSON(t *testing.T) {
	tw := newTwin("2026-01-01T00:00:00.0000000Z")
	patch := map[string]any{"a": map[string]any{"b": json.Number("1")}, "gone": nil}
	mergePatch(tw.desired.values, patch, tw.desired.meta, stamp{at: "2026-01-02T00:00:00.0000000Z", version: 2})
	mergePatch(tw.reported.values, patch, tw.reported.meta, stamp{at: "2026-01-02T00:00:00.0000000Z"})
	for _, c := range []struct {
		tags    map[string]any
		section string
		patch   map[string]any
	}{
		{map[string]any{"site": "<A&B>"}, "", nil},
		{map[string]any{"site": "x"}, "desired", patch},
		{nil, "reported", patch},
		{map[string]any{}, "desired", nil},
	} {
		var props map[string]json.RawMessage
		if c.section != "" {
			s := map[string]*twinSection{"desired": &tw.desired, "reported": &tw.reported}[c.section]
			sec, err := appendSection(nil, c.patch, s.meta, func(k string) bool { _, ok := c.patch[k]; return ok }, s.version)
			if err != nil {
				t.Fatal(err)
			}
			props = map[string]json.RawMessage{c.section: sec}
		}
		want, err := encodeJSON(struct {
			Version    int64                      `json:"version"`
			Tags       map[string]any             `json:"tags,omitempty"`
			Properties map[string]json.RawMessage `json:"properties,omitempty"`
		}{tw.version, c.tags, props})
		if err != nil {
			t.Fatal(err)
		}
		got, err := twinUpdateBody(tw, c.tags, c.section, c.patch)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%v %s:\n got %s, %v\nwant %s", c.tags, c.section, got, err, want)
		}
	}
}
