package main

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cucumber/godog"
	messages "github.com/cucumber/messages/go/v21"
)

// pretty is the terminal output: each scenario printed whole once its last
// step has a result, so scenarios that run at the same time never mix
// their lines; each step line ends with where the step is in its feature
// file (what a reader opens), never with the Go function behind it.
type pretty struct {
	out    io.Writer
	colors bool

	mu          sync.Mutex
	start       time.Time
	docs        map[string]*gherkinIndex // by feature URI
	running     map[string]*prettyScenario
	lastFeature string // the feature whose title was printed last
	scenarios   map[string]int
	steps       map[string]int
	failures    []string // the summary's "Failed steps", already laid out
}

type prettyScenario struct {
	pickle  *messages.Pickle
	results []stepOutcome
}

type stepOutcome struct {
	step   *messages.PickleStep
	status string
	err    error
}

func newPretty(out io.Writer, colors bool) *pretty {
	return &pretty{out: out, colors: colors, start: time.Now(), docs: map[string]*gherkinIndex{},
		running: map[string]*prettyScenario{}, scenarios: map[string]int{}, steps: map[string]int{}}
}

func (p *pretty) TestRunStarted() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.start = time.Now()
}

func (p *pretty) Feature(doc *messages.GherkinDocument, uri string, _ []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.docs[uri] = indexGherkin(doc)
}

func (p *pretty) Pickle(pk *messages.Pickle) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running[pk.Id] = &prettyScenario{pickle: pk}
	if len(pk.Steps) == 0 {
		p.finish(p.running[pk.Id])
	}
}

func (p *pretty) Defined(*messages.Pickle, *messages.PickleStep, *godog.StepDefinition) {}

func (p *pretty) Passed(pk *messages.Pickle, st *messages.PickleStep, _ *godog.StepDefinition) {
	p.result(pk, st, "passed", nil)
}

func (p *pretty) Skipped(pk *messages.Pickle, st *messages.PickleStep, _ *godog.StepDefinition) {
	p.result(pk, st, "skipped", nil)
}

func (p *pretty) Undefined(pk *messages.Pickle, st *messages.PickleStep, _ *godog.StepDefinition) {
	p.result(pk, st, "undefined", nil)
}

func (p *pretty) Pending(pk *messages.Pickle, st *messages.PickleStep, _ *godog.StepDefinition) {
	p.result(pk, st, "pending", nil)
}

func (p *pretty) Failed(pk *messages.Pickle, st *messages.PickleStep, _ *godog.StepDefinition, err error) {
	p.result(pk, st, "failed", err)
}

func (p *pretty) Ambiguous(pk *messages.Pickle, st *messages.PickleStep, _ *godog.StepDefinition, err error) {
	p.result(pk, st, "ambiguous", err)
}

// result records a step's outcome; the scenario is printed with its last.
func (p *pretty) result(pk *messages.Pickle, st *messages.PickleStep, status string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.running[pk.Id]
	if !ok {
		s = &prettyScenario{pickle: pk}
		p.running[pk.Id] = s
	}
	s.results = append(s.results, stepOutcome{st, status, err})
	if len(s.results) >= len(pk.Steps) {
		p.finish(s)
	}
}

// finish prints a scenario in one write and counts it.
func (p *pretty) finish(s *prettyScenario) {
	delete(p.running, s.pickle.Id)
	var b strings.Builder
	idx := p.docs[s.pickle.Uri]
	path := featurePath(s.pickle.Uri)
	if p.lastFeature != s.pickle.Uri {
		p.lastFeature = s.pickle.Uri
		fmt.Fprintf(&b, "\n%s\n", p.paint("1;37", idx.featureTitle()))
	}
	statuses := make([]string, len(s.results))
	for i, r := range s.results {
		statuses[i] = r.status
	}
	status := scenarioStatus(statuses)
	p.scenarios[status]++
	keyword, line := idx.scenarioHead(s.pickle)
	head := keyword + ": " + s.pickle.Name
	// The places line up in one column, one space after the longest line.
	column := 2 + utf8.RuneCountInString(head)
	for _, r := range s.results {
		column = max(column, 4+utf8.RuneCountInString(idx.stepKeyword(r.step)+r.step.Text))
	}
	b.WriteString("\n")
	p.lineWithPlace(&b, "  ", head, fmt.Sprintf("%s:%d", path, line), column+1-2-utf8.RuneCountInString(head))
	for _, r := range s.results {
		p.steps[r.status]++
		p.stepLines(&b, idx, path, r, column)
		if r.status == "failed" {
			p.failures = append(p.failures, fmt.Sprintf("  %s # %s:%d\n    %s%s # %s:%d\n      %s %v\n",
				p.paint("31", keyword+": "+s.pickle.Name), path, line,
				p.paint("31", idx.stepKeyword(r.step)), p.paint("31", r.step.Text), path, idx.stepLine(r.step),
				p.paint("31", "Error:"), p.paint("1;31", strings.ReplaceAll(fmt.Sprint(r.err), "\n", "\n             "))))
		}
	}
	io.WriteString(p.out, b.String())
}

