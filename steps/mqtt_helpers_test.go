package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/device"
)

// TestDesiredSum: patches merge, a Full patch replaces, and a patch not
// newer than the one before is refused.
func TestDesiredSum(t *testing.T) {
	var sum desiredSum
	for _, p := range []device.DesiredPatch{
		{Version: 2, Properties: map[string]any{"a": 1.0, "b": 1.0}},
		{Version: 3, Properties: map[string]any{"b": 2.0}},
	} {
		if err := sum.add(p); err != nil {
			t.Fatal(err)
		}
	}
	if canonical(sum.props) != `{"a":1,"b":2}` {
		t.Errorf("merged: %s", canonical(sum.props))
	}
	if err := sum.add(device.DesiredPatch{Version: 5, Full: true, Properties: map[string]any{"c": 3.0}}); err != nil || canonical(sum.props) != `{"c":3}` {
		t.Errorf("a Full patch: %s, %v", canonical(sum.props), err)
	}
	if err := sum.add(device.DesiredPatch{Version: 5}); err == nil || !strings.Contains(err.Error(), "got $version 5 after 5") {
		t.Errorf("a patch not newer: %v", err)
	}
}

// TestConcurrently: every job runs, and a failure is reported once all
// have ended.
func TestConcurrently(t *testing.T) {
	var ran atomic.Int32
	boom := errors.New("boom")
	err := concurrently(times("5", func(k int) error {
		ran.Add(int32(k))
		if k == 3 {
			return boom
		}
		return nil
	}))
	if ran.Load() != 15 || !errors.Is(err, boom) {
		t.Errorf("ran %d (want 1+…+5), error %v", ran.Load(), err)
	}
	if err := concurrently(times("0", nil)); err != nil {
		t.Errorf("no jobs: %v", err)
	}
}

// TestReceive: a value, a closed channel, and a deadline.
func TestReceive(t *testing.T) {
	ctx := context.Background()
	ch := make(chan int, 1)
	ch <- 7
	if v, closed, err := receive(ctx, ch); v != 7 || closed || err != nil {
		t.Errorf("receive: %d, %v, %v", v, closed, err)
	}
	close(ch)
	if _, closed, err := receive(ctx, ch); !closed || err != nil {
		t.Errorf("receive on a closed channel: %v, %v", closed, err)
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, _, err := receive(dctx, make(chan int)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("receive past its deadline: %v", err)
	}
}

// TestConnackIs and TestHubAssignedKeys: the checks of refusals and keys.
func TestConnackIs(t *testing.T) {
	if err := connackIs(&device.ConnectRefusedError{Code: 5}, "not authorized"); err != nil {
		t.Error(err)
	}
	if err := connackIs(&device.ConnectRefusedError{Code: 5}, "the device is disabled"); err == nil || err.Error() != "expected CONNACK 3 (the device is disabled), got 5" {
		t.Errorf("another code: %v", err)
	}
	if err := connackIs(nil, "not authorized"); err == nil || !strings.Contains(err.Error(), "got a connection") {
		t.Errorf("no refusal: %v", err)
	}
}

func TestHubAssignedKeys(t *testing.T) {
	i := ident{"device", "d", ""}
	k := randomKey()
	if err := hubAssignedKeys(i, hub.SymmetricKey{PrimaryKey: k, SecondaryKey: randomKey()}); err != nil {
		t.Error(err)
	}
	if err := hubAssignedKeys(i, hub.SymmetricKey{PrimaryKey: k, SecondaryKey: k}); err == nil {
		t.Error("the same key twice: no error")
	}
	if err := hubAssignedKeys(i, hub.SymmetricKey{PrimaryKey: "c2hvcnQ=", SecondaryKey: k}); err == nil {
		t.Error("a short key: no error")
	}
}

// TestWhileThrottled: 429s are retried until another answer, which is
// returned at once, error or not.
func TestWhileThrottled(t *testing.T) {
	ctx := context.Background()
	calls := 0
	err := whileThrottled(ctx, func(context.Context) error {
		if calls++; calls < 3 {
			return fmt.Errorf("answer: %w", hub.ErrThrottled)
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("throttled twice, then accepted: %v after %d calls", err, calls)
	}
	other := errors.New("refused")
	calls = 0
	err = whileThrottled(ctx, func(context.Context) error { calls++; return other })
	if !errors.Is(err, other) || calls != 1 {
		t.Errorf("another refusal: %v after %d calls", err, calls)
	}
}
