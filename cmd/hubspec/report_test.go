package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRunWritesHTMLReport: --html alone renders the page from a temporary
// Cucumber JSON, which is gone once the run is over.
func TestRunWritesHTMLReport(t *testing.T) {
	embeddedEnv(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where the temporary Cucumber JSON goes
	page := filepath.Join(t.TempDir(), "deep", "report.html")

	status, stdout, stderr := hubspec(t, "--html", page, "--format", "progress", "testdata/failing.feature", "testdata/tagged.feature")
	if status != exitFailed {
		t.Fatalf("status %d, want 1\nstdout:\n%s\nstderr:\n%s", status, stdout, stderr)
	}
	html := string(readFile(t, page))
	for _, want := range []string{
		"<title>Hubspec report: failed</title>",
		"A first-time creation expected to be refused",
		"The alpha scenario",
		"expected the hub to refuse with 409 DeviceAlreadyExists, but it accepted",
		`data-status="failed" open>`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("the run left %s in the temporary directory", left[0].Name())
	}
}

// TestReportRendersWhatRunRendered: `hubspec report` on a run's Cucumber
// JSON makes the page the run made, but for the time it was generated.
func TestReportRendersWhatRunRendered(t *testing.T) {
	embeddedEnv(t)
	dir := t.TempDir()
	cucumber, fromRun, fromReport := filepath.Join(dir, "c.json"), filepath.Join(dir, "run.html"), filepath.Join(dir, "x", "report.html")
	if status, stdout, stderr := hubspec(t, "--html", fromRun, "--cucumber", cucumber, "testdata/tagged.feature"); status != exitPassed {
		t.Fatalf("run: status %d\nstdout:\n%s\nstderr:\n%s", status, stdout, stderr)
	}
	status, stdout, stderr := hubspec(t, "report", cucumber, "--html", fromReport)
	if status != exitPassed || !strings.Contains(stdout, "HTML report "+fromReport) {
		t.Fatalf("report: status %d\nstdout:\n%s\nstderr:\n%s", status, stdout, stderr)
	}
	generated := regexp.MustCompile(`generated <b>[^<]*</b>`)
	a := generated.ReplaceAllString(string(readFile(t, fromRun)), "")
	b := generated.ReplaceAllString(string(readFile(t, fromReport)), "")
	if a != b || !strings.Contains(a, "The beta scenario") {
		t.Errorf("the pages differ, or lack the scenarios:\n%s\n----\n%s", a, b)
	}
}

func TestReportCommandErrors(t *testing.T) {
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "not.json")
	old := filepath.Join(dir, "old.html")
	for path, body := range map[string]string{notJSON: "<html>", old: "the old report"} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		args []string
		want int
		hint string
	}{
		{"no --html", []string{"report", notJSON}, exitUsage, "--html FILE is required"},
		{"no input", []string{"report", "--html", old}, exitUsage, "got 0 arguments"},
		{"two inputs", []string{"report", "--html", old, notJSON, notJSON}, exitUsage, "got 2 arguments"},
		{"missing input", []string{"report", "--html", old, filepath.Join(dir, "none.json")}, exitFailed, "no such file"},
		{"not Cucumber JSON", []string{"report", "--html", old, notJSON}, exitFailed, "read Cucumber JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, stderr := hubspec(t, tc.args...)
			if status != tc.want || !strings.Contains(stderr, tc.hint) {
				t.Errorf("status %d, want %d; stderr lacks %q:\n%s", status, tc.want, tc.hint, stderr)
			}
		})
	}
	if got := string(readFile(t, old)); got != "the old report" {
		t.Errorf("a failed report overwrote the old one: %q", got)
	}
	if status, stdout, _ := hubspec(t, "help"); status != exitPassed || !strings.Contains(stdout, "hubspec report --html FILE") {
		t.Errorf("help does not list report:\n%s", stdout)
	}
}
