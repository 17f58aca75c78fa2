package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/steps/internal/vocab"
)

// Time in a scenario. What a hub does after some time (a fault window
// ending, a direct method timing out, a message expiring) and what a
// client does after some time (renewing its token) are written as a step
// of their own, "N seconds pass", so that a feature reads as the timeline
// it is and the wait is in one place:
//
//   - on a live hub the step waits N seconds: only the wall clock moves
//     a real hub;
//   - on a target whose device clocks a scenario can move
//     (harness.DeviceClockMover, the emulators) it moves by N seconds the
//     clock of every device the scenario named and the clock its clients
//     sign tokens by and wait on (world.clock), and returns at once. Each
//     device's clock is its own, so the scenarios running beside on the
//     same emulator keep theirs.
//
// Either way what was due within those N seconds has been brought about
// when the step ends, though not necessarily finished: the steps after it
// wait for its outcome (a 504, a reconnect) as they would on a live hub.
var timeVocabulary = []vocab.Def{
	step(timing, `^(\d+) seconds? pass(?:es)?$`, secondsPass,
		"Lets time pass: waits that long on a live hub; on an emulator moves the clocks of the scenario's devices and clients that far at once, so what the hub or a client does after that time (a fault ending, a method timing out, a message expiring, a token renewed) happens now."),
}

// secondsPass is the step "N seconds pass".
func secondsPass(ctx context.Context, n string) error {
	return worldFrom(ctx).passTime(ctx, seconds(n))
}

// passTime lets d pass for the scenario (see timeVocabulary).
func (w *world) passTime(ctx context.Context, d time.Duration) error {
	mover, ok := w.target.(harness.DeviceClockMover)
	if !ok {
		if !pause(ctx, d) {
			return fmt.Errorf("waiting %s for time to pass: %w", d, ctx.Err())
		}
		return nil
	}
	w.clock.Advance(d)
	for _, id := range w.deviceIDs() {
		err := mover.AdvanceDeviceClock(ctx, id, d)
		if errors.Is(err, hub.ErrDeviceNotFound) {
			continue // named but not created, or deleted since: no clock to move
		}
		if err != nil {
			return fmt.Errorf("moving the clock of device %q on by %s: %w", id, d, err)
		}
	}
	return nil
}

// deviceIDs are the hub's ids of every device the scenario named, itself or
// as a module's device, each once.
func (w *world) deviceIDs() []string {
	var ids []string
	for _, i := range w.named {
		d, _, err := w.ids(i)
		if err == nil && !slices.Contains(ids, d) {
			ids = append(ids, d)
		}
	}
	return ids
}
