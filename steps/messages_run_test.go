package steps_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/harness"
)

// TestMessagesAtRunTime: the mistakes a scenario can only show when it
// runs fail the step that shows them, at once (no ten-second poll), with
// a message that says what to do. Each case is one scenario; want is in
// godog's output, and the step named by failed is the one that failed.
func TestMessagesAtRunTime(t *testing.T) {
	emb, err := harness.StartEmbedded(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emb.Close() })
	for _, tc := range []struct {
		name, steps, want, counts string
	}{
		{"a module alias on two devices",
			`Given module "telemetry" exists on device "gatewayA"
    And module "telemetry" exists on device "gatewayB"
    Then module "telemetry" is connected`,
			`module "telemetry" is on 2 devices, "gatewayA" and "gatewayB": say which, e.g. module "telemetry" on device "gatewayA"`,
			"3 steps (2 passed, 1 failed)"},
		{"a module alias the scenario never created",
			`Given module "telemetry" exists on device "gatewayA"
    Then the twin of module "telemetri" has desired "a"`,
			`module "telemetri": the scenario has not created it (it has module "telemetry" on device "gatewayA"); create it first, e.g. Given module "telemetri" exists on device "<device>"`,
			"2 steps (1 passed, 1 failed)"},
		{"a module on a device it is not on",
			`Given module "telemetry" exists on device "gatewayA"
    Then module "telemetry" on device "gatewayB" is connected`,
			`module "telemetry" on device "gatewayB": the scenario has not created it (it has module "telemetry" on device "gatewayA"); create it first, e.g. Given module "telemetry" exists on device "gatewayB"`,
			"2 steps (1 passed, 1 failed)"},
		{"a device never created",
			`Then the twin of device "ghost" has desired "a" equal to 1`,
			`device "ghost": the scenario has not created it, so this check could never pass; create it first, e.g. Given device "ghost" exists`,
			"1 steps (1 failed)"},
		{"nothing connected",
			`Given device "house" exists
    Then device "house" receives a desired patch with "a" equal to 1`,
			`device "house" is not connected`,
			"2 steps (1 passed, 1 failed)"},
		{"a refused write followed by a successful one",
			`Given device "house" exists
    And the service remembers the etag of device "house" as "old"
    And the service rotates the keys of device "house"
    When the service rotates the keys of device "house" with etag "${old}"
    And the service rotates the keys of device "house"
    Then the hub refuses with 412 PreconditionFailed`,
			"the hub refused this step: ",
			"6 steps (3 passed, 1 failed, 2 skipped)"},
		{"an ordinary check after a refused write",
			`Given device "house" exists
    When the service creates device "house"
    Then device "house" has a generation id and an etag`,
			"if the scenario expects that, check it in the very next step: Then the hub refuses with 409 DeviceAlreadyExists",
			"3 steps (1 passed, 1 failed, 1 skipped)"},
		{"a value made by a variable that starts as JSON but is not",
			`Given device "house" exists
    And the service remembers the etag of device "house" as "e"
    When the service sets desired "a" of device "house" to {"b": ${e}`,
			`looking for beginning of value at character 7; write a JSON value`,
			"3 steps (2 passed, 1 failed)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			status, out, _ := runFeature(t, emb, "Feature: F\n  Scenario: S\n    "+tc.steps+"\n")
			for _, want := range []string{tc.want, tc.counts} {
				if status == 0 || !strings.Contains(out, want) {
					t.Errorf("status %d, output lacks %q:\n%s", status, want, out)
				}
			}
			// Nothing polls: a check that cannot pass fails at once.
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %s", took)
			}
		})
	}
}
