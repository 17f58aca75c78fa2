package emulator

import (
	"context"
	"sync"
)

// changeFeed counts the registry's changes (every committed write, every
// identity connecting or disconnecting) and wakes those waiting for the
// next one, so a test that reads after a write, or waits for a state the
// hub reaches on its own (a connection state), reads again the moment the
// registry changes instead of on a timer. It has a lock of its own, so
// waiters never contend for the registry's.
type changeFeed struct {
	mu      sync.Mutex
	count   uint64 // starts at 1, so that waiting for a change after 0 answers at once
	changed chan struct{}
}

func newChangeFeed() *changeFeed { return &changeFeed{count: 1, changed: make(chan struct{})} }

// bump records a change and wakes every waiter.
func (f *changeFeed) bump() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count++
	close(f.changed)
	f.changed = make(chan struct{})
}

// await returns the change count once it is past after, or ctx's error.
func (f *changeFeed) await(ctx context.Context, after uint64) (uint64, error) {
	for {
		f.mu.Lock()
		count, changed := f.count, f.changed
		f.mu.Unlock()
		if count > after {
			return count, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return count, ctx.Err()
		}
	}
}

// AwaitRegistryChange returns the registry's change count once it is past
// after: at once when it already is (after 0 always is), else as soon as a
// write is committed or an identity connects or disconnects, or with ctx's
// error. A test reads the count, reads the state it waits for, and if the
// state is not there yet waits for a change after that count: no change
// between the two can be missed.
func (s *Server) AwaitRegistryChange(ctx context.Context, after uint64) (uint64, error) {
	return s.registry.changes.await(ctx, after)
}
