package steps

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeChanges is a harness.RegistryChangeNotifier whose changes the test
// makes.
type fakeChanges struct {
	mu      sync.Mutex
	count   uint64
	changed chan struct{}
	waiting chan struct{} // told when a wait for a change begins
}

func (f *fakeChanges) bump() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count++
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeChanges) AwaitRegistryChange(ctx context.Context, after uint64) (uint64, error) {
	for {
		f.mu.Lock()
		count, changed := f.count, f.changed
		f.mu.Unlock()
		if count > after {
			return count, nil
		}
		select {
		case f.waiting <- struct{}{}:
		default:
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return count, ctx.Err()
		}
	}
}

// TestEventuallyWakesOnAChange: once its back-off has grown to 400 ms, a
// check woken by registry changes tries again right after a change, where
// the timer alone would have waited out the interval.
func TestEventuallyWakesOnAChange(t *testing.T) {
	changes := &fakeChanges{count: 1, changed: make(chan struct{}), waiting: make(chan struct{}, 1)}
	var ready atomic.Bool
	var changedAt atomic.Int64
	tries := 0
	err := eventuallyWoken(context.Background(), time.Minute, changes, func(context.Context) error {
		tries++
		if ready.Load() {
			return nil
		}
		if tries == 5 { // the next wait is 400 ms
			select { // forget the earlier waits
			case <-changes.waiting:
			default:
			}
			go func() {
				<-changes.waiting // the change comes while the check waits
				ready.Store(true)
				changedAt.Store(time.Now().UnixNano())
				changes.bump()
			}()
		}
		return errors.New("not yet")
	})
	if err != nil {
		t.Fatal(err)
	}
	if late := time.Since(time.Unix(0, changedAt.Load())); late > 200*time.Millisecond {
		t.Fatalf("the try after the change came %s after it, as late as the back-off", late)
	}
}
