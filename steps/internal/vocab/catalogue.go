// Package vocab is the engine behind Hubspec's step vocabulary: a step is
// defined once, as data (its domain, its expression, its handler, one
// sentence saying what it does and, where the expression cannot say it,
// what a parameter means), and everything else comes from that one
// definition: godog's registration (Register), the variables in every
// argument (the handler's wrapper, variables.go), the check that names the
// closest steps to a typo and both steps of an ambiguous text
// (suggest.go), and the catalogue people read, each step with an example
// taken from the features (docs.go).
//
// The step definitions themselves, and what they do to a hub, are the
// steps package's; this package knows nothing of hubs.
package vocab

import (
	"context"
	"fmt"
	"io/fs"
	"reflect"
	"regexp"
	"slices"
	"sync"

	"github.com/cucumber/godog"
)

// Def is one step of the vocabulary.
type Def struct {
	Domain string
	Expr   *regexp.Regexp
	Doc    string // one sentence: what the step does
	// Template is the expression as a reader writes it:
	// device|module "<alias>"[ with its etag].
	Template string

	run    any       // the handler, wrapped to expand variables (wrap)
	params []param   // the expression's capture groups, in order (params.go)
	args   *argRules // what the wrapper checks of its arguments (arguments.go)
	core   string    // the shortest form: the words any text of the step has (suggest.go)
}

// New defines a step: a `sc.Step(expr, fn)` line becomes
// `vocab.New(domain, expr, fn, "What it does.")`. The parameters are
// described from the capture groups; overrides, in the groups' order,
// replace a derived description ("" keeps it), and one written "<key>
// description" names the placeholder too. A mistake here (a handler godog
// cannot call, an override for a group that does not exist) panics, and
// since step tables are package-level, it panics when the package loads,
// so no test run can miss it.
func New(domain, expr string, handler any, doc string, overrides ...string) Def {
	re := regexp.MustCompile(expr)
	params, template, core, err := describe(expr, overrides)
	if err != nil {
		panic(fmt.Sprintf("step %s: %v", expr, err))
	}
	if n := re.NumSubexp(); n != len(params) {
		panic(fmt.Sprintf("step %s: %d capture groups, %d described", expr, n, len(params)))
	}
	rules := &argRules{params: params}
	run, err := wrap(handler, rules.check)
	if err != nil {
		panic(fmt.Sprintf("step %s: %v", expr, err))
	}
	if n := captures(reflect.TypeOf(run)); n != re.NumSubexp() {
		panic(fmt.Sprintf("step %s: %d capture groups, the handler takes %d", expr, re.NumSubexp(), n))
	}
	return Def{Domain: domain, Expr: re, Doc: doc, Template: template, run: run, params: params, core: core, args: rules}
}

// Catalogue is a whole vocabulary: its domains, in the order the catalogue
// shows them, and its steps, in the order the catalogue shows them within
// each domain. It is immutable: built once, read by every scenario,
// changed by none.
type Catalogue struct {
	Domains  []string
	Defs     []Def
	examples func() (map[string]Example, error)
}

// NewCatalogue makes a catalogue of the tables' steps, whose examples are
// taken from the features in fsys (nil: none). A step of a domain not
// listed panics, as New does.
func NewCatalogue(domains []string, fsys fs.FS, tables ...[]Def) *Catalogue {
	c := &Catalogue{Domains: domains, Defs: slices.Concat(tables...)}
	for _, d := range c.Defs {
		if !slices.Contains(domains, d.Domain) {
			panic(fmt.Sprintf("step %s: unknown domain %q", d.Expr, d.Domain))
		}
	}
	c.examples = sync.OnceValues(func() (map[string]Example, error) { return findExamples(fsys, c.Defs) })
	return c
}

// Register hands every step to godog, with what every step relies on:
// fresh variables for each scenario (variables.go), and the check of each
// step's text against the vocabulary before godog runs it (suggest.go).
func (c *Catalogue) Register(sc *godog.ScenarioContext) {
	sc.Before(freshVariables)
	sc.StepContext().Before(func(ctx context.Context, st *godog.Step) (context.Context, error) {
		return ctx, c.CheckStep(st)
	})
	for _, d := range c.Defs {
		sc.Step(d.Expr, d.run)
	}
}

// InDomain are a domain's steps, in catalogue order.
func (c *Catalogue) InDomain(domain string) []Def {
	var defs []Def
	for _, d := range c.Defs {
		if d.Domain == domain {
			defs = append(defs, d)
		}
	}
	return defs
}
