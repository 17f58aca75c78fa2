package main

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestPrettyKeepsEachScenarioWhole runs scenarios eight at a time: each
// scenario's lines must come together, under its own title, every step
// line ending with its place in the feature file (the Cucumber JSON of the
// same run says which steps each scenario has, and where).
func TestPrettyKeepsEachScenarioWhole(t *testing.T) {
	t.Parallel()
	cucumber := filepath.Join(t.TempDir(), "c.json")
	status, stdout, stderr := hubspecWith(t, embedded, "--concurrency", "8", "--cucumber", cucumber, "../../features/twins.feature", "../../features/identities.feature")
	if status != exitPassed {
		t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", status, stdout, stderr)
	}
	want := stepPlaces(t, readFile(t, cucumber))
	got := map[string][]string{}
	var current string
	place := regexp.MustCompile(`# (\S+:\d+)$`)
	for _, l := range strings.Split(stdout, "\n") {
		m := place.FindStringSubmatch(l)
		switch {
		case strings.HasPrefix(l, "  Scenario") && m != nil:
			current = m[1]
			if _, dup := got[current]; dup {
				t.Errorf("scenario %s printed twice", current)
			}
			got[current] = []string{}
		case strings.HasPrefix(l, "    ") && m != nil:
			got[current] = append(got[current], m[1])
		case strings.HasPrefix(l, "    ") && strings.Contains(l, " # "):
			t.Errorf("a step line without its place in the feature: %q", l)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d scenarios printed, the run had %d", len(got), len(want))
	}
	for sc, places := range want {
		if fmt.Sprint(got[sc]) != fmt.Sprint(places) {
			t.Errorf("scenario %s printed with steps at\n%v\nwant\n%v", sc, got[sc], places)
		}
	}
	if t.Failed() {
		t.Logf("stdout:\n%s", stdout)
	}
}

// stepPlaces reads a Cucumber JSON report: each scenario's place
// (URI:LINE) and those of its steps, in order.
func stepPlaces(t *testing.T, data []byte) map[string][]string {
	t.Helper()
	var feats []struct {
		URI      string `json:"uri"`
		Elements []struct {
			Line  int `json:"line"`
			Steps []struct {
				Line int `json:"line"`
			} `json:"steps"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(data, &feats); err != nil {
		t.Fatalf("Cucumber JSON: %v", err)
	}
	out := map[string][]string{}
	for _, f := range feats {
		uri := f.URI
		for _, e := range f.Elements {
			places := []string{}
			for _, s := range e.Steps {
				places = append(places, fmt.Sprintf("%s:%d", uri, s.Line))
			}
			out[fmt.Sprintf("%s:%d", uri, e.Line)] = places
		}
	}
	return out
}

// TestJUnitSkippedAndWallTime: a scenario its tags keep off the target is
// skipped, as JUnit readers count it; a suite of scenarios that ran at the
// same time lasts at least as long as its longest one, and no longer than
// the run.
func TestJUnitSkippedAndWallTime(t *testing.T) {
	embeddedEnv(t)
	junit := filepath.Join(t.TempDir(), "junit.xml")
	status, stdout, stderr := hubspec(t, "--concurrency", "4", "--junit", junit, "testdata/skipped.feature")
	if status != exitPassed {
		t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", status, stdout, stderr)
	}
	var doc struct {
		Time   float64 `xml:"time,attr"`
		Suites []struct {
			Tests   int     `xml:"tests,attr"`
			Skipped int     `xml:"skipped,attr"`
			Time    float64 `xml:"time,attr"`
			Cases   []struct {
				Name    string  `xml:"name,attr"`
				Status  string  `xml:"status,attr"`
				Time    float64 `xml:"time,attr"`
				Skipped *struct {
					Message string `xml:"message,attr"`
				} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	data := readFile(t, junit)
	if err := xml.Unmarshal(data, &doc); err != nil || len(doc.Suites) != 1 {
		t.Fatalf("JUnit report (%v):\n%s", err, data)
	}
	suite := doc.Suites[0]
	if suite.Tests != 4 || suite.Skipped != 1 {
		t.Errorf("tests=%d skipped=%d, want 4 and 1\n%s", suite.Tests, suite.Skipped, data)
	}
	for _, c := range suite.Cases {
		live := c.Name == "Only a live hub runs this"
		if live != (c.Status == "skipped") || live != (c.Skipped != nil) {
			t.Errorf("case %q: status %q, <skipped> %v", c.Name, c.Status, c.Skipped != nil)
		}
		if live && c.Skipped != nil && !strings.Contains(c.Skipped.Message, "@live-only") {
			t.Errorf("the skipped case does not say why: %q", c.Skipped.Message)
		}
		if c.Time > suite.Time {
			t.Errorf("case %q took %ss, more than its suite's %ss", c.Name, strconv.FormatFloat(c.Time, 'f', -1, 64), strconv.FormatFloat(suite.Time, 'f', -1, 64))
		}
	}
	if suite.Time > doc.Time {
		t.Errorf("the suite took %vs, more than the run's %vs", suite.Time, doc.Time)
	}
}
