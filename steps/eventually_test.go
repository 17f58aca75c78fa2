package steps_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hubspec/hubspec/steps"
)

// TestEventually: the first try is immediate, failures are retried until
// the deadline, and then the last error is what comes back.
func TestEventually(t *testing.T) {
	ctx := context.Background()
	errNotYet := errors.New("not yet")

	calls, start := 0, time.Now()
	if err := steps.Eventually(ctx, time.Minute, func(context.Context) error { calls++; return nil }); err != nil || calls != 1 {
		t.Fatalf("success: %v after %d calls", err, calls)
	}
	if d := time.Since(start); d > 20*time.Millisecond {
		t.Errorf("a first success took %s", d)
	}

	calls = 0
	err := steps.Eventually(ctx, time.Minute, func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("fn's context has no deadline")
		}
		if calls++; calls < 4 {
			return errNotYet
		}
		return nil
	})
	if err != nil || calls != 4 {
		t.Fatalf("success on the 4th try: %v after %d calls", err, calls)
	}

	calls, start = 0, time.Now()
	err = steps.Eventually(ctx, 300*time.Millisecond, func(context.Context) error {
		calls++
		return fmt.Errorf("try %d: %w", calls, errNotYet)
	})
	took := time.Since(start)
	if want := fmt.Sprintf("try %d: not yet (still so after %d tries in 300ms)", calls, calls); !errors.Is(err, errNotYet) || err.Error() != want {
		t.Fatalf("at the deadline: %v, want %s", err, want)
	}
	if took < 300*time.Millisecond || took > 2*time.Second || calls < 3 {
		t.Errorf("gave up after %s and %d calls", took, calls)
	}

	// A try the deadline cuts short says less than the one before it.
	calls = 0
	err = steps.Eventually(ctx, 100*time.Millisecond, func(ctx context.Context) error {
		if calls++; calls == 1 {
			return errNotYet
		}
		<-ctx.Done()
		return ctx.Err()
	})
	if !errors.Is(err, errNotYet) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cut-short try: %v", err)
	}

	// The caller's context ending stops polling at once.
	cctx, cancel := context.WithCancel(ctx)
	start = time.Now()
	err = steps.Eventually(cctx, time.Minute, func(context.Context) error { cancel(); return errNotYet })
	if !errors.Is(err, errNotYet) || !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Fatalf("cancelled: %v after %s", err, time.Since(start))
	}
}
