package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestHTMLReportOfOneScenarioByLine: a run of file.feature:LINE shows the
// scenario at file.feature:LINE, and the feature at its file.
func TestHTMLReportOfOneScenarioByLine(t *testing.T) {
	embeddedEnv(t)
	page := filepath.Join(t.TempDir(), "report.html")
	if status, stdout, stderr := hubspec(t, "--html", page, "testdata/tagged.feature:7"); status != exitPassed {
		t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", status, stdout, stderr)
	}
	html := string(readFile(t, page))
	if !strings.Contains(html, `<span class="loc">testdata/tagged.feature:7</span>`) || strings.Contains(html, "tagged.feature:7:7") ||
		!strings.Contains(html, `<span class="uri">testdata/tagged.feature</span>`) {
		t.Errorf("the scenario's place is not testdata/tagged.feature:7:\n%s", regexp.MustCompile(`<span class="(loc|uri)">[^<]*</span>`).FindAllString(html, -1))
	}
}

// TestHTMLReportMarksTheRefusedStep: the ✗ is on the step the hub refused,
// not on the scenario's last step.
func TestHTMLReportMarksTheRefusedStep(t *testing.T) {
	embeddedEnv(t)
	page := filepath.Join(t.TempDir(), "report.html")
	if status, stdout, stderr := hubspec(t, "--html", page, "testdata/refused.feature"); status != exitFailed {
		t.Fatalf("status %d, want 1\nstdout:\n%s\nstderr:\n%s", status, stdout, stderr)
	}
	marks := regexp.MustCompile(`<li class="step st-(\w+)"`).FindAllStringSubmatch(string(readFile(t, page)), -1)
	var got []string
	for _, m := range marks {
		got = append(got, m[1])
	}
	if strings.Join(got, " ") != "passed failed skipped" {
		t.Errorf("steps marked %v, want passed failed skipped", got)
	}
}

// TestHTMLReportShowsWallTime: two scenarios that ran at the same time,
// a second each, took one second of wall time, not two.
func TestHTMLReportShowsWallTime(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	scenario := func(at time.Time) map[string]any {
		s := step("Given ", "a second", "passed", nil)
		s["result"].(map[string]any)["duration"] = int64(time.Second)
		return map[string]any{"keyword": "Scenario", "name": "x", "line": 3, "type": "scenario",
			"start_timestamp": at.Format(time.RFC3339Nano), "steps": []any{s}}
	}
	report := []any{map[string]any{"uri": "f.feature", "keyword": "Feature", "name": "f",
		"elements": []any{scenario(start), scenario(start.Add(100 * time.Millisecond))}}}
	data, err := json.Marshal(report)
	if err != nil {
		t.Fatal(err)
	}
	html := renderFixture(t, data)
	if !strings.Contains(html, "wall time <b>1.10 s</b>") {
		t.Errorf("want wall time 1.10 s: %s", regexp.MustCompile(`(wall time|time in steps) <b>[^<]*</b>`).FindString(html))
	}
	// Without start times (godog's own Cucumber JSON) the page says what
	// it adds up.
	delete(report[0].(map[string]any)["elements"].([]any)[0].(map[string]any), "start_timestamp")
	data, _ = json.Marshal(report)
	if html := renderFixture(t, data); !strings.Contains(html, "time in steps <b>2.00 s</b>") {
		t.Errorf("without start times, want time in steps 2.00 s: %s", regexp.MustCompile(`(wall time|time in steps) <b>[^<]*</b>`).FindString(html))
	}
}

// TestHTMLReportFoldsPolls: attempts of one poll (the same request, the
// same outcome, each with the twin it returned) show as one line that
// opens on them; a different request or outcome breaks the run.
func TestHTMLReportFoldsPolls(t *testing.T) {
	var evs []evidenceView
	for range 4 {
		evs = append(evs, evidenceView{Kind: "http", Title: "GET /twins/house → 200 (1.2 ms)"},
			evidenceView{Kind: "twin", Title: `twin of device "house" as GET returned it`})
	}
	evs = append(evs, evidenceView{Kind: "http", Title: "GET /twins/house → 404 (0.9 ms)"},
		evidenceView{Kind: "http", Title: "PATCH /twins/house → 200 (3.0 ms)"}, evidenceView{Kind: "http", Title: "PATCH /twins/house → 200 (2.0 ms)"})
	got := foldPolls(evs)
	var titles []string
	for _, ev := range got {
		titles = append(titles, ev.Title)
	}
	want := []string{"4 × GET /twins/house → 200", "GET /twins/house → 404 (0.9 ms)", "PATCH /twins/house → 200 (3.0 ms)", "PATCH /twins/house → 200 (2.0 ms)"}
	if strings.Join(titles, "|") != strings.Join(want, "|") || len(got[0].Items) != 8 {
		t.Errorf("folded into %q (first holds %d items), want %q", titles, len(got[0].Items), want)
	}
}
