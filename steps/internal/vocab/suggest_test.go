package vocab

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cucumber/godog"
)

// lampSteps overlap: "the lamp is on" reads as both.
var lampSteps = NewCatalogue([]string{"lamp"}, nil, []Def{
	New("lamp", `^the lamp (is|turns) on$`, func(context.Context, string) error { return nil }, "One."),
	New("lamp", `^the lamp is (on|off)$`, func(context.Context, string) error { return nil }, "Two."),
})

// runLamp runs a feature over lampSteps, with or without the step check,
// and returns godog's status and output.
func runLamp(t *testing.T, feature string, strict, check bool) (int, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lamp.feature")
	if err := os.WriteFile(path, []byte(feature), 0o600); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	status := godog.TestSuite{
		ScenarioInitializer: func(sc *godog.ScenarioContext) {
			if check {
				lampSteps.Register(sc)
				return
			}
			for _, d := range lampSteps.Defs {
				sc.Step(d.Expr, d.run)
			}
		},
		Options: &godog.Options{Format: "pretty", Paths: []string{path}, Strict: strict, Output: &out, NoColors: true},
	}.Run()
	return status, out.String()
}

// TestAmbiguousAndUndefinedStepsFail: godog v0.15.1 reports a step that
// matches two expressions (ErrAmbiguous) only under Strict, and otherwise
// runs the first registered; the step check fails it either way, naming
// both steps. A typo fails either way too, naming the closest step.
func TestAmbiguousAndUndefinedStepsFail(t *testing.T) {
	const ambiguous = "Feature: Lamp\n  Scenario: On\n    Then the lamp is on\n"
	if status, out := runLamp(t, ambiguous, false, false); status != 0 {
		t.Fatalf("godog without Strict: status %d, want the first step run:\n%s", status, out)
	}
	if status, out := runLamp(t, ambiguous, true, false); status == 0 || !strings.Contains(out, "ambiguous step definition") {
		t.Fatalf("godog under Strict: status %d, want ErrAmbiguous:\n%s", status, out)
	}
	for _, strict := range []bool{false, true} {
		status, out := runLamp(t, ambiguous, strict, true)
		for _, want := range []string{"ambiguous step (it reads as 2 steps): the lamp is on\n", "the lamp is|turns on", "the lamp is on|off", "1 failed"} {
			if status == 0 || !strings.Contains(out, want) {
				t.Errorf("strict %v: status %d, output lacks %q:\n%s", strict, status, want, out)
			}
		}
		status, out = runLamp(t, "Feature: Lamp\n  Scenario: Off\n    Then the lamp turnz on\n", strict, true)
		for _, want := range []string{"no step reads like this: the lamp turnz on\nthe closest steps:", "\n  the lamp is|turns on\n", "1 failed"} {
			if status == 0 || !strings.Contains(out, want) {
				t.Errorf("strict %v: status %d, output lacks %q:\n%s", strict, status, want, out)
			}
		}
	}
}
