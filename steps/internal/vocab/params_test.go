package vocab

import (
	"slices"
	"testing"
)

// TestDescribe: the template and parameters the catalogue reads from an
// expression, and the overrides that rename or redescribe them.
func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		expr      string
		overrides []string
		template  string
		params    []string // label: doc, "optional; " when it may be left out
	}{
		{`^(device|module) "([^"]+)" disconnects$`, nil,
			`device|module "<alias>" disconnects`,
			[]string{"device|module: ", "<alias>: " + derived[`[^"]+`].doc}},
		{`^the service creates (\d+) modules on device "([^"]+)"$`, []string{"", "<device> the device"},
			`the service creates <N> modules on device "<device>"`,
			[]string{"<N>: a whole number", "<device>: the device"}},
		{`^x (.+?)( with its etag| with etag "[^"]*")?$`, []string{"", "how it is guarded"},
			`x <value>[ with its etag|with etag "<text>"]`,
			[]string{"<value>: " + jsonValueDoc, `with its etag|with etag "<text>": optional; how it is guarded`}},
		{`^a (?:b|c)(?: by (\d{3}))? (has gone up(?: by \d+)?|is unchanged)$`, nil,
			`a b|c[ by <status>] has gone up[ by <N>]|is unchanged`,
			[]string{"<status>: optional; an HTTP status code, e.g. 404", "has gone up[ by <N>]|is unchanged: "}},
		{`^t (has|has not)(?: (equal to|less than) (.+)| of type (number|string))?$`, nil,
			`t has|has not[ (equal to|less than) <value>| of type (number|string)]`,
			[]string{"has|has not: ", "equal to|less than: optional; ", "<value>: optional; " + jsonValueDoc, "number|string: optional; "}},
	} {
		params, template, _, err := describe(tc.expr, tc.overrides)
		if err != nil {
			t.Errorf("describe(%s): %v", tc.expr, err)
			continue
		}
		var got []string
		for _, p := range params {
			got = append(got, p.label()+": "+paramDoc(p))
		}
		if template != tc.template || !slices.Equal(got, tc.params) {
			t.Errorf("describe(%s)\n got %s %q\nwant %s %q", tc.expr, template, got, tc.template, tc.params)
		}
	}
	for _, bad := range []string{`^a (b$`, `^a [b$`, `^a (b)+$`, `^a\`} {
		if _, _, _, err := describe(bad, nil); err == nil {
			t.Errorf("describe(%s): no error", bad)
		}
	}
	if _, _, _, err := describe(`^a (b)$`, []string{"", "x"}); err == nil {
		t.Error("an override for a group that does not exist: no error")
	}
}
