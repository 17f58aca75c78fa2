package emulator

import (
	"errors"
	"sync/atomic"
)

var errDroppedByTest = errors.New("connection dropped by the emulator's DropConnection control")

// faults are the emulator-only failures a test can switch on, to check that
// clients and suites notice when a hub misbehaves. The real service offers
// nothing like them; scenarios that use them are emulator-only.
type faults struct {
	// dropDesired counts the desired pushes still to drop; negative drops all.
	dropDesired atomic.Int64
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

// DropDesiredPushes makes the emulator silently drop the next n
// desired-property pushes to connected clients, or every one when n is
// negative; 0 restores delivery. The twin still changes: only the
// notification is lost, as with a hub that fails to notify.
func (s *Server) DropDesiredPushes(n int) { s.hook.faults.dropDesired.Store(int64(n)) }

// DropConnection closes the live MQTT connection of a device (moduleID "")
// or module, as a network failure would; the persistent session stays, so a
// client that reconnects keeps its subscriptions. It reports whether there
// was a connection to drop.
func (s *Server) DropConnection(deviceID, moduleID string) bool {
	id := identity{deviceID: deviceID, moduleID: moduleID}
	s.hook.mu.Lock()
	cl := s.hook.current[id]
	s.hook.mu.Unlock()
	if cl == nil {
		return false
	}
	cl.Stop(errDroppedByTest)
	return true
}