// stepLines writes a step, its argument and what went wrong.
func (p *pretty) stepLines(b *strings.Builder, idx *gherkinIndex, path string, r stepOutcome, column int) {
	color := statusColors[r.status]
	kw := idx.stepKeyword(r.step)
	p.lineWithPlace(b, "    ", p.paint(color, kw+r.step.Text), fmt.Sprintf("%s:%d", path, idx.stepLine(r.step)),
		column+1-4-utf8.RuneCountInString(kw+r.step.Text))
	if arg := r.step.Argument; arg != nil {
		if ds := arg.DocString; ds != nil {
			const delim = `"""`
			fmt.Fprintf(b, "      %s\n", p.paint("36", delim+ds.MediaType))
			for _, l := range strings.Split(ds.Content, "\n") {
				fmt.Fprintf(b, "      %s\n", p.paint("36", l))
			}
			fmt.Fprintf(b, "      %s\n", p.paint("36", delim))
		}
		if t := arg.DataTable; t != nil {
			p.table(b, t)
		}
	}
	if r.err != nil {
		for _, l := range strings.Split(fmt.Sprint(r.err), "\n") {
			fmt.Fprintf(b, "    %s\n", p.paint("1;31", l))
		}
	}
	if r.status == "pending" {
		fmt.Fprintf(b, "      %s\n", p.paint("33", "TODO: write pending definition"))
	}
}

// lineWithPlace writes text, then pad spaces and "# place" in grey.
func (p *pretty) lineWithPlace(b *strings.Builder, indent, text, place string, pad int) {
	fmt.Fprintf(b, "%s%s%s%s\n", indent, text, strings.Repeat(" ", max(pad, 1)), p.paint("90", "# "+place))
}

func (p *pretty) table(b *strings.Builder, t *messages.PickleTable) {
	widths := map[int]int{}
	for _, row := range t.Rows {
		for i, c := range row.Cells {
			widths[i] = max(widths[i], utf8.RuneCountInString(c.Value))
		}
	}
	for _, row := range t.Rows {
		cells := make([]string, len(row.Cells))
		for i, c := range row.Cells {
			cells[i] = p.paint("36", c.Value) + strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c.Value))
		}
		fmt.Fprintf(b, "      | %s |\n", strings.Join(cells, " | "))
	}
}

// Summary prints what failed, the counts, the time the run took and its
// seed, after any scenario that never got its last result.
func (p *pretty) Summary() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.running {
		p.finish(s)
	}
	var b strings.Builder
	if len(p.failures) > 0 {
		fmt.Fprintf(&b, "\n--- %s\n\n", p.paint("31", "Failed steps:"))
		for _, f := range p.failures {
			fmt.Fprintf(&b, "%s\n", f)
		}
	}
	fmt.Fprintf(&b, "\n%d scenarios (%s)\n", sum(p.scenarios), p.counts(p.scenarios))
	fmt.Fprintf(&b, "%d steps (%s)\n", sum(p.steps), p.counts(p.steps))
	fmt.Fprintf(&b, "%s\n", time.Since(p.start).Round(time.Millisecond))
	if seed := os.Getenv("GODOG_SEED"); seed != "" && seed != "0" {
		fmt.Fprintf(&b, "\nRandomized with seed: %s\n", p.paint("33", seed))
	}
	io.WriteString(p.out, b.String())
}

// counts is "2 passed, 1 failed" in the order a reader looks for them.
func (p *pretty) counts(by map[string]int) string {
	var parts []string
	for _, s := range []string{"passed", "failed", "skipped", "undefined", "pending", "ambiguous"} {
		if by[s] > 0 {
			parts = append(parts, p.paint(statusColors[s], fmt.Sprintf("%d %s", by[s], s)))
		}
	}
	return strings.Join(parts, ", ")
}

func sum(by map[string]int) int {
	n := 0
	for _, v := range by {
		n += v
	}
	return n
}

var statusColors = map[string]string{"passed": "32", "failed": "31", "skipped": "36", "undefined": "33", "pending": "33", "ambiguous": "33"}

// paint wraps s in an ANSI color when the output wants colors.
func (p *pretty) paint(code, s string) string {
	if !p.colors || code == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// featurePathLine is a trailing ":LINE" godog keeps on the URI of a
// feature run as file.feature:LINE.
var featurePathLine = regexp.MustCompile(`:\d+$`)

// featurePath is a feature's file without the ":LINE" a run may have
// given it, so a place reads file.feature:58, never file.feature:58:58.
func featurePath(uri string) string {
	return featurePathLine.ReplaceAllString(uri, "")
}
