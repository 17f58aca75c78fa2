package vocab

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/cucumber/godog"
	messages "github.com/cucumber/messages/go/v21"
)

// Before a run starts, the scenarios it will run are checked against the
// vocabulary with nothing but the feature files, so that a mistake costs
// no hub, and is told with its file and line, which a step's failure in
// godog's output does not give: a step no step reads like, a step missing
// the doc string or table it ends with, a value that starts as JSON but is
// not, a JSON doc string that is not, a Scenario Outline placeholder no
// column of its Examples fills in. Each is told once, at its line in the
// file, however many examples rows repeat it.

// Problem is a mistake in a feature file.
type Problem struct {
	File string
	Line int64
	Msg  string
}

func (p Problem) String() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg) }

// Feature is a parsed feature file and the scenarios of it a run will
// run, as godog's RetrieveFeatures returns them.
type Feature struct {
	Doc     *messages.GherkinDocument
	Pickles []*messages.Pickle
}

// Lint checks the scenarios of feats against the vocabulary.
func (c *Catalogue) Lint(feats []Feature) []Problem {
	var problems []Problem
	seen := map[Problem]bool{}
	add := func(p Problem) {
		if !seen[p] {
			seen[p] = true
			problems = append(problems, p)
		}
	}
	for _, f := range feats {
		steps, outlines := astOf(f.Doc)
		for _, p := range f.Pickles {
			for _, st := range p.Steps {
				ast := steps[st.AstNodeIds[0]]
				if ast == nil {
					continue
				}
				for _, msg := range c.stepProblems(st, ast, outlines[p.AstNodeIds[0]]) {
					add(Problem{p.Uri, msg.line, msg.text})
				}
			}
		}
	}
	return problems
}

type lineMsg struct {
	line int64
	text string
}

// stepProblems are the mistakes of one step of a scenario, as the pickle
// runs it (st) and as the file writes it (ast); columns are its outline's
// Examples columns (nil for a plain scenario).
func (c *Catalogue) stepProblems(st *godog.Step, ast *messages.Step, columns []string) []lineMsg {
	at := ast.Location.Line
	if columns != nil {
		if msg := unknownPlaceholders(ast, columns); msg != "" {
			return []lineMsg{{at, msg}}
		}
	}
	if err := c.Check(st.Text); err != nil {
		return []lineMsg{{at, err.Error()}}
	}
	d := c.match(st.Text)
	if err := d.argumentProblem(st.Argument); err != nil {
		return []lineMsg{{at, err.Error()}}
	}
	var out []lineMsg
	if m := d.Expr.FindStringSubmatch(st.Text); m != nil {
		for i, p := range d.params {
			if p.json && !strings.Contains(m[i+1], "${") {
				if err := valueProblem(m[i+1]); err != nil {
					out = append(out, lineMsg{at, err.Error()})
				}
			}
		}
	}
	if doc := ast.DocString; d.args.jsonDoc && doc != nil && st.Argument.DocString != nil && !strings.Contains(st.Argument.DocString.Content, "${") {
		var je *jsonError
		if err := jsonProblem(st.Argument.DocString.Content); errors.As(err, &je) {
			// The content starts on the line after the opening """, and
			// Gherkin takes the indentation of the """ off each line.
			col := int64(je.col) + doc.Location.Column - 1
			out = append(out, lineMsg{doc.Location.Line + int64(je.line), fmt.Sprintf("the doc string is not valid JSON: %s, at column %d", je.msg, col)})
		}
	}
	return out
}

// match is the one step the text reads as (Check has said there is one).
func (c *Catalogue) match(text string) Def {
	for _, d := range c.Defs {
		if d.Expr.MatchString(text) {
			return d
		}
	}
	panic("vocab: match after Check: " + text)
}

var placeholderRe = regexp.MustCompile(`<([^<>]+)>`)

// unknownPlaceholders names the <placeholders> of an outline's step that
// no Examples column fills in: godog sends them as written.
func unknownPlaceholders(st *messages.Step, columns []string) string {
	texts := []string{st.Text}
	if st.DocString != nil {
		texts = append(texts, st.DocString.Content)
	}
	if st.DataTable != nil {
		for _, row := range st.DataTable.Rows {
			for _, cell := range row.Cells {
				texts = append(texts, cell.Value)
			}
		}
	}
	var unknown []string
	for _, t := range texts {
		for _, m := range placeholderRe.FindAllStringSubmatch(t, -1) {
			if !slices.Contains(columns, m[1]) && !slices.Contains(unknown, "<"+m[1]+">") {
				unknown = append(unknown, "<"+m[1]+">")
			}
		}
	}
	if len(unknown) == 0 {
		return ""
	}
	cols := make([]string, len(columns))
	for i, c := range columns {
		cols[i] = "<" + c + ">"
	}
	return fmt.Sprintf("%s is no column of the Examples (they are %s): rename it, or add the column",
		strings.Join(unknown, " and "), strings.Join(cols, ", "))
}

// astOf indexes a document's steps by id, and the Examples columns of
// each Scenario Outline by its id.
func astOf(doc *messages.GherkinDocument) (map[string]*messages.Step, map[string][]string) {
	steps, outlines := map[string]*messages.Step{}, map[string][]string{}
	if doc == nil || doc.Feature == nil {
		return steps, outlines
	}
	var walk func([]*messages.FeatureChild)
	walk = func(children []*messages.FeatureChild) {
		for _, ch := range children {
			var own []*messages.Step
			switch {
			case ch.Rule != nil:
				walk(ruleChildren(ch.Rule))
			case ch.Background != nil:
				own = ch.Background.Steps
			case ch.Scenario != nil:
				own = ch.Scenario.Steps
				for _, ex := range ch.Scenario.Examples {
					if ex.TableHeader == nil {
						continue
					}
					cols := outlines[ch.Scenario.Id]
					if cols == nil {
						cols = []string{}
					}
					for _, cell := range ex.TableHeader.Cells {
						cols = append(cols, cell.Value)
					}
					outlines[ch.Scenario.Id] = cols
				}
			}
			for _, st := range own {
				steps[st.Id] = st
			}
		}
	}
	walk(doc.Feature.Children)
	return steps, outlines
}

// ruleChildren are a Rule's children as a feature's, to walk them alike.
func ruleChildren(r *messages.Rule) []*messages.FeatureChild {
	children := make([]*messages.FeatureChild, len(r.Children))
	for i, ch := range r.Children {
		children[i] = &messages.FeatureChild{Background: ch.Background, Scenario: ch.Scenario}
	}
	return children
}
