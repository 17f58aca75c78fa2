package steps

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/features"
)

// The catalogue as people read it: `hubspec steps` (plain text) and
// docs/steps.md (Markdown), both written from the step tables, the tag
// table and the features' examples, so neither can drift from the steps
// that run. TestStepCatalogueIsCurrent fails when docs/steps.md is not
// what WriteStepMarkdown writes.

// RegenerateDocs is the command that rewrites docs/steps.md, from the
// repository's root; `go generate ./steps` runs it too.
const RegenerateDocs = "go run ./cmd/hubspec steps --markdown > docs/steps.md"

//go:generate sh -c "cd .. && go run ./cmd/hubspec steps --markdown > docs/steps.md"

// WriteStepList writes every catalogued step, by domain, with what it
// does, its parameters and an example from the features.
func WriteStepList(w io.Writer) error {
	ex, err := examples()
	if err != nil {
		return err
	}
	b := bufio.NewWriter(w)
	fmt.Fprintln(b, `Steps by domain, written as a feature writes them: "<alias>" is a name in quotes,
<value> a JSON value, [ ] what may be left out, a|b one of the choices. Any
argument may use a variable the scenario remembered: ${name}. The conventions
and the tags: hubspec steps --markdown (docs/steps.md).`)
	for _, dom := range domains {
		defs := domainSteps(dom)
		if len(defs) == 0 {
			continue
		}
		fmt.Fprintf(b, "\n%s\n", strings.ToUpper(dom))
		for _, d := range defs {
			fmt.Fprintf(b, "\n  %s\n      %s\n", d.template, d.doc)
			for _, p := range documented(d.params) {
				fmt.Fprintf(b, "      %s: %s\n", p.label(), paramDoc(p))
			}
			e := ex[d.expr.String()]
			fmt.Fprintf(b, "      e.g. %s\n", e.text)
			for _, line := range e.arg {
				fmt.Fprintf(b, "             %s\n", line)
			}
		}
	}
	return b.Flush()
}

// WriteStepMarkdown writes docs/steps.md: the conventions, the tags, then
// every catalogued step by domain.
func WriteStepMarkdown(w io.Writer) error {
	ex, err := examples()
	if err != nil {
		return err
	}
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "# Steps\n\n<!-- Written by `%s`; edit the step tables in steps/ instead. -->\n\n", RegenerateDocs)
	b.WriteString(conventions)
	b.WriteString("\n## Tags\n\nA scenario carries its own tags and its feature's. These are all there are: any other tag fails " +
		"its scenario, so a typo cannot quietly change what runs. Choose what runs with `hubspec --tags` or " +
		"`go test ./steps -godog.tags=...`: `@twins`, `@mqtt && ~@slow`, `@identities,@twins`.\n\n| tag | |\n|---|---|\n")
	for _, t := range tagSet {
		fmt.Fprintf(b, "| `%s` | %s |\n", t.name, t.doc)
	}
	for _, dom := range domains {
		defs := domainSteps(dom)
		if len(defs) == 0 {
			continue
		}
		fmt.Fprintf(b, "\n## %s%s\n", strings.ToUpper(dom[:1]), dom[1:])
		for _, d := range defs {
			fmt.Fprintf(b, "\n### `%s`\n\n%s\n\n", d.template, d.doc)
			for _, p := range documented(d.params) {
				fmt.Fprintf(b, "- `%s`: %s\n", p.label(), paramDoc(p))
			}
			e := ex[d.expr.String()]
			fmt.Fprintf(b, "\n```gherkin\n%s\n", e.text)
			for _, line := range e.arg {
				fmt.Fprintf(b, "  %s\n", line)
			}
			b.WriteString("```\n")
		}
	}
	return b.Flush()
}

