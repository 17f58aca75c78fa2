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
		{"one of several identities receives something",
			`Given module "m" exists on device "a"
    And module "m" exists on device "b"
    And module "m" on device "a" is connected
    And module "m" on device "b" is connected
    When the service sets desired "x" of module "m" on device "b" to 1
    Then none of modules "m" on device "a" and "m" on device "b" receives anything within 3 seconds`,
			`module "m" on device "b": expected nothing within 3s, got a desired patch map[x:1] ($version 2)`,
			"6 steps (5 passed, 1 failed)"},
		{"none of several identities, one not connected",
			`Given module "m" exists on device "a"
    And module "m" exists on device "b"
    And module "m" on device "a" is connected
    Then none of modules "m" on device "a" and "m" on device "b" receives anything within 3 seconds`,
			`module "m" on device "b" is not connected, so it could receive nothing anyway: connect it first, e.g. Given module "m" on device "b" is connected`,
			"4 steps (3 passed, 1 failed)"},
		{"a row of the twins table that does not hold",
			`Given device "a" exists
    And device "b" exists
    When the service sets desired "x" of device "a" to 1
    Then the twins have:
      | twin       | desired.x |
      | device "a" | 1         |
      | device "b" | 2         |`,
			`the twin of device "b" at properties.desired.x: want 2, got nothing`,
			"4 steps (3 passed, 1 failed)"},
		{"a value made by a variable that starts as JSON but is not",
			`Given device "house" exists
    And the service remembers the etag of device "house" as "e"
    When the service sets desired "a" of device "house" to {"b": ${e}`,
			`looking for beginning of value at character 7; write a JSON value`,
			"3 steps (2 passed, 1 failed)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // one scenario each, on devices of its own run
			start := time.Now()
			status, out, _ := runFeature(t, emb, "Feature: F\n  Scenario: S\n    "+tc.steps+"\n")
			for _, want := range []string{tc.want, tc.counts} {
				if status == 0 || !strings.Contains(out, want) {
					t.Errorf("status %d, output lacks %q:\n%s", status, want, out)
				}
			}
			// A check that cannot pass fails at once; a value that may
			// yet come is polled for (the twins table).
			if took := time.Since(start); took > 5*time.Second && !strings.Contains(tc.name, "table") {
				t.Errorf("took %s", took)
			}
		})
	}
}
