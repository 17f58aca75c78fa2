package steps

import (
	"fmt"
	"slices"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/harness"
)

// The closed tag set (design.md).
const (
	tagSmoke        = "@smoke"
	tagSlow         = "@slow"
	tagWIP          = "@wip"
	tagEmulatorOnly = "@emulator-only"
	tagLiveOnly     = "@live-only"
)

// scenarioGate decides from a scenario's tags (its own and its feature's)
// whether it runs on target: nil to run it, an error wrapping godog.ErrSkip
// with the reason to skip it (godog counts a skip as no failure, even
// under Strict; its summary shows the steps as skipped and the scenario as
// passed), any other error to fail it. An unknown tag
// fails, so that a typo such as @emulatoronly is caught rather than
// silently running a scenario where it cannot pass.
func scenarioGate(s *godog.Scenario, target harness.Target) error {
	var tags []string
	for _, t := range s.Tags {
		switch t.Name {
		case tagSmoke, tagSlow, tagWIP, tagEmulatorOnly, tagLiveOnly:
			tags = append(tags, t.Name)
		default:
			return fmt.Errorf("unknown tag %s: the tags are %s, %s, %s, %s and %s",
				t.Name, tagSmoke, tagSlow, tagWIP, tagEmulatorOnly, tagLiveOnly)
		}
	}
	emulatorOnly, liveOnly := slices.Contains(tags, tagEmulatorOnly), slices.Contains(tags, tagLiveOnly)
	emulator := harness.IsEmulator(target)
	switch {
	case emulatorOnly && liveOnly:
		return fmt.Errorf("tags %s and %s together: the scenario could run nowhere", tagEmulatorOnly, tagLiveOnly)
	case emulatorOnly && !emulator:
		return fmt.Errorf("%w: it is %s and target %q is not an emulator", godog.ErrSkip, tagEmulatorOnly, target.Name())
	case liveOnly && emulator:
		return fmt.Errorf("%w: it is %s and target %q is an emulator", godog.ErrSkip, tagLiveOnly, target.Name())
	}
	return nil
}
