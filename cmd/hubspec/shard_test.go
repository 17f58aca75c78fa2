package main

import (
	"encoding/json"
	"encoding/xml"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/features"
)

func TestParseShard(t *testing.T) {
	for in, want := range map[string]shard{"": {1, 1}, "1/1": {1, 1}, "2/4": {2, 4}, " 3 / 3 ": {3, 3}} {
		if got, err := parseShard(in); err != nil || got != want {
			t.Errorf("parseShard(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"0/4", "5/4", "1/0", "2", "a/b", "1/-2", "/4"} {
		if _, err := parseShard(bad); err == nil || !strings.Contains(err.Error(), "want i/n") {
			t.Errorf("parseShard(%q): %v, want a usage error", bad, err)
		}
	}
}

// TestShardsSplitTheSuite: the built-in suite's n shards hold every
// scenario exactly once, are balanced to within the largest outline, and
// come out the same every time they are computed.
func TestShardsSplitTheSuite(t *testing.T) {
	opts := godog.Options{FS: features.FS, Paths: []string{"."}, Tags: defaultTags}
	units, err := shardUnits(opts)
	if err != nil {
		t.Fatal(err)
	}
	total, largest := 0, 0
	for _, u := range units {
		total += u.scenarios
		largest = max(largest, u.scenarios)
	}
	for _, n := range []int{2, 3, 7} {
		seen := map[string]int{}
		var sizes []int
		for i := 1; i <= n; i++ {
			paths, size, err := shard{i, n}.paths(opts)
			if err != nil {
				t.Fatal(err)
			}
			again, _, _ := shard{i, n}.paths(opts)
			if !slices.Equal(paths, again) {
				t.Fatalf("shard %d/%d differs between two computations", i, n)
			}
			for _, p := range paths {
				seen[p]++
			}
			sizes = append(sizes, size)
		}
		if len(seen) != len(units) {
			t.Errorf("%d shards hold %d of %d scenarios", n, len(seen), len(units))
		}
		for p, c := range seen {
			if c != 1 {
				t.Errorf("%d shards: %s is in %d of them", n, p, c)
			}
		}
		sum := 0
		for _, s := range sizes {
			sum += s
		}
		if sum != total || slices.Max(sizes)-slices.Min(sizes) > largest {
			t.Errorf("%d shards hold %v scenarios (sum %d of %d, the largest unit %d)", n, sizes, sum, total, largest)
		}
	}
}

// TestShardedRunMergesIntoOneReport: a suite run as two shards, each with
// its own reports, merges into one Cucumber JSON, JUnit XML and HTML page
// holding every scenario once, under each feature's file; a shard with no
// scenario passes.
func TestShardedRunMergesIntoOneReport(t *testing.T) {
	embeddedEnv(t)
	dir := t.TempDir()
	var reports []string
	for _, s := range []string{"1/2", "2/2"} {
		n := strings.ReplaceAll(s, "/", "of")
		c, j := filepath.Join(dir, n+".json"), filepath.Join(dir, n+".xml")
		status, stdout, stderr := hubspec(t, "--shard", s, "--cucumber", c, "--junit", j, "--format", "progress", "testdata/tagged.feature", "testdata/skipped.feature")
		if status != exitPassed || !strings.Contains(stderr, "hubspec: shard "+s+": ") {
			t.Fatalf("shard %s: status %d\nstdout:\n%s\nstderr:\n%s", s, status, stdout, stderr)
		}
		reports = append(reports, c, j)
	}
	whole := filepath.Join(dir, "whole.json")
	if status, _, stderr := hubspec(t, "--cucumber", whole, "--format", "progress", "testdata/tagged.feature", "testdata/skipped.feature"); status != exitPassed {
		t.Fatalf("whole run: %s", stderr)
	}

	out := filepath.Join(dir, "merged")
	status, stdout, stderr := hubspec(t, "report", "--merge", "--cucumber", out+".json", "--junit", out+".xml", "--html", out+".html", reports[0], reports[1], reports[2], reports[3])
	if status != exitPassed || strings.Count(stdout, "merged 4 reports") != 3 {
		t.Fatalf("merge: status %d\nstdout:\n%s\nstderr:\n%s", status, stdout, stderr)
	}
	if got, want := cucumberScenarios(t, out+".json"), cucumberScenarios(t, whole); !maps.Equal(got, want) {
		t.Errorf("merged Cucumber JSON holds %v, the whole run %v", got, want)
	}
	var junit junitSuites
	data, _ := os.ReadFile(out + ".xml")
	if err := xml.Unmarshal(data, &junit); err != nil {
		t.Fatal(err)
	}
	want := cucumberScenarios(t, whole)
	if junit.Tests != len(want) || len(junit.Suites) != 2 {
		t.Errorf("merged JUnit: %d tests in %d suites, want %d in 2", junit.Tests, len(junit.Suites), len(want))
	}
	if page, err := os.ReadFile(out + ".html"); err != nil || !strings.Contains(string(page), "The beta scenario") {
		t.Errorf("merged HTML report: %v", err)
	}

	status, _, stderr = hubspec(t, "--shard", "5/5", "testdata/tagged.feature")
	if status != exitPassed || !strings.Contains(stderr, "shard 5/5: 0 of 2 scenarios") {
		t.Errorf("an empty shard: status %d, stderr %s", status, stderr)
	}
}

// cucumberScenarios counts the scenarios of a Cucumber JSON report by
// feature file and scenario name.
func cucumberScenarios(t *testing.T, path string) map[string]int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var feats []struct {
		URI      string `json:"uri"`
		Elements []struct {
			Name string `json:"name"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(data, &feats); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, f := range feats {
		for _, e := range f.Elements {
			out[f.URI+" "+e.Name]++
		}
	}
	return out
}

// TestMergeRefusesWhatItCannotMerge: a file that is no report, and an
// output whose kind of report was not given, fail without writing.
func TestMergeRefusesWhatItCannotMerge(t *testing.T) {
	dir := t.TempDir()
	notReport := filepath.Join(dir, "notes.txt")
	os.WriteFile(notReport, []byte("hello"), 0o644)
	cuke := filepath.Join(dir, "c.json")
	os.WriteFile(cuke, []byte("[]"), 0o644)
	out := filepath.Join(dir, "out.xml")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--junit", out, notReport}, "neither a Cucumber JSON nor a JUnit XML"},
		{[]string{"--junit", out, cuke}, "--junit merges JUnit XML reports, and none was given"},
	} {
		status, _, stderr := hubspec(t, append([]string{"report", "--merge"}, tc.args...)...)
		if status != exitFailed || !strings.Contains(stderr, tc.want) {
			t.Errorf("report --merge %v: status %d, stderr %q", tc.args, status, stderr)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("report --merge %v wrote %s", tc.args, out)
		}
	}
	if status, _, stderr := hubspec(t, "report", "--merge", cuke); status != exitUsage || !strings.Contains(stderr, "name at least one") {
		t.Errorf("no output: status %d, stderr %q", status, stderr)
	}
}
