package vocab

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"

	"github.com/cucumber/godog"
)

// The catalogue as people read it, as plain text (WriteList) or Markdown
// (WriteMarkdown): every step by domain, with what it does, its parameters
// and an example from the features, so that neither can drift from the
// steps that run.

// WriteList writes intro, then every step by domain, in plain text.
func (c *Catalogue) WriteList(w io.Writer, intro string) error {
	ex, err := c.Examples()
	if err != nil {
		return err
	}
	b := bufio.NewWriter(w)
	b.WriteString(intro)
	for _, dom := range c.Domains {
		defs := c.InDomain(dom)
		if len(defs) == 0 {
			continue
		}
		fmt.Fprintf(b, "\n%s\n", strings.ToUpper(dom))
		for _, d := range defs {
			fmt.Fprintf(b, "\n  %s\n      %s\n", d.Template, d.Doc)
			for _, p := range documented(d.params) {
				fmt.Fprintf(b, "      %s: %s\n", p.label(), paramDoc(p))
			}
			e := ex[d.Expr.String()]
			fmt.Fprintf(b, "      e.g. %s\n", e.Text)
			for _, line := range e.Arg {
				fmt.Fprintf(b, "             %s\n", line)
			}
		}
	}
	return b.Flush()
}

// WriteMarkdown writes intro, then every step by domain, a section each,
// in Markdown.
func (c *Catalogue) WriteMarkdown(w io.Writer, intro string) error {
	ex, err := c.Examples()
	if err != nil {
		return err
	}
	b := bufio.NewWriter(w)
	b.WriteString(intro)
	for _, dom := range c.Domains {
		defs := c.InDomain(dom)
		if len(defs) == 0 {
			continue
		}
		fmt.Fprintf(b, "\n## %s%s\n", strings.ToUpper(dom[:1]), dom[1:])
		for _, d := range defs {
			fmt.Fprintf(b, "\n### `%s`\n\n%s\n", d.Template, d.Doc)
			if params := documented(d.params); len(params) > 0 {
				b.WriteString("\n") // a step without parameters has no list
				for _, p := range params {
					fmt.Fprintf(b, "- `%s`: %s\n", p.label(), paramDoc(p))
				}
			}
			e := ex[d.Expr.String()]
			fmt.Fprintf(b, "\n```gherkin\n%s\n", e.Text)
			for _, line := range e.Arg {
				fmt.Fprintf(b, "  %s\n", line)
			}
			b.WriteString("```\n")
		}
	}
	return b.Flush()
}

// documented are the parameters a reader needs explained: choices the
// template shows in full, a|b, speak for themselves.
func documented(params []param) []param {
	var ps []param
	for _, p := range params {
		if p.doc != "" {
			ps = append(ps, p)
		}
	}
	return ps
}

// paramDoc is a parameter's description, saying when it may be left out.
func paramDoc(p param) string {
	if p.optional {
		return "optional; " + p.doc
	}
	return p.doc
}

// The catalogue's example of each step is the first step of the built-in
// features that uses it (features by file name, steps in their order,
// Scenario Outlines with their first row of examples): a sentence that
// runs in CI, never one written for the docs that could rot.

// Example is a step as a feature writes it.
type Example struct {
	Text string   // keyword and text: When the service deletes device "house"
	Arg  []string // the doc string's lines, or the data table's rows
}

// Examples maps each step's expression to its example. It parses the
// features once, on first use, and is only read after.
func (c *Catalogue) Examples() (map[string]Example, error) { return c.examples() }

// findExamples parses the features in fsys and finds each step's example.
func findExamples(fsys fs.FS, defs []Def) (map[string]Example, error) {
	found := map[string]Example{}
	if fsys == nil {
		return found, nil
	}
	feats, err := godog.TestSuite{Options: &godog.Options{FS: fsys, Paths: []string{"."}}}.RetrieveFeatures()
	if err != nil {
		return nil, fmt.Errorf("the built-in features: %w", err)
	}
	order := make([]int, len(feats)) // godog's feature type is internal: sort indices
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(feats[a].Uri, feats[b].Uri) })
	for _, f := range order {
		for _, p := range feats[f].Pickles {
			for _, st := range p.Steps {
				for _, d := range defs {
					if _, seen := found[d.Expr.String()]; !seen && d.Expr.MatchString(st.Text) {
						found[d.Expr.String()] = exampleOf(st)
					}
				}
			}
		}
	}
	return found, nil
}

// exampleOf writes a pickle step the way a feature file does.
func exampleOf(st *godog.Step) Example {
	keyword := map[string]string{"Context": "Given", "Action": "When", "Outcome": "Then"}[string(st.Type)]
	e := Example{Text: strings.TrimSpace(keyword + " " + st.Text)}
	switch arg := st.Argument; {
	case arg == nil:
	case arg.DocString != nil:
		e.Arg = append([]string{`"""`}, strings.Split(arg.DocString.Content, "\n")...)
		e.Arg = append(e.Arg, `"""`)
	case arg.DataTable != nil:
		widths := map[int]int{}
		for _, row := range arg.DataTable.Rows {
			for i, c := range row.Cells {
				widths[i] = max(widths[i], len([]rune(c.Value)))
			}
		}
		for _, row := range arg.DataTable.Rows {
			line := "|"
			for i, c := range row.Cells {
				line += " " + c.Value + strings.Repeat(" ", widths[i]-len([]rune(c.Value))) + " |"
			}
			e.Arg = append(e.Arg, line)
		}
	}
	return e
}
