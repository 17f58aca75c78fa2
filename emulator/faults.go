package emulator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/internal/clock"
)

var errDroppedByTest = errors.New("connection dropped by the emulator's DropConnection control")

// faults are the failures a test can switch on, to check that clients and
// suites notice when a hub misbehaves: those a device asks for itself with
// the SDK suites' fault-injection telemetry (faults_mqtt.go), and those the
// control plane sets (control.go). A real hub honours none of them any
// more; scenarios that use them are emulator-only.
//
// Delays and windows are on the clock of the faulted identity's device
// (device_clocks.go), whose time is real seconds, not Options.Now, as the
// SDK suites that request them wait real seconds; a test that moves the
// device's clock brings their end at once.
type faults struct {
	// dropDesired counts the desired pushes still to drop; negative drops all.
	dropDesired atomic.Int64
	devices     *registry // their clocks

	mu        sync.Mutex
	stopped   bool
	done      chan struct{}              // closed by stop: long polls end
	timers    map[*faultDelay]struct{}   // fault delays not yet run
	running   sync.WaitGroup             // fault actions in progress
	throttled map[identity]time.Time     // InvokeThrottling windows: until
	refused   map[identity]time.Time     // InvokeAuthError windows: until
	registry  map[string]*registryFailer // device id → registry calls to fail
}

// registryFailer fails the next left registry calls naming one device.
type registryFailer struct {
	left int
	err  *hub.Error
}

// faultDelay is a fault waiting for its delay to pass; stop disarms it.
type faultDelay struct{ stop func() bool }

func newFaults(reg *registry) *faults {
	return &faults{
		devices:   reg,
		done:      make(chan struct{}),
		timers:    map[*faultDelay]struct{}{},
		throttled: map[identity]time.Time{},
		refused:   map[identity]time.Time{},
		registry:  map[string]*registryFailer{},
	}
}

// takeDesiredDrop reports whether the next desired push must be dropped.
func (f *faults) takeDesiredDrop() bool {
	for {
		n := f.dropDesired.Load()
		switch {
		case n == 0:
			return false
		case n < 0:
			return true
		case f.dropDesired.CompareAndSwap(n, n-1):
			return true
		}
	}
}

// after runs fn once delay has passed on deviceID's clock: at once, on the
// caller's goroutine, for no delay, so that a fault a client asked for is
// in force before the hub reads the client's next packet. Nothing runs once
// stop was called, nor for a device that is gone.
func (f *faults) after(deviceID string, delay time.Duration, fn func()) {
	var clk *clock.Clock
	if delay > 0 {
		var err error
		if clk, err = f.devices.deviceClock(deviceID); err != nil {
			return
		}
	}
	f.mu.Lock()
	if f.stopped {
		f.mu.Unlock()
		return
	}
	if delay <= 0 {
		f.running.Add(1)
		f.mu.Unlock()
		defer f.running.Done()
		fn()
		return
	}
	t := &faultDelay{}
	t.stop = clk.AfterFunc(delay, func() {
		f.mu.Lock()
		_, live := f.timers[t]
		delete(f.timers, t)
		if live {
			f.running.Add(1)
		}
		f.mu.Unlock()
		if live {
			defer f.running.Done()
			fn()
		}
	})
	f.timers[t] = struct{}{}
	f.mu.Unlock()
}

// stop cancels the fault delays still pending, waits for fault actions in
// progress and ends the control plane's long polls; Server.Close calls it
// first, so no fault fires on a closing or closed emulator.
func (f *faults) stop() {
	f.mu.Lock()
	if !f.stopped {
		f.stopped = true
		close(f.done)
		for t := range f.timers {
			t.stop()
		}
		clear(f.timers)
	}
	f.mu.Unlock()
	f.running.Wait()
}

// openWindow puts id in a fault window for d; an open window is only ever
// extended, so a short fault cannot cut a longer one short. Windows are
// kept on the wall clock moved as id's device's clock was moved, and
// checked against it, so a move ends a window before it returns.
func (f *faults) openWindow(windows map[identity]time.Time, id identity, d time.Duration) {
	if d <= 0 {
		return
	}
	until := f.devices.clocks.wallNow(id.deviceID).Add(d)
	f.mu.Lock()
	defer f.mu.Unlock()
	if until.After(windows[id]) {
		windows[id] = until
	}
}

