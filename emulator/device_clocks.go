package emulator

import (
	"context"
	"sync"
	"time"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/internal/clock"
)

// deviceClocks are the hub's clocks per device, an emulator-only test
// facility (docs/fidelity.md, "Device clocks"): what the hub does to a
// device or its modules after some time (fault windows and delayed faults,
// direct method timeouts, cloud-to-device expiry, the expiry of the tokens
// its connections were opened with) follows its device's clock, which a
// test moves forward (Server.AdvanceDeviceClock) instead of waiting real
// seconds. Scenarios that share an emulator each have their own devices,
// so moving one device's time leaves the others where they were.
//
// A device's clock is made when something first arms a timer on it or
// moves it, and only for a device in the registry (registry.deviceClock);
// it is forgotten when the device is deleted, so what is kept grows with
// the devices there are, not with those there ever were. A device without
// a clock reads the base (Options.Now) and makes none.
type deviceClocks struct {
	base func() time.Time

	mu     sync.Mutex
	clocks map[string]*clock.Clock
}

func newDeviceClocks(base func() time.Time) *deviceClocks {
	return &deviceClocks{base: base, clocks: map[string]*clock.Clock{}}
}

// existing is deviceID's clock, nil when none was made.
func (c *deviceClocks) existing(deviceID string) *clock.Clock {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clocks[deviceID]
}

// now is the device's time: the base moved by how far the device's clock
// was moved.
func (c *deviceClocks) now(deviceID string) time.Time {
	if clk := c.existing(deviceID); clk != nil {
		return clk.Now()
	}
	return c.base()
}

// wallNow is the wall clock moved by how far the device's clock was moved:
// the time of what lasts real seconds whatever Options.Now says (fault
// windows, faults.go).
func (c *deviceClocks) wallNow(deviceID string) time.Time {
	now := time.Now()
	if clk := c.existing(deviceID); clk != nil {
		now = now.Add(clk.Offset())
	}
	return now
}

// ensure returns deviceID's clock, making it if need be. Only
// registry.deviceClock calls it, under the registry lock, having found the
// device: a clock is never made for a device that is gone.
func (c *deviceClocks) ensure(deviceID string) *clock.Clock {
	c.mu.Lock()
	defer c.mu.Unlock()
	clk := c.clocks[deviceID]
	if clk == nil {
		clk = clock.New(c.base)
		c.clocks[deviceID] = clk
	}
	return clk
}

// forget drops a deleted device's clock. Timers still armed on it fire by
// the wall clock as before; nothing can move them any more.
func (c *deviceClocks) forget(deviceID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.clocks, deviceID)
}

// deviceClock is the clock of a device in the registry, made if need be;
// 404 DeviceNotFound otherwise. A disabled device has one too.
func (r *registry) deviceClock(deviceID string) (*clock.Clock, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.findDevice(deviceID); err != nil {
		return nil, err
	}
	return r.clocks.ensure(deviceID), nil
}

// AdvanceDeviceClock moves the clock of one device (and so of its modules)
// forward by d, so that what the hub does to them after some time and
// that d brings due happens at once: a direct method call past its
// connect or response timeout is answered 404 DeviceNotOnline or 504
// GatewayTimeout, a fault window that d ends is over, a delayed fault
// starts, a connection whose token expires (with the 5-minute grace) is
// closed, and cloud-to-device messages that expire are dead-lettered with
// their Expired feedback before it returns. Every other device keeps its
// own time. An unknown device is 404 DeviceNotFound and d <= 0 is 400
// ArgumentInvalid, both changing nothing: the clock only moves forward.
// It is an emulator-only power (docs/fidelity.md, "Device clocks").
func (s *Server) AdvanceDeviceClock(_ context.Context, deviceID string, d time.Duration) error {
	if d <= 0 {
		return hub.ErrArgumentInvalid.WithMessage("The time to move the clock of device '%s' by must be positive; %s is not: a device's clock only moves forward.", deviceID, d)
	}
	clk, err := s.registry.deviceClock(deviceID)
	if err != nil {
		return err
	}
	fired := clk.Advance(d)
	s.c2d.expire(deviceID)
	s.log.Info("device clock moved", "device", deviceID, "by", d, "offset", clk.Offset(), "timersFired", fired)
	return nil
}
