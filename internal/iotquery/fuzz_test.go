package iotquery

import (
	"errors"
	"testing"
)

var seeds = []string{
	"SELECT * FROM devices",
	"SELECT * FROM devices.modules WHERE properties.reported.status = 'scanning' AND deviceId IN ['device1', 'device2']",
	"SELECT properties.reported.telemetryConfig.status AS status, COUNT() AS numberOfDevices FROM devices GROUP BY properties.reported.telemetryConfig.status",
	"SELECT TOP 2 deviceId, tags.location FROM devices WHERE NOT (tags.a + 2 * -x >= 0x1F) OR IS_DEFINED(tags.b)",
	"SELECT * FROM devices WHERE STARTSWITH(deviceId, 'a\\'b\\u0041') AND tags.x NIN [null, true, -1.5e3, undefined]",
	"SELECT MIN(tags.a) AS lo, MAX(tags.a), SUM(tags.b), AVG(tags.c) FROM devices",
	"select * from devices where (((a)))",
	"SELECT * FROM devices WHERE tags.a = \"x\"",
}

// FuzzParse: no input panics; whatever parses prints to text that parses
// to the same query (the printer is what the steps send after scoping a
// query, so a lossy printer would change a scenario's question); whatever
// does not parse is a *SyntaxError with a position inside the text.
func FuzzParse(f *testing.F) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		q, err := Parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 || se.Column < 1 {
				t.Fatalf("Parse(%q): %v is not a positioned *SyntaxError", src, err)
			}
			return
		}
		text := q.String()
		again, err := Parse(text)
		if err != nil {
			t.Fatalf("Parse(%q) printed %q, which does not parse: %v", src, text, err)
		}
		if again.String() != text {
			t.Fatalf("Parse(%q) printed %q, which prints as %q", src, text, again.String())
		}
	})
}

// FuzzEvaluate: whatever parses evaluates over any twin without panicking.
func FuzzEvaluate(f *testing.F) {
	for _, s := range seeds {
		f.Add(s)
	}
	ds := docs(f, twins)
	f.Fuzz(func(t *testing.T, src string) {
		q, err := Parse(src)
		if err != nil {
			return
		}
		if q.Aggregated() {
			g := q.NewGroups()
			for _, d := range ds {
				if q.Match(d) {
					g.Add(d)
				}
			}
			for _, r := range g.Rows() {
				if _, err := r.MarshalJSON(); err != nil {
					t.Fatal(err)
				}
			}
			return
		}
		for _, d := range ds {
			if q.Match(d) && !q.Star {
				if _, err := q.Project(d).MarshalJSON(); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}
