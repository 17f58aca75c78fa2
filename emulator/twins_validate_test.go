package emulator

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hubspec/hubspec/hub"
)

// nested is n nested objects around a leaf: {"l1":{"l2":...{"ln":{"leaf":1}}}}.
func nested(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString(`{"l` + string(rune('a'+i)) + `":`)
	}
	b.WriteString(`{"leaf":1}`)
	b.WriteString(strings.Repeat("}", n))
	return b.String()
}

func TestTwinValidation(t *testing.T) {
	str := func(n int, s string) string { return `"` + strings.Repeat(s, n) + `"` }
	tests := []struct {
		name, member string // member is `"key":value` inside the section
		ok           bool
	}{
		{"plain", `"k":1`, true},
		{"dot in key", `"a.b":1`, false},
		{"dollar first", `"$x":1`, false},
		{"dollar inside", `"a$b":1`, false},
		{"space", `"a b":1`, false},
		{"C0 control", `"a\u0001b":1`, false},
		{"DEL", `"a\u007fb":1`, false},
		{"C1 control", `"a\u0085b":1`, false},
		{"empty key", `"":1`, false},
		{"nested bad key", `"a":{"b.c":1}`, false},
		{"non-ASCII key", `"größe":1`, true},
		{"1024-byte key", str(1024, "k") + `:1`, true},
		{"1025-byte key", str(1025, "k") + `:1`, false},
		{"depth 10 (DOC-TWIN example)", `"l1":` + nested(9), true},
		{"depth 11", `"l1":` + nested(10), false},
		{"max safe int", `"i":4503599627370495`, true},
		{"above max safe int", `"i":4503599627370496`, false},
		{"min safe int", `"i":-4503599627370496`, true},
		{"below min safe int", `"i":-4503599627370497`, false},
		{"huge integer literal", `"i":99999999999999999999`, false},
		{"float", `"f":1.5e300`, true},
		{"float overflow", `"f":1e400`, false},
		{"4096-byte string", `"s":` + str(4096, "s"), true},
		{"4097-byte string", `"s":` + str(4097, "s"), false},
		{"4096 bytes of 2-byte runes", `"s":` + str(2048, "é"), true},
		{"4098 bytes of 2-byte runes", `"s":` + str(2049, "é"), false},
		{"arrays", `"a":[1,"two",[3,{"four":4}],true]`, true},
		{"null in array", `"a":[1,null]`, false},
		{"bad key in array object", `"a":[{"b.c":1}]`, false},
		{"object in array counts its depth", `"l1":[` + nested(9) + `]`, true},
		{"too deep inside array", `"l1":[` + nested(10) + `]`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg, _, _ := newTwinRegistry(t)
			before := getTwinView(t, reg, "myFirstDevice", "")
			check := func(what string, err error) {
				t.Helper()
				if tc.ok && err != nil || !tc.ok && !errIs(err, hub.ErrArgumentInvalid) {
					t.Errorf("%s: got %v, want ok=%v", what, err, tc.ok)
				}
			}
			_, err := reg.patchTwin("myFirstDevice", "", []byte(`{"properties":{"desired":{`+tc.member+`}}}`), precondition{})
			check("desired", err)
			_, err = reg.patchTwin("myFirstDevice", "", []byte(`{"tags":{`+tc.member+`}}`), precondition{})
			check("tags", err)
			_, err = reg.patchReported("myFirstDevice", "", []byte(`{`+tc.member+`}`))
			check("reported", err)
			if !tc.ok {
				if after := getTwinView(t, reg, "myFirstDevice", ""); after.Version != before.Version || after.ETag != before.ETag {
					t.Error("a rejected write changed the twin")
				}
			}
		})
	}
}

func TestTwinSectionSizes(t *testing.T) {
	s4000 := strings.Repeat("x", 4000)
	member := func(i int) string { return `"k` + string(rune('a'+i)) + `":"` + s4000 + `"` }
	members := func(n int) string {
		var parts []string
		for i := range n {
			parts = append(parts, member(i))
		}
		return strings.Join(parts, ",")
	}
	reg, _, _ := newTwinRegistry(t)
	const d = "myFirstDevice"
	// 2 × (2 + 4000) fits in tags' 8 KB; a third member does not, even when
	// sent in a later patch.
	if _, err := reg.patchTwin(d, "", []byte(`{"tags":{`+members(2)+`}}`), precondition{}); err != nil {
		t.Fatal(err)
	}
	_, err := reg.patchTwin(d, "", []byte(`{"tags":{"more":"`+s4000+`"}}`), precondition{})
	wantHubError(t, err, hub.ErrArgumentInvalid)
	// 8 × 4002 fits in desired's 32 KB, 9 do not; replacing an existing
	// member keeps the size.
	if _, err := reg.patchTwin(d, "", []byte(`{"properties":{"desired":{`+members(8)+`}}}`), precondition{}); err != nil {
		t.Fatal(err)
	}
	_, err = reg.patchTwin(d, "", []byte(`{"properties":{"desired":{`+member(8)+`}}}`), precondition{})
	wantHubError(t, err, hub.ErrArgumentInvalid)
	if _, err := reg.patchTwin(d, "", []byte(`{"properties":{"desired":{`+member(0)+`}}}`), precondition{}); err != nil {
		t.Errorf("replacing a member at the limit: %v", err)
	}
	_, err = reg.replaceTwin(d, "", []byte(`{"properties":{"desired":{`+members(9)+`}}}`), precondition{})
	wantHubError(t, err, hub.ErrArgumentInvalid)
	_, err = reg.patchReported(d, "", []byte(`{`+members(9)+`}`))
	wantHubError(t, err, hub.ErrArgumentInvalid)
	if _, err := reg.patchReported(d, "", []byte(`{`+members(8)+`}`)); err != nil {
		t.Errorf("reported at the limit: %v", err)
	}
}

