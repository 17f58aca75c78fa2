package main

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/cucumber/godog"
	messages "github.com/cucumber/messages/go/v21"
)

// The outline of testdata/outline.feature starts at line 5; its Examples
// rows (devices north, south and east) are lines 11, 12 and 13; a plain
// scenario (device west) starts at line 15.
const outlineFeature = "testdata/outline.feature"

// byLineRun is what one run by lines did, read from all its outputs.
type byLineRun struct {
	stdout, stderr string
	devices        []string // the devices the steps that ran name, from the pretty output, sorted
	cucumber       []string // the Cucumber JSON's scenarios, "uri:line id"
	junit          int      // the JUnit XML's test cases
	html           []string // the HTML report's scenario places
}

// runByLines runs the paths with every report and reads them back.
func runByLines(t *testing.T, args ...string) byLineRun {
	t.Helper()
	embeddedEnv(t)
	dir := t.TempDir()
	cuke, junit, page := filepath.Join(dir, "c.json"), filepath.Join(dir, "j.xml"), filepath.Join(dir, "r.html")
	status, stdout, stderr := hubspec(t, append([]string{"--no-colors", "--cucumber", cuke, "--junit", junit, "--html", page}, args...)...)
	if status != exitPassed {
		t.Fatalf("hubspec %v: status %d\nstdout:\n%s\nstderr:\n%s", args, status, stdout, stderr)
	}
	r := byLineRun{stdout: stdout, stderr: stderr}
	for _, m := range regexp.MustCompile(`device "(\w+)"`).FindAllStringSubmatch(stdout, -1) {
		if !slices.Contains(r.devices, m[1]) {
			r.devices = append(r.devices, m[1])
		}
	}
	slices.Sort(r.devices)
	var feats []struct {
		URI      string `json:"uri"`
		Elements []struct {
			ID   string `json:"id"`
			Line int    `json:"line"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(readFile(t, cuke), &feats); err != nil {
		t.Fatal(err)
	}
	for _, f := range feats {
		for _, e := range f.Elements {
			r.cucumber = append(r.cucumber, fmt.Sprintf("%s:%d %s", f.URI, e.Line, e.ID))
		}
	}
	var suites junitSuites
	if err := xml.Unmarshal(readFile(t, junit), &suites); err != nil {
		t.Fatal(err)
	}
	r.junit = suites.Tests
	for _, m := range regexp.MustCompile(`<span class="loc">([^<]*)</span>`).FindAllStringSubmatch(string(readFile(t, page)), -1) {
		r.html = append(r.html, m[1])
	}
	return r
}

// TestAnExamplesRowRunsByItsLine: file.feature:LINE with the line of an
// Examples row runs that row's scenario alone (no other row's steps run),
// and every output names it at that line of that file, with the id a run
// of the whole file gives it.
func TestAnExamplesRowRunsByItsLine(t *testing.T) {
	r := runByLines(t, outlineFeature+":12")
	if !slices.Equal(r.devices, []string{"south"}) {
		t.Errorf("the steps of devices %v ran, want south's alone:\n%s", r.devices, r.stdout)
	}
	if !regexp.MustCompile(`\n  Scenario Outline: The service creates device south +# testdata/outline\.feature:12\n`).MatchString(r.stdout) ||
		!strings.Contains(r.stdout, "1 scenarios (1 passed)") || !strings.Contains(r.stderr, "hubspec: 1 scenarios on the") {
		t.Errorf("the pretty output does not show the row at testdata/outline.feature:12:\n%s%s", r.stderr, r.stdout)
	}
	whole := runByLines(t, outlineFeature)
	want := slices.DeleteFunc(slices.Clone(whole.cucumber), func(s string) bool { return !strings.HasPrefix(s, outlineFeature+":12 ") })
	if len(want) != 1 || !slices.Equal(r.cucumber, want) {
		t.Errorf("Cucumber JSON holds %v, want %v (as the whole file's run names it)", r.cucumber, want)
	}
	if r.junit != 1 || !slices.Equal(r.html, []string{outlineFeature + ":12"}) {
		t.Errorf("JUnit holds %d tests, the HTML report %v; want the one row at %s:12", r.junit, r.html, outlineFeature)
	}

	// The progress format, the command a QA engineer copies from a report.
	status, stdout, stderr := hubspec(t, "--format", "progress", outlineFeature+":12")
	if status != exitPassed || !strings.Contains(stdout, "1 scenarios (1 passed)") {
		t.Errorf("--format progress: status %d\nstdout:\n%s\nstderr:\n%s", status, stdout, stderr)
	}
}

// TestSeveralLinesRunTogether: rows of one outline, a row and a plain
// scenario, and lines of different files run in one run, each once.
func TestSeveralLinesRunTogether(t *testing.T) {
	for _, tc := range []struct {
		name    string
		paths   []string
		devices []string // whose steps ran, sorted
		places  []string // the HTML report's
	}{
		{"two rows of one outline", []string{outlineFeature + ":13", outlineFeature + ":11"},
			[]string{"east", "north"}, []string{outlineFeature + ":11", outlineFeature + ":13"}},
		{"a row and a plain scenario", []string{outlineFeature + ":15", "./" + outlineFeature + ":12"},
			[]string{"south", "west"}, []string{outlineFeature + ":12", outlineFeature + ":15"}},
		{"a row and a scenario of another file", []string{outlineFeature + ":11", "testdata/tagged.feature:7"},
			[]string{"alpha", "north"}, []string{outlineFeature + ":11", "testdata/tagged.feature:7"}},
		{"a row of a file run whole", []string{outlineFeature + ":12", outlineFeature},
			[]string{"east", "north", "south", "west"}, []string{outlineFeature + ":11", outlineFeature + ":12", outlineFeature + ":13", outlineFeature + ":15"}},
		{"the outline and one of its rows", []string{outlineFeature + ":5", outlineFeature + ":12"},
			[]string{"east", "north", "south"}, []string{outlineFeature + ":11", outlineFeature + ":12", outlineFeature + ":13"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runByLines(t, tc.paths...)
			slices.Sort(r.html)
			if !slices.Equal(r.devices, tc.devices) || !slices.Equal(r.html, tc.places) || r.junit != len(tc.places) || len(r.cucumber) != len(tc.places) {
				t.Errorf("ran %v at %v (JUnit %d, Cucumber %v); want %v at %v\n%s", r.devices, r.html, r.junit, r.cucumber, tc.devices, tc.places, r.stdout)
			}
		})
	}
}

// TestShardsOfSelectedLines: --shard splits what the lines select, and
// the shards between them run each selected scenario once, nothing else.
func TestShardsOfSelectedLines(t *testing.T) {
	var all []string
	for _, s := range []string{"1/2", "2/2"} {
		r := runByLines(t, "--shard", s, outlineFeature+":11", outlineFeature+":13", outlineFeature+":15")
		if !strings.Contains(r.stderr, "hubspec: shard "+s+": ") || !strings.Contains(r.stderr, " of 3 scenarios\n") {
			t.Errorf("shard %s: %s", s, r.stderr)
		}
		all = append(all, r.html...)
	}
	slices.Sort(all)
	if want := []string{outlineFeature + ":11", outlineFeature + ":13", outlineFeature + ":15"}; !slices.Equal(all, want) {
		t.Errorf("the shards ran %v, want %v", all, want)
	}
}

// TestALineThatStartsNothing: a line that starts no scenario (a step's,
// the Examples header's) stops the run before anything runs, even beside
// a line that does, and says which lines start one.
func TestALineThatStartsNothing(t *testing.T) {
	embeddedEnv(t)
	want := "hubspec: nothing ran: testdata/outline.feature:%d: line %[1]d starts no scenario; the scenarios start at lines 5 and 15, and the Examples rows, each a scenario of its own, at lines 11, 12 and 13\n"
	for _, args := range [][]string{
		{outlineFeature + ":6"},
		{outlineFeature + ":10"},
		{outlineFeature + ":6", outlineFeature + ":12"},
		{"testdata/tagged.feature", outlineFeature + ":6"},
	} {
		status, stdout, stderr := hubspec(t, args...)
		line := 6
		if strings.HasSuffix(args[0], ":10") {
			line = 10
		}
		if status != exitFailed || stderr != fmt.Sprintf(want, line) || stdout != "" {
			t.Errorf("hubspec %v: status %d\nstdout:\n%s\nstderr:\n%s\nwant stderr:\n%s", args, status, stdout, stderr, fmt.Sprintf(want, line))
		}
	}
}

// TestBlankingKeepsEveryLine: the copy godog reads keeps every line where
// it was, the selected scenarios' lines as they were, and blanks the rest,
// inside a Rule, with tags, doc strings and CRLF line ends.
func TestBlankingKeepsEveryLine(t *testing.T) {
	src := strings.Join([]string{
		"@f",                            // 1
		"Feature: F",                    // 2
		"  Background:",                 // 3
		"    Given device \"a\" exists", // 4
		"",                              // 5
		"  @one",                        // 6
		"  Scenario: one",               // 7
		"    When the service patches the twin of device \"a\":", // 8
		"      \"\"\"",                       // 9
		"      {\"tags\": {\"Feature\": 1}}", // 10
		"      \"\"\"",                       // 11
		"",                                   // 12
		"  Rule: R",                          // 13
		"    Scenario Outline: <n>",          // 14
		"      Given device \"<n>\" exists",  // 15
		"      Examples:",                    // 16
		"        | n |",                      // 17
		"        | b |",                      // 18
		"        # a comment",                // 19
		"        | c |",                      // 20
		"      @ex",                          // 21
		"      Examples: more",               // 22
		"        | n |",                      // 23
		"        | d |",                      // 24
		"    Scenario: two",                  // 25
		"      Given device \"e\" exists",    // 26
		"",
	}, "\r\n")
	for _, tc := range []struct {
		picked []int64
		kept   []int   // the lines kept besides 1-4 and 13 (feature, background, rule)
		runs   []int64 // the lines of the scenarios the copy runs
		rows   map[int64]int
	}{
		{[]int64{20}, []int{14, 15, 16, 17, 19, 20, 21, 22, 23}, []int64{20}, map[int64]int{20: 3}},
		{[]int64{24, 7}, []int{6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 17, 19, 21, 22, 23, 24}, []int64{7, 24}, map[int64]int{24: 2}},
		{[]int64{25}, []int{25, 26, 27}, []int64{25}, map[int64]int{}},
		{[]int64{14}, []int{14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24}, []int64{18, 20, 24}, map[int64]int{}},
		{[]int64{5}, nil, nil, map[int64]int{}},
	} {
		content, feature, _ := parseFeature(t, src)
		copied, rows := blankUnselected(content, feature, tc.picked)
		lines, orig := strings.SplitAfter(string(copied), "\n"), strings.SplitAfter(src, "\n")
		if len(lines) != len(orig) {
			t.Fatalf("picked %v: %d lines, want %d", tc.picked, len(lines), len(orig))
		}
		kept := append([]int{1, 2, 3, 4, 13}, tc.kept...)
		for i, l := range lines {
			switch n := i + 1; {
			case slices.Contains(kept, n) && l != orig[i]:
				t.Errorf("picked %v: line %d is %q, want it kept: %q", tc.picked, n, l, orig[i])
			case !slices.Contains(kept, n) && strings.TrimRight(l, "\r\n") != "":
				t.Errorf("picked %v: line %d is %q, want it blank", tc.picked, n, l)
			}
		}
		if fmt.Sprint(rows) != fmt.Sprint(tc.rows) {
			t.Errorf("picked %v: rows numbered %v, want %v", tc.picked, rows, tc.rows)
		}
		if _, _, got := parseFeature(t, string(copied)); !slices.Equal(got, tc.runs) {
			t.Errorf("picked %v: the copy runs the scenarios at %v, want %v", tc.picked, got, tc.runs)
		}
	}
}

// parseFeature parses a feature file's text as godog does: its content,
// its feature, and the lines that run its scenarios alone, in file order.
func parseFeature(t *testing.T, src string) ([]byte, *messages.Feature, []int64) {
	t.Helper()
	feats, err := godog.TestSuite{Options: &godog.Options{FS: fstest.MapFS{"f.feature": {Data: []byte(src)}}, Paths: []string{"f.feature"}}}.RetrieveFeatures()
	if err != nil {
		t.Fatal(err)
	}
	if len(feats) == 0 { // godog leaves out a feature without scenarios
		return []byte(src), nil, nil
	}
	var lines []int64
	idx := indexGherkin(feats[0].GherkinDocument)
	for _, p := range feats[0].Pickles {
		_, line := idx.scenarioHead(p)
		lines = append(lines, line)
	}
	slices.Sort(lines)
	return feats[0].Content, feats[0].Feature, lines
}
