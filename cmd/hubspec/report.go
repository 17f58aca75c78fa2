package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// reportCmd renders a Cucumber JSON file as the HTML report: for runs
// hubspec did not make itself (`go test ./steps` with godog's cucumber
// format), or a report archived by CI and wanted again as a page. With
// --merge it merges the reports of a sharded run's parts (report_merge.go)
// into one Cucumber JSON, JUnit XML and HTML report.
func reportCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("report", "render a Cucumber JSON report as one HTML page, or merge the reports of a sharded run.", stderr)
	out := fs.String("html", "", "write the HTML report to `FILE` (parent directories are created)")
	merge := fs.Bool("merge", false, "merge the reports given (each shard's Cucumber JSON and JUnit XML, in any order)\ninto --cucumber, --junit and --html")
	cucumberOut := fs.String("cucumber", "", "with --merge: write the merged Cucumber JSON to `FILE`")
	junitOut := fs.String("junit", "", "with --merge: write the merged JUnit XML to `FILE`")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return parseStatus(err)
	}
	if *merge {
		return mergeCmd(fs, rest, *cucumberOut, *junitOut, *out, stdout, stderr)
	}
	switch {
	case *cucumberOut != "" || *junitOut != "":
		return usageError(fs, "--cucumber and --junit go with --merge")
	case *out == "":
		return usageError(fs, "--html FILE is required")
	case len(rest) != 1:
		return usageError(fs, "want one Cucumber JSON file, got %d arguments", len(rest))
	}
	// Rendered before the file is touched: a wrong input keeps the old report.
	page, err := renderReport(rest[0], time.Now())
	if err == nil {
		err = writeReportFile(*out, page)
	}
	if err != nil {
		fmt.Fprintf(stderr, "hubspec: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "hubspec: HTML report %s (%d bytes)\n", *out, len(page))
	return exitPassed
}

// mergeCmd is report --merge.
func mergeCmd(fs *flag.FlagSet, inputs []string, cucumberOut, junitOut, htmlOut string, stdout, stderr io.Writer) int {
	switch {
	case cucumberOut == "" && junitOut == "" && htmlOut == "":
		return usageError(fs, "--merge writes --cucumber FILE, --junit FILE or --html FILE: name at least one")
	case len(inputs) == 0:
		return usageError(fs, "--merge needs the reports to merge")
	}
	in, err := classifyReports(inputs)
	if err == nil {
		var written []string
		written, err = mergeReports(in, cucumberOut, junitOut, htmlOut, func(cuke []byte) ([]byte, error) {
			var page bytes.Buffer
			err := writeHTMLReport(&page, cuke, time.Now())
			return page.Bytes(), err
		})
		for _, w := range written {
			fmt.Fprintf(stdout, "hubspec: merged %d reports into %s\n", len(inputs), w)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "hubspec: %v\n", err)
		return exitFailed
	}
	return exitPassed
}

// writeReportFile writes a report, creating its directory.
func writeReportFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
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
