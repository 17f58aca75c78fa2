package steps_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hubspec/hubspec/harness"
)

// TestUnknownVariableFailsItsStep: a step that uses a variable no step
// remembered fails before it acts, naming the variable and those defined.
func TestUnknownVariableFailsItsStep(t *testing.T) {
	emb, err := harness.StartEmbedded(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emb.Close() })
	status, out, _ := runFeature(t, emb, `Feature: Variables
  Scenario: A misspelt variable
    Given device "house" exists
    And the service remembers the etag of device "house" as "etag"
    And the service remembers the primary key of device "house" as "key"
    When the service rotates the keys of device "house" with etag "${etg}"
`)
	for _, want := range []string{
		"variable ${etg} is not defined; this scenario has defined ${etag}, ${key} so far",
		"4 steps (3 passed, 1 failed)",
	} {
		if status == 0 || !strings.Contains(out, want) {
			t.Errorf("status %d, output lacks %q:\n%s", status, want, out)
		}
	}
}
