package steps

import (
	"bytes"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cucumber/godog"
	"github.com/cucumber/godog/colors"
	"github.com/hubspec/hubspec/harness"
)

// TestDescribe: the template and parameters the catalogue reads from an
// expression, and the overrides that rename or redescribe them.
func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		expr      string
		overrides []string
		template  string
		params    []string // label: doc, "optional; " when it may be left out
	}{
		{`^(device|module) "([^"]+)" disconnects$`, nil,
			`device|module "<alias>" disconnects`,
			[]string{"device|module: ", "<alias>: " + derived[`[^"]+`].doc}},
		{`^the service creates (\d+) modules on device "([^"]+)"$`, []string{"", "<device> the device"},
			`the service creates <N> modules on device "<device>"`,
			[]string{"<N>: a whole number", "<device>: the device"}},
		{`^x (.+?)( with its etag| with etag "[^"]*")?$`, []string{"", "how it is guarded"},
			`x <value>[ with its etag|with etag "<text>"]`,
			[]string{"<value>: " + jsonValueDoc, `with its etag|with etag "<text>": optional; how it is guarded`}},
		{`^a (?:b|c)(?: by (\d{3}))? (has gone up(?: by \d+)?|is unchanged)$`, nil,
			`a b|c[ by <status>] has gone up[ by <N>]|is unchanged`,
			[]string{"<status>: optional; an HTTP status code, e.g. 404", "has gone up[ by <N>]|is unchanged: "}},
		{`^t (has|has not)(?: (equal to|less than) (.+)| of type (number|string))?$`, nil,
			`t has|has not[ (equal to|less than) <value>| of type (number|string)]`,
			[]string{"has|has not: ", "equal to|less than: optional; ", "<value>: optional; " + jsonValueDoc, "number|string: optional; "}},
	} {
		params, template, _, err := describe(tc.expr, tc.overrides)
		if err != nil {
			t.Errorf("describe(%s): %v", tc.expr, err)
			continue
		}
		var got []string
		for _, p := range params {
			got = append(got, p.label()+": "+paramDoc(p))
		}
		if template != tc.template || !slices.Equal(got, tc.params) {
			t.Errorf("describe(%s)\n got %s %q\nwant %s %q", tc.expr, template, got, tc.template, tc.params)
		}
	}
	for _, bad := range []string{`^a (b$`, `^a [b$`, `^a (b)+$`, `^a\`} {
		if _, _, _, err := describe(bad, nil); err == nil {
			t.Errorf("describe(%s): no error", bad)
		}
	}
	if _, _, _, err := describe(`^a (b)$`, []string{"", "x"}); err == nil {
		t.Error("an override for a group that does not exist: no error")
	}
}

// TestEveryFeatureStepReadsAsOneStep: no step of features/ matches two
// registered expressions, or none. Ambiguity is a defect of the
// vocabulary even where godog, without Strict, would quietly pick one.
func TestEveryFeatureStepReadsAsOneStep(t *testing.T) {
	for _, st := range featureSteps(t) {
		var matched []string
		for _, d := range catalogue {
			if d.expr.MatchString(st) {
				matched = append(matched, d.expr.String())
			}
		}
		if len(matched) != 1 {
			t.Errorf("step %q matches %d expressions: %q", st, len(matched), matched)
		}
	}
}

// TestEveryStepHasAnExample: each catalogued step is used by a feature,
// which gives the catalogue its example; a step no feature uses is a step
// no scenario proves.
func TestEveryStepHasAnExample(t *testing.T) {
	ex, err := examples()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range catalogue {
		if e, ok := ex[d.expr.String()]; !ok || !strings.HasPrefix(e.text, "Given ") && !strings.HasPrefix(e.text, "When ") && !strings.HasPrefix(e.text, "Then ") {
			t.Errorf("step %s has no example in features/ (got %q)", d.template, e.text)
		}
	}
}

// TestCatalogueIsWhatRegisterRegisters: the steps godog registers through
// register (their definitions sit in catalogue.go) are exactly the
// catalogue's, so a table registered but left out of the catalogue, or
// catalogued but never registered, fails here, and so does a step
// registered with a plain sc.Step, which no catalogue would show.
func TestCatalogueIsWhatRegisterRegisters(t *testing.T) {
	var out bytes.Buffer
	godog.TestSuite{
		ScenarioInitializer: Initialize(&harness.Run{}),
		Options:             &godog.Options{ShowStepDefinitions: true, Format: "progress", Output: colors.Uncolored(&out)},
	}.Run()
	var viaRegister, want []string
	for line := range strings.Lines(out.String()) {
		expr, location, ok := strings.Cut(line, " # ")
		switch {
		case !ok:
		case strings.HasPrefix(location, "catalogue.go:"):
			viaRegister = append(viaRegister, strings.TrimSpace(expr))
		default:
			t.Errorf("registered outside the catalogue: %s", strings.TrimSpace(line))
		}
	}
	for _, d := range catalogue {
		want = append(want, d.expr.String())
	}
	slices.Sort(viaRegister)
	slices.Sort(want)
	if !slices.Equal(viaRegister, want) {
		t.Errorf("registered through the tables:\n%s\ncatalogue:\n%s", strings.Join(viaRegister, "\n"), strings.Join(want, "\n"))
	}
}

// TestStepCatalogueIsCurrent: docs/steps.md is what the catalogue writes.
func TestStepCatalogueIsCurrent(t *testing.T) {
	var want bytes.Buffer
	if err := WriteStepMarkdown(&want); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../docs/steps.md")
	if err != nil || !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("docs/steps.md is not the current catalogue (%v); regenerate it from the repository root:\n  %s", err, RegenerateDocs)
	}
}

// TestWriteStepList: the plain list shows each step with its description,
// its parameters and its example, by domain.
func TestWriteStepList(t *testing.T) {
	var out bytes.Buffer
	if err := WriteStepList(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`\nIDENTITIES\n\n  the service creates device\|module "<alias>"\[ on device "<device>"\]\[ with hub-assigned keys\|keys of its own\]\n      The service creates .*\n      <alias>: .*\n      <device>: optional; .*\n      e\.g\. When the service creates .*\n`),
		regexp.MustCompile(`\nTWINS\n`),
		regexp.MustCompile(`\n      e\.g\. Then the modules of device "house" are:\n             \| thermostat \|\n`),
	} {
		if !want.Match(out.Bytes()) {
			t.Errorf("the list does not match %s:\n%s", want, out.String())
		}
	}
}

// featureSteps are the distinct texts of the steps of features/,
// outlines expanded.
func featureSteps(t *testing.T) []string {
	t.Helper()
	feats, err := godog.TestSuite{Options: &godog.Options{Paths: []string{"../features"}}}.RetrieveFeatures()
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, ft := range feats {
		for _, p := range ft.Pickles {
			for _, st := range p.Steps {
				if !slices.Contains(texts, st.Text) {
					texts = append(texts, st.Text)
				}
			}
		}
	}
	if len(texts) == 0 {
		t.Fatal("no steps in features/")
	}
	return texts
}