// inWindow reports whether id is in a fault window, forgetting ended ones.
func (f *faults) inWindow(windows map[identity]time.Time, id identity) bool {
	now := f.devices.clocks.wallNow(id.deviceID)
	f.mu.Lock()
	defer f.mu.Unlock()
	until, ok := windows[id]
	if ok && !now.Before(until) {
		delete(windows, id)
		ok = false
	}
	return ok
}

// throttledTwin reports whether id's twin requests are answered 429
// (an InvokeThrottling window).
func (f *faults) throttledTwin(id identity) bool { return f.inWindow(f.throttled, id) }

// refusedConnect is the CONNECT refusal (CONNACK 5) of an identity in an
// InvokeAuthError window, or nil.
func (f *faults) refusedConnect(id identity) error {
	if f.inWindow(f.refused, id) {
		return errUnauthorized("%s is refused by fault injection (%s)", id, faultAuthError)
	}
	return nil
}

// registryFault is the error the next registry call naming deviceID must
// fail with, if the control plane asked for one, and counts it.
func (f *faults) registryFault(deviceID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	rf := f.registry[deviceID]
	if rf == nil {
		return nil
	}
	if rf.left--; rf.left <= 0 {
		delete(f.registry, deviceID)
	}
	return rf.err
}

// DropDesiredPushes makes the emulator silently drop the notifications of
// the next n desired-property changes, or of every one when n is negative;
// 0 restores delivery. Each change counts whether or not its identity is
// connected: notifications go out asynchronously, so a test that changed
// desired just before dropping a connection could not know otherwise which
// change the count applies to. The twin still changes: only the
// notification is lost, as with a hub that fails to notify.
func (s *Server) DropDesiredPushes(_ context.Context, n int) error {
	s.faults.dropDesired.Store(int64(n))
	return nil
}

// DropConnection closes the live MQTT connection of a device (moduleID "")
// or module, as a network failure would; the persistent session stays, so a
// client that reconnects keeps its subscriptions. It reports whether there
// was a connection to drop.
func (s *Server) DropConnection(_ context.Context, deviceID, moduleID string) (bool, error) {
	return s.hook.drop(identity{deviceID: deviceID, moduleID: moduleID}, errDroppedByTest), nil
}

// FailRegistryCalls makes the next n REST calls that name the device (the
// device itself, its modules, its twin and theirs) fail with the IoT Hub
// error of that name, e.g. "ThrottlingException" for 429 429001, answered
// exactly as the hub answers that error. Calls naming other devices are not
// affected, so concurrent tests do not disturb each other. n = 0 clears
// what is left. Only authorized calls count: a bad token still gets 401.
func (s *Server) FailRegistryCalls(_ context.Context, deviceID string, n int, errorName string) error {
	if deviceID == "" {
		return errors.New("emulator: fail registry calls: no device id")
	}
	f := s.faults
	if n == 0 {
		f.mu.Lock()
		delete(f.registry, deviceID)
		f.mu.Unlock()
		return nil
	}
	e, ok := hub.LookupErrorName(errorName)
	switch {
	case n < 0:
		return fmt.Errorf("emulator: fail registry calls of %s: count %d is negative", deviceID, n)
	case !ok:
		return fmt.Errorf("emulator: fail registry calls of %s: no IoT Hub error is named %q", deviceID, errorName)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.registry[deviceID] = &registryFailer{left: n, err: e.WithMessage("%s", registryFaultMessage(e, deviceID))}
	return nil
}

// registryFaultMessage is the error's text. A throttled call gets the words
// real hubs use (Azure-Samples/Iot-Telemetry-Simulator#39 logs "The request
// has been throttled. Wait 10 seconds and try again."); other errors say
// where they come from, since no real message is known for them.
func registryFaultMessage(e *hub.Error, deviceID string) string {
	if e.Is(hub.ErrThrottled) {
		return "The request has been throttled. Wait and try again."
	}
	return fmt.Sprintf("%s: the emulator was told to fail the next registry calls for device '%s'.", e.Name, deviceID)
}
