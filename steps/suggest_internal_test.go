package steps

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cucumber/godog"
)

// TestClosest: a typo, another form of a word or a word left out still
// finds the step meant, first.
func TestClosest(t *testing.T) {
	for text, want := range map[string]string{
		`the service create device "lamp"`:                        `the service creates device|module "<alias>"`,
		`module "m" recieves a desired patch with "k" equal to 1`: `device|module "<alias>" receives a desired patch with`,
		`the twin of module "m" has desired "k" equal 1`:          `the twin of device|module "<alias>"[ as the device|module reads it] has|does not have`,
		`device "d" conected`:                                     `device|module "<alias>" is connected`,
		`the hub refused with 404 DeviceNotFound`:                 `the hub refuses with <status> <error>`,
	} {
		near := closest(text, catalogue, 3)
		if len(near) == 0 || !strings.HasPrefix(near[0].template, want) {
			var got []string
			for _, d := range near {
				got = append(got, d.template)
			}
			t.Errorf("closest(%q) = %q, want first %q...", text, got, want)
		}
	}
	if near := closest("zzz qqq", catalogue, 3); len(near) != 0 {
		t.Errorf("closest to nothing alike: %d steps", len(near))
	}
}

// lampSteps overlap: "the lamp is on" reads as both.
var lampSteps = []stepDef{
	step(mqtt, `^the lamp (is|turns) on$`, func(context.Context, string) error { return nil }, "One."),
	step(mqtt, `^the lamp is (on|off)$`, func(context.Context, string) error { return nil }, "Two."),
}

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
			register(sc, lampSteps)
			if check {
				sc.StepContext().Before(stepCheck(lampSteps))
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
		for _, want := range []string{"undefined step (no step reads like it): the lamp turnz on\nthe closest steps:", "\n  the lamp is|turns on\n", "1 failed"} {
			if status == 0 || !strings.Contains(out, want) {
				t.Errorf("strict %v: status %d, output lacks %q:\n%s", strict, status, want, out)
			}
		}
	}
}
