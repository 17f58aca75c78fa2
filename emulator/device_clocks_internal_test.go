package emulator

import (
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub"
)

// TestDeviceClocksFollowTheRegistry: a clock is made only for a device in
// the registry, is the same clock every time it is asked for, and is
// forgotten once its device's deletion is committed, so the clocks kept
// are those of the devices there are.
func TestDeviceClocksFollowTheRegistry(t *testing.T) {
	reg := newRegistry(nil)
	if _, err := reg.deviceClock("ghost"); !hubErrorIs(err, hub.ErrDeviceNotFound) {
		t.Fatalf("the clock of an unknown device: %v, want DeviceNotFound", err)
	}
	mustPutDevice(t, reg, "dev", `{}`)
	clk, err := reg.deviceClock("dev")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := reg.deviceClock("dev"); again != clk {
		t.Fatal("a device got a second clock")
	}
	clk.Advance(time.Hour)
	if got := time.Until(reg.clocks.now("dev")); got < 59*time.Minute {
		t.Fatalf("the device's time is %s ahead, want an hour", got)
	}
	if err := reg.deleteDevice("dev", precondition{}); err != nil {
		t.Fatal(err)
	}
	if n := len(reg.clocks.clocks); n != 0 {
		t.Fatalf("%d clocks kept after the device's deletion", n)
	}
	if got := time.Until(reg.clocks.now("dev")); got > time.Minute {
		t.Fatalf("a deleted device's time is still %s ahead", got)
	}
}
