package steps

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Values in steps are JSON, compared as JSON: 122 and 122.0 agree, member
// order does not matter, and a hub that answers a number in another
// spelling (1e21 for 1000000000000000000000) is not wrong for it.

// canonical is v's JSON after a round trip through Go's generic JSON
// values, so that equal JSON values have equal canonical forms.
func canonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	var g any
	if err := json.Unmarshal(b, &g); err != nil {
		return string(b)
	}
	b, _ = json.Marshal(g)
	return string(b)
}

// sameValue compares a value from the hub with one written in a step.
func sameValue(what string, got any, want string) error {
	if g, w := canonical(got), canonical(parseValue(want)); g != w {
		return fmt.Errorf("%s: want %s, got %s", what, w, g)
	}
	return nil
}

// generic is v as generic JSON values (maps, slices, float64, ...), so a
// twin can be walked by member names as the hub spells them.
func generic(v any) any {
	b, _ := json.Marshal(v)
	var g any
	_ = json.Unmarshal(b, &g)
	return g
}

// lookup walks member names down from root.
func lookup(root any, path []string) (any, bool) {
	v := root
	for _, k := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// parseValue reads a value written in a step as JSON (122, "slow", true,
// {"a":1}); a bare word is taken as a string. Numbers stay as written.
func parseValue(s string) any {
	var v any
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil || dec.More() {
		return s
	}
	return v
}
