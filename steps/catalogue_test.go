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

// TestEveryFeatureStepReadsAsOneStep: no step of features/ matches two
// registered expressions, or none. Ambiguity is a defect of the
// vocabulary even where godog, without Strict, would quietly pick one.
func TestEveryFeatureStepReadsAsOneStep(t *testing.T) {
	for _, st := range featureSteps(t) {
		var matched []string
		for _, d := range vocabulary.Defs {
			if d.Expr.MatchString(st) {
				matched = append(matched, d.Expr.String())
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
	ex, err := vocabulary.Examples()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range vocabulary.Defs {
		if e, ok := ex[d.Expr.String()]; !ok || !strings.HasPrefix(e.Text, "Given ") && !strings.HasPrefix(e.Text, "When ") && !strings.HasPrefix(e.Text, "Then ") {
			t.Errorf("step %s has no example in features/ (got %q)", d.Template, e.Text)
		}
	}
}

// TestCatalogueIsWhatRegisterRegisters: the steps godog registers through
// the catalogue's Register (its sc.Step call sits in
// internal/vocab/catalogue.go) are exactly the catalogue's, so a step
// registered with a plain sc.Step, which no catalogue would show, fails
// here.
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
	for _, d := range vocabulary.Defs {
		want = append(want, d.Expr.String())
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

// TestClosest: a typo, another form of a word or a word left out still
// finds the step meant, first.
func TestClosest(t *testing.T) {
	for text, want := range map[string]string{
		`the service create device "lamp"`:                        `the service creates device|module "<alias>"`,
		`module "m" recieves a desired patch with "k" equal to 1`: `device|module "<alias>"[ on device "<device>"] receives a desired patch with`,
		`the twin of module "m" has desired "k" equal 1`:          `the twin of device|module "<alias>"[ on device "<device>"][ as the device|module reads it] has|does not have`,
		`device "d" conected`:                                     `device|module "<alias>"[ on device "<device>"] is connected`,
		`the hub refused with 404 DeviceNotFound`:                 `the hub refuses with <status> <error>`,
	} {
		near := vocabulary.Closest(text, 3)
		if len(near) == 0 || !strings.HasPrefix(near[0].Template, want) {
			var got []string
			for _, d := range near {
				got = append(got, d.Template)
			}
			t.Errorf("closest(%q) = %q, want first %q...", text, got, want)
		}
	}
	if near := vocabulary.Closest("zzz qqq", 3); len(near) != 0 {
		t.Errorf("closest to nothing alike: %d steps", len(near))
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
