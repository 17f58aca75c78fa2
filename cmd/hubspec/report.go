package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// reportCmd renders a Cucumber JSON file as the HTML report: for runs
// hubspec did not make itself (`go test ./steps` with godog's cucumber
// format), or a report archived by CI and wanted again as a page.
func reportCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("report", "render a Cucumber JSON report as one HTML page.", stderr)
	out := fs.String("html", "", "write the HTML report to `FILE` (parent directories are created)")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return parseStatus(err)
	}
	switch {
	case *out == "":
		return usageError(fs, "--html FILE is required")
	case len(rest) != 1:
		return usageError(fs, "want one Cucumber JSON file, got %d arguments", len(rest))
	}
	// Rendered before the file is touched: a wrong input keeps the old report.
	page, err := renderReport(rest[0], time.Now())
	if err == nil {
		err = os.MkdirAll(filepath.Dir(*out), 0o755)
	}
	if err == nil {
		err = os.WriteFile(*out, page, 0o644)
	}
	if err != nil {
		fmt.Fprintf(stderr, "hubspec: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "hubspec: HTML report %s (%d bytes)\n", *out, len(page))
	return exitPassed
}

// renderReport reads a Cucumber JSON file and returns the HTML report.
func renderReport(cucumberPath string, generated time.Time) ([]byte, error) {
	data, err := os.ReadFile(cucumberPath)
	if err != nil {
		return nil, err
	}
	var page bytes.Buffer
	if err := writeHTMLReport(&page, data, generated); err != nil {
		return nil, fmt.Errorf("%s: %w", cucumberPath, err)
	}
	return page.Bytes(), nil
}

// htmlRun is a run's --html report. Its file is created before the run, so
// a path that cannot be written fails at once (as godog's own report files
// do) rather than after an hour of scenarios; it is rendered after the run
// from the Cucumber JSON godog wrote: the --cucumber file, or a temporary
// one when the run asked for no Cucumber JSON.
type htmlRun struct {
	out      *os.File
	cucumber string
	temp     bool // cucumber is temporary: removed once the run is over
}

func openHTML(path, cucumber string) (*htmlRun, error) {
	out, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	h := &htmlRun{out: out, cucumber: cucumber}
	if cucumber != "" {
		return h, nil
	}
	tmp, err := os.CreateTemp("", "hubspec-cucumber-*.json")
	if err != nil {
		out.Close()
		return nil, err
	}
	tmp.Close() // the run's Cucumber JSON report opens the path itself
	h.cucumber, h.temp = tmp.Name(), true
	return h, nil
}

// finish renders the report once godog has written the Cucumber JSON.
func (h *htmlRun) finish() error {
	defer h.close()
	page, err := renderReport(h.cucumber, time.Now())
	if err != nil {
		return err
	}
	if _, err := h.out.Write(page); err != nil {
		return err
	}
	return h.out.Close()
}

// close releases what the report holds, whether or not the run got as far
// as rendering it; once finish has closed the file, only the temporary
// JSON is left to remove.
func (h *htmlRun) close() {
	h.out.Close()
	if h.temp {
		os.Remove(h.cucumber)
	}
}
