package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/cucumber/godog"
)

// hubspec's own godog formatters: the pretty terminal output, the JUnit XML
// and the Cucumber JSON. godog's write their files through a writer that
// strips colors one character per write call (a system call per byte of a
// report of megabytes: 13 s on a 16 s suite), number JUnit times wrongly
// under concurrency and count skipped scenarios as passed; its pretty
// output mixes the lines of scenarios that run at the same time. These
// write every file through a buffer, whole, once the run is over.
const (
	prettyFormat   = "hubspec-pretty"
	junitFormat    = "hubspec-junit"
	cucumberFormat = "hubspec-cucumber"
)

// godog keeps one global list of formatters, each made from the suite name
// and godog's own writer. A run's writers are therefore registered here
// under a suite name of its own, which every formatter looks up.
var (
	runOutputs sync.Map // suite name → *outputs
	runCount   atomic.Int64
)

func init() {
	godog.Format(prettyFormat, "every scenario whole, as its last step ends", func(suite string, _ io.Writer) godog.Formatter {
		o := outputsOf(suite)
		return newPretty(o.stdout, o.colors)
	})
	godog.Format(junitFormat, "JUnit XML to the --junit file", func(suite string, _ io.Writer) godog.Formatter {
		return newJUnitReport(outputsOf(suite).junit)
	})
	godog.Format(cucumberFormat, "Cucumber JSON to the --cucumber file", func(suite string, _ io.Writer) godog.Formatter {
		o := outputsOf(suite)
		return newCucumberReport(o.cucumber, o.rows)
	})
}

// outputs are where one run's formatters write.
type outputs struct {
	stdout          io.Writer
	colors          bool
	junit, cucumber *reportFile // nil when not asked for
	rows            exampleRows // of the outlines a run by lines selected part of
}

func outputsOf(suite string) *outputs {
	o, ok := runOutputs.Load(suite)
	if !ok {
		panic(fmt.Sprintf("hubspec: formatter for unknown suite %q", suite)) // a programming error: runCmd registers every suite
	}
	return o.(*outputs)
}

// register files o under a new suite name, returned with the function that
// forgets it once the run is over.
func (o *outputs) register() (suite string, forget func()) {
	suite = fmt.Sprintf("hubspec#%d", runCount.Add(1))
	runOutputs.Store(suite, o)
	return suite, func() { runOutputs.Delete(suite) }
}

// formats is godog's formatter list for the run: the terminal format and a
// report per file asked for.
func (o *outputs) formats(terminal string) string {
	format := terminal
	if terminal == "pretty" {
		format = prettyFormat
	}
	if o.junit != nil {
		format += "," + junitFormat
	}
	if o.cucumber != nil {
		format += "," + cucumberFormat
	}
	return format
}

// reportFile is a report being written: created before the run, so a path
// that cannot be written fails at once rather than after an hour of
// scenarios, written through a buffer and closed once the run is over.
type reportFile struct {
	path string
	f    *os.File
	err  error // the first write or close error
}

func createReport(path string) (*reportFile, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &reportFile{path: path, f: f}, nil
}

// write fills the file through a buffer and closes it; the error is kept
// for the run to report (a formatter's Summary returns none).
func (r *reportFile) write(fill func(w io.Writer) error) {
	w := bufio.NewWriterSize(r.f, 256<<10)
	err := fill(w)
	if err == nil {
		err = w.Flush()
	}
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	r.err = err
}

// close releases a file a run never got to write; it returns the error
// that writing it met.
func (r *reportFile) close() error {
	r.f.Close() // already closed once written: the error that counts is r.err
	if r.err != nil {
		return fmt.Errorf("report %s: %w", r.path, r.err)
	}
	return nil
}

// open creates the report files a run asked for (and their directories)
// before it starts. With --html it returns the HTML report, rendered after
// the run from the run's Cucumber JSON: the --cucumber file, or a
// temporary one.
func (o *outputs) open(junit, cucumber, html string) (*htmlRun, error) {
	for _, p := range []string{junit, cucumber, html} {
		if p == "" {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, fmt.Errorf("report %s: %w", p, err)
		}
	}
	var h *htmlRun
	if html != "" {
		var err error
		if h, err = openHTML(html, cucumber); err != nil {
			return nil, fmt.Errorf("report %s: %w", html, err)
		}
		cucumber = h.cucumber
	}
	for _, r := range []struct {
		path string
		to   **reportFile
	}{{junit, &o.junit}, {cucumber, &o.cucumber}} {
		if r.path == "" {
			continue
		}
		f, err := createReport(r.path)
		if err != nil {
			o.close()
			if h != nil {
				h.close()
			}
			return nil, fmt.Errorf("report %s: %w", r.path, err)
		}
		*r.to = f
	}
	return h, nil
}

// close closes the report files and returns the first error writing one
// met; it may be called again.
func (o *outputs) close() error {
	var first error
	for _, r := range []*reportFile{o.junit, o.cucumber} {
		if r == nil {
			continue
		}
		if err := r.close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