// TestNumbersRoundTrip: numbers come back exactly as written, never through
// a float64.
func TestNumbersRoundTrip(t *testing.T) {
	reg, _, _ := newTwinRegistry(t)
	const members = `"f":0.1000000000000000055511151231257827,"i":4503599627370495,"e":1E+2,"z":-0,"s":"<&>"`
	if _, err := reg.patchTwin("myFirstDevice", "", []byte(`{"properties":{"desired":{`+members+`}}}`), precondition{}); err != nil {
		t.Fatal(err)
	}
	doc, _ := reg.getTwin("myFirstDevice", "")
	for _, want := range strings.Split(members, ",") {
		if !strings.Contains(string(doc.body), want) {
			t.Errorf("twin lost %s:\n%s", want, doc.body)
		}
	}
}

func FuzzPatchReported(f *testing.F) {
	for _, seed := range []string{`{"a":1}`, `{"a":{"b":null}}`, `{"$version":1}`, `[1]`, `{"a":[1,{"b":2}]}`, `{"a":1e400}`, `{`, ` `} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		reg := newRegistry(nil)
		mustPutDevice(t, reg, "d", `{}`)
		v, err := reg.patchReported("d", "", body)
		sections, serr := reg.twinSections("d", "")
		if serr != nil || !json.Valid(sections) {
			t.Fatalf("twinSections after %q: %v %s", body, serr, sections)
		}
		if err != nil {
			if e, ok := hub.AsError(err); !ok || e.StatusCode != 400 {
				t.Fatalf("patchReported(%q) = %v, want a 400", body, err)
			}
			if string(sections) != `{"desired":{"$version":1},"reported":{"$version":1}}` {
				t.Fatalf("rejected patch %q changed the twin: %s", body, sections)
			}
			return
		}
		if v != 2 {
			t.Fatalf("reported $version %d after one patch", v)
		}
		if _, err := reg.getTwin("d", ""); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzPatchTwin(f *testing.F) {
	for _, seed := range []string{`{"tags":{"a":1}}`, `{"properties":{"desired":{"a":{"b":null}}}}`, `{"properties":5}`, `{"tags":[]}`, `{"properties":{"desired":{"$version":1,"x":[null]}}}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		reg := newRegistry(nil)
		mustPutDevice(t, reg, "d", `{}`)
		if _, err := reg.patchTwin("d", "", body, precondition{}); err != nil {
			if e, ok := hub.AsError(err); !ok || e.StatusCode != 400 {
				t.Fatalf("patchTwin(%q) = %v, want a 400", body, err)
			}
		}
		if _, err := reg.replaceTwin("d", "", body, precondition{}); err != nil {
			if e, ok := hub.AsError(err); !ok || e.StatusCode != 400 {
				t.Fatalf("replaceTwin(%q) = %v, want a 400", body, err)
			}
		}
		doc, err := reg.getTwin("d", "")
		if err != nil || !json.Valid(doc.body) {
			t.Fatalf("twin after %q: %v %s", body, err, doc.body)
		}
	})
}

// TestInvalidUTF8IsRefused: a body that is not UTF-8 is not JSON (RFC 8259
// §8.1), so a twin write or a device body carrying invalid bytes is 400
// IotHubFormatError and changes nothing, instead of being stored with
// U+FFFD in place of the bytes the client sent.
func TestInvalidUTF8IsRefused(t *testing.T) {
	reg, _, _ := newTwinRegistry(t)
	before := getTwinView(t, reg, "myFirstDevice", "")
	bad := "caf\xe9" // Latin-1 é
	for what, err := range map[string]error{
		"desired value": func() error {
			_, err := reg.patchTwin("myFirstDevice", "", []byte(`{"properties":{"desired":{"k":"`+bad+`"}}}`), precondition{})
			return err
		}(),
		"tag key": func() error {
			_, err := reg.patchTwin("myFirstDevice", "", []byte(`{"tags":{"`+bad+`":1}}`), precondition{})
			return err
		}(),
		"reported value": func() error {
			_, err := reg.patchReported("myFirstDevice", "", []byte(`{"k":"`+bad+`"}`))
			return err
		}(),
		"device status reason": func() error {
			_, err := reg.putDevice("other", []byte(`{"deviceId":"other","statusReason":"`+bad+`"}`), precondition{})
			return err
		}(),
	} {
		if !errIs(err, hub.ErrIotHubFormatError) {
			t.Errorf("%s with invalid UTF-8: got %v, want 400 IotHubFormatError", what, err)
		}
	}
	if after := getTwinView(t, reg, "myFirstDevice", ""); after.Version != before.Version || after.ETag != before.ETag {
		t.Error("a refused write changed the twin")
	}
}
