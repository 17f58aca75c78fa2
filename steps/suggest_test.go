package steps_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hubspec/hubspec/harness"
)

// TestUndefinedStepNamesTheClosestSteps: against the real vocabulary, a
// step nobody wrote fails its scenario, and the output names the closest
// steps with an example of each from the features.
func TestUndefinedStepNamesTheClosestSteps(t *testing.T) {
	emb, err := harness.StartEmbedded(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emb.Close() })
	status, out, _ := runFeature(t, emb, `Feature: A typo
  Scenario: Creating a lamp
    When the service create device "lamp" with hub-assigned keys
    Then device "lamp" has two hub-assigned keys
`)
	for _, want := range []string{
		"no step reads like this: the service create device \"lamp\" with hub-assigned keys\nthe closest steps:",
		"\n  the service creates device|module \"<alias>\"[ on device \"<device>\"][ with hub-assigned keys|keys of its own]\n    e.g. When the service creates ",
		"`hubspec steps` lists every step.",
		"2 steps (1 failed, 1 skipped)",
	} {
		if status == 0 || !strings.Contains(out, want) {
			t.Errorf("status %d, output lacks %q:\n%s", status, want, out)
		}
	}
}
