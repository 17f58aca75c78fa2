package steps

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/cucumber/godog"
)

// The step catalogue: every step of the vocabulary is defined once, as
// data: its domain, its expression, its handler, one sentence saying what
// it does and, where the expression cannot say it, what a parameter means.
// Everything else comes from that one definition: godog's registration
// (register), the variables in every argument (the handler's wrapper,
// variables.go), the check that names the closest steps to a typo and
// both steps of an ambiguous text (suggest.go), and the catalogue that
// `hubspec steps` prints and docs/steps.md holds (catalogue_doc.go), each
// step with an example taken from the features.
//
// The tables are package-level because they are immutable: built once,
// read by every scenario, changed by none.

// The domains, in the order the catalogue shows them. Each is also a tag
// (tags.go), which selects the scenarios about it.
const (
	identities = "identities"
	twins      = "twins"
	mqtt       = "mqtt"
	faults     = "faults"
)

var domains = []string{identities, twins, mqtt, faults}

// stepDef is one step of the vocabulary.
type stepDef struct {
	domain string
	expr   *regexp.Regexp
	run    any    // the handler, wrapped to expand variables (expandVariables)
	doc    string // one sentence: what the step does
	// params describe the expression's capture groups, in order
	// (catalogue_params.go); template is the expression as a reader
	// writes it: device|module "<alias>"[ with its etag]; core is its
	// shortest form, the words any text of the step has (suggest.go).
	params   []param
	template string
	core     string
}

// step defines a step for a table: a `sc.Step(expr, fn)` line becomes
// `step(domain, expr, fn, "What it does."),`. The parameters are described
// from the capture groups; overrides, in the groups' order, replace a
// derived description ("" keeps it), and one written "<key> description"
// names the placeholder too. A mistake here (a handler godog cannot call,
// an override for a group that does not exist) panics when the package
// loads, so no test run can miss it.
func step(domain, expr string, handler any, doc string, overrides ...string) stepDef {
	re := regexp.MustCompile(expr)
	params, template, core, err := describe(expr, overrides)
	if err != nil {
		panic(fmt.Sprintf("step %s: %v", expr, err))
	}
	if n := re.NumSubexp(); n != len(params) {
		panic(fmt.Sprintf("step %s: %d capture groups, %d described", expr, n, len(params)))
	}
	if !slices.Contains(domains, domain) {
		panic(fmt.Sprintf("step %s: unknown domain %q", expr, domain))
	}
	run, err := expandVariables(handler)
	if err != nil {
		panic(fmt.Sprintf("step %s: %v", expr, err))
	}
	return stepDef{domain: domain, expr: re, run: run, doc: doc, params: params, template: template, core: core}
}

// register hands a table's steps to godog.
func register(sc *godog.ScenarioContext, defs []stepDef) {
	for _, d := range defs {
		sc.Step(d.expr, d.run)
	}
}

// catalogue is the whole vocabulary, in the order the catalogue shows it
// within each domain. Each registration function registers its own table
// from Initialize; TestCatalogueIsWhatRegisterRegisters checks that this
// list and what register hands godog agree, so a table cannot be left out
// of either.
var catalogue = slices.Concat(
	identityVocabulary, identityOpVocabulary, rememberIdentityVocabulary,
	twinVocabulary, twinCheckVocabulary, rememberTwinVocabulary,
	mqttVocabulary, connectionVocabulary, bareVocabulary, patchVocabulary, groupVocabulary,
	faultVocabulary, registryRetryVocabulary,
)

// registerCatalogue registers what every catalogued step relies on: fresh
// variables for each scenario (variables.go), and the check of each
// step's text against the vocabulary before godog runs it (suggest.go).
func registerCatalogue(sc *godog.ScenarioContext) {
	sc.Before(freshVariables)
	sc.StepContext().Before(stepCheck(catalogue))
}
