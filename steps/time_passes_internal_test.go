package steps

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/internal/clock"
)

// movableHub is a target whose device clocks move, recording each move;
// devices it does not know answer 404 DeviceNotFound, as the emulator does.
type movableHub struct {
	harness.Target
	known []string
	moved []string
}

func (m *movableHub) AdvanceDeviceClock(_ context.Context, deviceID string, d time.Duration) error {
	if !slices.Contains(m.known, deviceID) {
		return hub.ErrDeviceNotFound.WithMessage("no device %s", deviceID)
	}
	m.moved = append(m.moved, deviceID+" "+d.String())
	return nil
}

// failingHub is a target whose device clocks cannot be moved at all.
type failingHub struct{ harness.Target }

func (failingHub) AdvanceDeviceClock(context.Context, string, time.Duration) error {
	return hub.ErrServiceUnavailable.WithMessage("down")
}

// liveHub is a target with nothing but harness.Target, as a live hub is.
type liveHub struct{ harness.Target }

// timeWorld is a world with the identities named, on target.
func timeWorld(target harness.Target, named ...ident) *world {
	return &world{sc: harness.NewRun(target).NewScenario(), target: target, clock: clock.New(nil), named: named}
}

func TestSecondsPassMoveTheScenariosDevicesAndClients(t *testing.T) {
	house, garage := ident{kind: "device", alias: "house"}, ident{kind: "device", alias: "garage"}
	thermostat := ident{kind: "module", alias: "thermostat", device: "house"}
	target := &movableHub{}
	w := timeWorld(target, house, thermostat, garage)
	target.known = []string{w.sc.Name("house")} // garage was named but never created
	renewed := make(chan struct{})
	w.clock.AfterFunc(3*time.Second, func() { close(renewed) }) // a client's token renewal

	if err := w.passTime(context.Background(), 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if want := []string{w.sc.Name("house") + " 3s"}; !slices.Equal(target.moved, want) {
		t.Fatalf("moved %q, want %q: each device once, the module's with it", target.moved, want)
	}
	if got := w.clock.Offset(); got != 3*time.Second {
		t.Fatalf("the clients' clock moved %s, want 3s", got)
	}
	select {
	case <-renewed:
	case <-time.After(5 * time.Second):
		t.Fatal("a client timer due within the time that passed did not fire")
	}
}

func TestSecondsPassFailsWhenAClockCannotMove(t *testing.T) {
	w := timeWorld(failingHub{}, ident{kind: "device", alias: "house"})
	err := w.passTime(context.Background(), time.Second)
	if !errors.Is(err, hub.ErrServiceUnavailable) {
		t.Fatalf("passTime = %v, want the target's 503", err)
	}
}

// On a live hub nothing can move its clock: the step waits the time out,
// here until the context ends long before the hour asked for.
func TestSecondsPassWaitOnALiveHub(t *testing.T) {
	w := timeWorld(liveHub{}, ident{kind: "device", alias: "house"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := w.passTime(ctx, time.Hour)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("passTime on a live hub = %v, want it still waiting when the context ended", err)
	}
	if w.clock.Offset() != 0 {
		t.Fatal("the clients' clock moved on a live hub, where only the wall clock moves")
	}
}