// domainSteps are a domain's steps, in catalogue order.
func domainSteps(domain string) []stepDef {
	var defs []stepDef
	for _, d := range catalogue {
		if d.domain == domain {
			defs = append(defs, d)
		}
	}
	return defs
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

// conventions open docs/steps.md: how any step is written.
const conventions = "## Writing steps\n\n" +
	"Each step below is shown as a feature writes it; `hubspec steps` prints the same list.\n\n" +
	"- **Aliases.** `\"<alias>\"` is a name in quotes: `device \"house\"`, `module \"thermostat\"`. " +
	"Each scenario gets its own identities on the hub, named `<run prefix>-<alias>-<scenario id>` and " +
	"deleted after it, so scenarios run at once and never see each other's.\n" +
	"- **Choices.** `a|b` means write one of them: `device|module \"<alias>\"` is `device \"house\"` or " +
	"`module \"thermostat\"`. Devices and modules share most steps, as the hub treats them alike; a " +
	"`Scenario Outline` with `| kind | name |` examples runs one scenario for each.\n" +
	"- **Optional parts.** What is in `[ ]` may be left out: " +
	"`the service creates device \"house\"[ with hub-assigned keys|keys of its own]`.\n" +
	"- **Values.** `<value>` is JSON: `122`, `\"slow\"`, `true`, `{\"a\": 1}`, `[1, 2]`; a bare word is a " +
	"string. Values compare as JSON: `122` equals `122.0`, member order does not matter.\n" +
	"- **Doc strings.** A step that ends with `:` takes the JSON document in a doc string (`\"\"\"`) below it.\n" +
	"- **Data tables.** `the modules of device \"<alias>\" are:` takes a one-column table of aliases.\n" +
	"- **Variables.** `the service remembers ... as \"name\"` keeps a value for the rest of the scenario; " +
	"`${name}` then stands for it in any argument: a quoted string (`with etag \"${etag}\"`), a value " +
	"(`greater than ${version}`), a doc string, a table cell. A string stands for its text without quotes, " +
	"so in a JSON document write `\"${mode}\"`; `$${` is a literal `${`. An unknown name fails the step, " +
	"naming the variables defined; a key's value is never shown in a message. A twin's etag is " +
	"`the service remembers \"etag\" of the twin of module \"x\" as \"etag\"`; `the service remembers the etag of " +
	"module \"x\"` is the identity's etag, which a twin write refuses with 412.\n" +
	"- **Etags.** A write may end with an etag phrase: none, or `unconditionally`, sends `If-Match: *`; " +
	"`with its etag` (an identity) or `with the twin's etag` sends the etag the service holds from its last read " +
	"or write; `with a stale etag` the oldest one it saw, once the entity has changed since; " +
	"`with etag \"<text>\"` any etag, e.g. `\"*\"` or `\"${etag}\"`.\n" +
	"- **Refusals.** A refusal from the hub is kept until a `the hub refuses with ...` step checks it " +
	"(`the hub refuses with 409 DeviceAlreadyExists`, or with the 6-digit code: `the hub refuses with 404 " +
	"404001`); write that step right after the action, since other steps do not look at it. A refusal no " +
	"step checks fails the scenario at its end, and a second refusal before the first is checked fails " +
	"its step.\n" +
	"- **Waits and reads.** Checks read the hub afresh and poll until they hold or 10 s pass; waits for " +
	"a patch or a connection have the same deadline. There are no sleeps.\n" +
	"- **Typos.** A step that matches no step below fails, naming the closest ones; a step that matches " +
	"two fails, naming both.\n"

// The catalogue's example of each step is the first step of the built-in
// features that uses it (features by file name, steps in their order,
// Scenario Outlines with their first row of examples): a sentence that
// runs in CI, never one written for the docs that could rot.

// example is a step as a feature writes it.
type example struct {
	text string   // keyword and text: When the service deletes device "house"
	arg  []string // the doc string's lines, or the data table's rows
}

// examples maps each catalogued expression to its example. It parses the
// features once, on first use, and is only read after.
var examples = sync.OnceValues(func() (map[string]example, error) {
	feats, err := godog.TestSuite{Options: &godog.Options{FS: features.FS, Paths: []string{"."}}}.RetrieveFeatures()
	if err != nil {
		return nil, fmt.Errorf("the built-in features: %w", err)
	}
	order := make([]int, len(feats)) // godog's feature type is internal: sort indices
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(feats[a].Uri, feats[b].Uri) })
	found := map[string]example{}
	for _, f := range order {
		for _, p := range feats[f].Pickles {
			for _, st := range p.Steps {
				for _, d := range catalogue {
					if _, seen := found[d.expr.String()]; !seen && d.expr.MatchString(st.Text) {
						found[d.expr.String()] = exampleOf(st)
					}
				}
			}
		}
	}
	return found, nil
})

// exampleOf writes a pickle step the way a feature file does.
func exampleOf(st *godog.Step) example {
	keyword := map[string]string{"Context": "Given", "Action": "When", "Outcome": "Then"}[string(st.Type)]
	e := example{text: strings.TrimSpace(keyword + " " + st.Text)}
	switch arg := st.Argument; {
	case arg == nil:
	case arg.DocString != nil:
		e.arg = append([]string{`"""`}, strings.Split(arg.DocString.Content, "\n")...)
		e.arg = append(e.arg, `"""`)
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
			e.arg = append(e.arg, line)
		}
	}
	return e
}
