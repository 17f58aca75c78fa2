package steps_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hubspec/hubspec/harness"
)

// TestPolicyStepsNeedEveryPolicy: on a target that gives one connection
// string the policy steps skip the scenario, saying why, even untagged;
// on an emulator a policy it lacks fails the step, naming the policies.
func TestPolicyStepsNeedEveryPolicy(t *testing.T) {
	emb, err := harness.StartEmbedded(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emb.Close() })
	const feature = `Feature: Policies
  Scenario: The service
    Given the service uses the "%s" policy
    Then the service lists the devices

  Scenario: A device
    Given device "house" exists
    When device "house" connects with a token of the "%s" policy
    Then the hub refuses the connection as not authorized
`
	withPolicy := strings.NewReplacer("%s", "registryRead")
	status, out, logged := runFeature(t, notAnEmulator{emb}, withPolicy.Replace(feature))
	if status != 0 || !strings.Contains(out, "5 steps (1 passed, 4 skipped)") {
		t.Errorf("on a live-like target: status %d\n%s", status, out)
	}
	for _, sc := range []string{"The service", "A device"} {
		want := `target "live-like" cannot give every shared access policy's connection string: the scenario is skipped`
		if got := strings.Join(logged[sc], "\n"); got != want {
			t.Errorf("scenario %q logged %q, want %q", sc, got, want)
		}
	}

	status, out, _ = runFeature(t, emb, strings.NewReplacer("%s", "registryread").Replace(feature))
	if status == 0 || !strings.Contains(out, `no shared access policy "registryread"`) || !strings.Contains(out, "2 scenarios (2 failed)") {
		t.Errorf("an unknown policy: status %d\n%s", status, out)
	}
}
