package steps

import (
	"encoding/json"
	"slices"
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

// TestMemberCheck: what "has" and "does not have" accept, with each
// comparison, and the failure each gives.
func TestMemberCheck(t *testing.T) {
	var doc any
	if err := json.Unmarshal([]byte(`{"properties": {"desired": {"rate": 2, "mode": "slow", "cfg": {"on": true}}}}`), &doc); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		has                     bool
		path, op, operand, kind string
		fails                   string // "" when it must hold
	}{
		{true, "rate", "", "", "", ""},
		{true, "rate", "equal to", "2.0", "", ""},
		{true, "rate", "greater than", "1", "", ""},
		{true, "rate", "less than", "2", "", "want a number less than 2, got 2"},
		{true, "mode", "equal to", "slow", "", ""},
		{true, "cfg.on", "", "", "boolean", ""},
		{true, "cfg", "", "", "array", "want a value of type array, got {\"on\":true}"},
		{true, "gone", "", "", "", "want a value, got nothing"},
		{false, "gone", "", "", "", ""},
		{false, "rate", "equal to", "3", "", ""},
		{false, "rate", "", "", "", "want no value, got 2"},
		{false, "mode", "", "", "string", `want no value of type string, got "slow"`},
	} {
		c, err := newComparison(tc.op, tc.operand, tc.kind)
		if err != nil {
			t.Fatal(err)
		}
		err = memberCheck{has: tc.has, at: sectionPath("desired", tc.path), c: c}.judge("x", doc)
		if tc.fails == "" && err != nil || tc.fails != "" && (err == nil || !strings.Contains(err.Error(), tc.fails)) {
			t.Errorf("has %v %s %s %s%s: %v, want %q", tc.has, tc.path, tc.op, tc.operand, tc.kind, err, tc.fails)
		}
	}
	if _, err := newComparison("greater than", "slow", ""); err == nil {
		t.Error("an order comparison with a string: no error")
	}
}

// TestPaths: a section and a dotted path from the root of the service's
// twin, and of the twin a device reads.
func TestPaths(t *testing.T) {
	for _, tc := range []struct {
		got  []string
		want string
	}{
		{sectionPath("desired", "a.b"), "properties.desired.a.b"},
		{sectionPath("tag", "room"), "tags.room"},
		{sectionPath("", "etag"), "etag"},
		{ownTwinPath("reported", "a"), "reported.a"},
		{ownTwinPath("tag", "a"), "tags.a"},
		{ownTwinPath("", "desired.$version"), "desired.$version"},
	} {
		if got := strings.Join(tc.got, "."); got != tc.want {
			t.Errorf("got %s, want %s", got, tc.want)
		}
	}
}

// TestVersionChange: "has gone up", "has gone up by N", "is unchanged".
func TestVersionChange(t *testing.T) {
	for _, tc := range []struct {
		was, now int64
		how      string
		holds    bool
	}{
		{2, 3, "has gone up", true}, {2, 2, "has gone up", false},
		{2, 4, "has gone up by 2", true}, {2, 3, "has gone up by 2", false},
		{2, 2, "is unchanged", true}, {2, 3, "is unchanged", false},
	} {
		err := versionChange("v", tc.was, tc.now, tc.how)
		if (err == nil) != tc.holds {
			t.Errorf("%d → %d %s: %v", tc.was, tc.now, tc.how, err)
		}
	}
}

// TestUpdatedSince: a later $lastUpdated was updated, the same was not, a
// member that had none then was once it has one, and no time fails both.
func TestUpdatedSince(t *testing.T) {
	const t1, t2 = "2025-01-01T00:00:00.0000000Z", "2025-01-01T00:00:01.0000000Z"
	for _, tc := range []struct {
		then    any
		hadOne  bool
		now     any
		present bool
		was     string
		holds   bool
	}{
		{t1, true, t2, true, "was", true},
		{t1, true, t1, true, "was", false},
		{nil, false, t1, true, "was", true},
		{t1, true, t1, true, "was not", true},
		{t1, true, t2, true, "was not", false},
		{nil, false, t1, true, "was not", false},
		{t1, true, nil, false, "was", false},
		{t1, true, "yesterday", true, "was not", false},
	} {
		if err := updatedSince("m", tc.then, tc.hadOne, tc.now, tc.present, tc.was); (err == nil) != tc.holds {
			t.Errorf("%v → %v %s: %v", tc.then, tc.now, tc.was, err)
		}
	}
}

// TestIDOfLength and the alias helpers: ids and aliases steps make up.
func TestIDOfLength(t *testing.T) {
	if id, err := idOfLength("", "10", "run-long"); err != nil || id != "run-longxx" {
		t.Errorf("idOfLength 10: %q, %v", id, err)
	}
	if id, err := idOfLength("a b", "", "run-long"); err != nil || id != "a b" {
		t.Errorf("a literal id: %q, %v", id, err)
	}
	if _, err := idOfLength("", "3", "run-long"); err == nil {
		t.Error("an id shorter than the run's names: no error")
	}
	if got := numbered("p", "3"); !slices.Equal(got, []string{"p-1", "p-2", "p-3"}) {
		t.Errorf("numbered: %v", got)
	}
	if _, err := aliasRange("p", "q", "2"); err == nil {
		t.Error("a range with two prefixes: no error")
	}
}
