package steps

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestContains: the twin subset match the "matches:" step uses. A null in
// the expected document means absent, and an absent object counts as empty.
func TestContains(t *testing.T) {
	twin := `{"tags": {"room": "kitchen"}, "properties": {"desired": {"config": {"rate": 2, "unit": "s"}, "list": [1, {"a": 2}]}}}`
	for _, tc := range []struct {
		want, fails string // fails: "" when it must hold, else a part of the error
	}{
		{`{}`, ""},
		{`{"properties": {"desired": {"config": {"rate": 2}}}}`, ""},
		{`{"properties": {"desired": {"config": {"rate": 2.0, "gone": null}, "list": [1, {"a": 2}]}}}`, ""},
		{`{"properties": {"reported": {"x": null}}, "tags": {"room": "kitchen"}}`, ""},
		{`{"properties": {"desired": {"config": {"rate": 3}}}}`, "properties.desired.config.rate: want 3, got 2"},
		{`{"properties": {"desired": {"config": {"unit": null}}}}`, `config.unit: want no member, got "s"`},
		{`{"properties": {"desired": {"list": [1]}}}`, `want [1], got [1,{"a":2}]`},
		{`{"properties": {"desired": {"other": 1}}}`, "desired.other: want 1, got nothing"},
		{`{"properties": {"reported": {"x": 1}}}`, "reported.x: want 1, got nothing"},
		{`{"tags": {"room": {"floor": 1}}}`, `want an object, got "kitchen"`},
	} {
		var got, want any
		if err := json.Unmarshal([]byte(twin), &got); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
			t.Fatal(err)
		}
		err := contains("twin", got, want)
		if tc.fails == "" && err != nil || tc.fails != "" && (err == nil || !strings.Contains(err.Error(), tc.fails)) {
			t.Errorf("contains(%s) = %v, want %q", tc.want, err, tc.fails)
		}
	}
}

// TestChooseEtag: the If-Match each etag phrase sends.
func TestChooseEtag(t *testing.T) {
	seen := []string{"e1", "e2", "e3"}
	for phrase, want := range map[string]string{
		"": "*", " unconditionally": "*", ` with etag "*"`: "*", ` with etag "abc"`: "abc",
		" with its etag": "held", " with the twin's etag": "held", " with a stale etag": "e1",
	} {
		if got, err := chooseEtag(phrase, seen, "held", "x"); err != nil || got != want {
			t.Errorf("chooseEtag(%q) = %q, %v; want %q", phrase, got, err, want)
		}
	}
	if _, err := chooseEtag(" with a stale etag", []string{"e1"}, "e1", "device \"d\""); err == nil {
		t.Error("a stale etag of an entity that never changed")
	}
	if _, err := chooseEtag(" with its etag", nil, "", "device \"d\""); err == nil {
		t.Error("its etag, with none held")
	}
}
