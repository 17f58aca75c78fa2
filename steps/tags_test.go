package steps_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/steps"
)

// notAnEmulator is an emulator target that does not say it is one: the
// embedded interface hides Emulated, as a live hub has no such method.
type notAnEmulator struct{ harness.Target }

func (notAnEmulator) Name() string { return "live-like" }

// runFeature runs one feature text against target and returns godog's
// status, its pretty output and the lines the steps logged per scenario.
func runFeature(t *testing.T, target harness.Target, feature string) (int, string, map[string][]string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tags.feature")
	if err := os.WriteFile(path, []byte(feature), 0o600); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	logged := map[string][]string{} // written by After hooks, which run one scenario at a time here
	status := godog.TestSuite{
		ScenarioInitializer: func(sc *godog.ScenarioContext) {
			steps.Initialize(harness.NewRun(target))(sc)
			sc.After(func(ctx context.Context, s *godog.Scenario, _ error) (context.Context, error) {
				logged[s.Name] = godog.LoggedMessages(ctx)
				return ctx, nil
			})
		},
		Options: &godog.Options{Format: "pretty", Paths: []string{path}, Strict: true, Output: &out, NoColors: true},
	}.Run()
	return status, out.String(), logged
}

const whereFeature = `@smoke
Feature: Where scenarios run
  @emulator-only
  Scenario: Only on an emulator
    When the service creates device "e" with hub-assigned keys

  @live-only @slow
  Scenario: Only on a live hub
    When the service creates device "l" with hub-assigned keys

  @wip
  Scenario: Anywhere
    When the service creates device "a" with hub-assigned keys
`

// TestTagsSkipScenariosThatCannotRunOnTheTarget: @emulator-only runs only on
// an emulator and @live-only only elsewhere; a skip is no failure under
// Strict, and its reason is logged.
func TestTagsSkipScenariosThatCannotRunOnTheTarget(t *testing.T) {
	emb, err := harness.StartEmbedded(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emb.Close() })
	for _, tc := range []struct {
		target         harness.Target
		skipped, cause string
	}{
		{emb, "Only on a live hub", `it is @live-only and target "embedded" is an emulator`},
		{notAnEmulator{emb}, "Only on an emulator", `it is @emulator-only and target "live-like" is not an emulator`},
	} {
		status, out, logged := runFeature(t, tc.target, whereFeature)
		if status != 0 || !strings.Contains(out, "3 steps (2 passed, 1 skipped)") {
			t.Errorf("on %s: status %d\n%s", tc.target.Name(), status, out)
		}
		want := fmt.Sprintf("scenario %q skipped: %s", tc.skipped, tc.cause)
		if got := strings.Join(logged[tc.skipped], "\n"); got != want {
			t.Errorf("on %s, logged %q, want %q", tc.target.Name(), got, want)
		}
	}
}

// TestUnknownTagsFailTheirScenario: a tag outside the closed set, or two
// that exclude each other, fail the scenario with a message that says so.
func TestUnknownTagsFailTheirScenario(t *testing.T) {
	emb, err := harness.StartEmbedded(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emb.Close() })
	status, out, _ := runFeature(t, emb, `Feature: Bad tags
  @smok
  Scenario: A typo
    When the service creates device "t" with hub-assigned keys

  @emulator-only @live-only
  Scenario: Nowhere
    When the service creates device "n" with hub-assigned keys
`)
	for _, want := range []string{
		"unknown tag @smok: the tags are @smoke, @slow, @wip, @emulator-only, @live-only, @identities, @twins, @mqtt, @methods, @faults, @policies, @x509, @queries, @telemetry, @events, @c2d, @configurations, @pnp, @jobs, @time and @limits",
		"tags @emulator-only and @live-only together: the scenario could run nowhere",
		"2 scenarios (2 failed)",
	} {
		if status == 0 || !strings.Contains(out, want) {
			t.Errorf("status %d, output lacks %q:\n%s", status, want, out)
		}
	}
}

// TestDomainTagsSelectASubset: a domain tag picks every scenario of its
// domain's feature and leaves others out, as a run with --tags or
// -godog.tags does; @limits picks some scenarios of several features.
func TestDomainTagsSelectASubset(t *testing.T) {
	selected := func(tags string) map[string]int { // feature file → scenarios
		feats, err := godog.TestSuite{Options: &godog.Options{Paths: []string{"../features"}, Tags: tags}}.RetrieveFeatures()
		if err != nil {
			t.Fatal(err)
		}
		n := map[string]int{}
		for _, ft := range feats {
			n[filepath.Base(ft.Uri)] += len(ft.Pickles)
		}
		return n
	}
	sum := func(m map[string]int) (n int) {
		for _, v := range m {
			n += v
		}
		return n
	}
	all := selected("")
	for tag, file := range map[string]string{"@identities": "identities.feature", "@twins": "twins.feature", "@mqtt": "mqtt.feature", "@policies": "policies.feature"} {
		if got := selected(tag); got[file] != all[file] || sum(got) == sum(all) {
			t.Errorf("--tags %s selects %v, want all %d scenarios of %s and not all of %v", tag, got, all[file], file, all)
		}
	}
	if got := selected("@limits"); got["twins.feature"] == 0 || got["identities.feature"] == 0 || got["twins.feature"] == all["twins.feature"] {
		t.Errorf("--tags @limits selects %v of %v", got, all)
	}
}

// TestPreflightTellsTagMistakes: before anything runs, a tag outside the
// set is told at its own line with the closest tag, once however many
// scenarios carry it, and a scenario tagged to run nowhere at its line.
func TestPreflightTellsTagMistakes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tags.feature")
	feature := `@identitees
Feature: Tags

  @smoek
  Scenario: One
    When the service creates device "a" with hub-assigned keys

  Scenario: Two
    When the service creates device "b" with hub-assigned keys

  @emulator-only @live-only
  Scenario: Nowhere
    When the service creates device "c" with hub-assigned keys
`
	if err := os.WriteFile(path, []byte(feature), 0o644); err != nil {
		t.Fatal(err)
	}
	_, problems, err := steps.Preflight(godog.Options{Paths: []string{path}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		path + ":1: unknown tag @identitees (did you mean @identities?): the tags are ",
		path + ":4: unknown tag @smoek (did you mean @smoke?): the tags are ",
		path + ":12: tags @emulator-only and @live-only together: the scenario could run nowhere; keep one",
	}
	if len(problems) != len(want) {
		t.Fatalf("problems:\n%s", strings.Join(problems, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(problems[i], w) {
			t.Errorf("problem %d: %q, want it to start %q", i, problems[i], w)
		}
	}
}
