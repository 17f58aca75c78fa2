package emulator

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestSettleWaitsForWhatTheOutboxHolds: the barrier's outbox half does not
// return while an earlier push is still unwritten (the pipe blocks the write
// until the test reads it); its marker follows that push on the wire,
// although the connection subscribed only to $iothub/twin/#.
func TestSettleWaitsForWhatTheOutboxHolds(t *testing.T) {
	broker, conns, _ := newTestConnections()
	c := connect(t, broker, conns, "dev/mod")
	id := identity{"dev", "mod"}
	if err := conns.deliver(id, "$iothub/twin/PATCH/properties/desired/?$version=2", []byte("late")); err != nil {
		t.Fatal(err)
	}
	settled := make(chan bool, 1)
	go func() {
		marked, err := conns.settle(context.Background(), id, "m1")
		if err != nil {
			t.Error(err)
		}
		settled <- marked
	}()
	select {
	case <-settled:
		t.Fatal("the barrier passed while a push was still unwritten")
	case <-time.After(100 * time.Millisecond): // a deadline on a wrong outcome, not a settling sleep
	}
	if _, payload := c.next(t); payload != "late" {
		t.Fatalf("first on the wire %q, want the push", payload)
	}
	if topic, _ := c.next(t); topic != DeliveryMarkerPrefix+"m1" {
		t.Fatalf("after the push %q, want the marker", topic)
	}
	if !<-settled {
		t.Fatal("the barrier says it wrote no marker")
	}
}

// TestSettleOwesNothingToTheDisconnected: no live connection, no marker,
// no wait; a stuck connection holds the barrier until its context ends.
func TestSettleOwesNothingToTheDisconnected(t *testing.T) {
	broker, conns, _ := newTestConnections()
	if marked, err := conns.settle(context.Background(), identity{"ghost", ""}, "m"); marked || err != nil {
		t.Fatalf("settle of an identity never connected = %v, %v; want false, nil", marked, err)
	}
	connect(t, broker, conns, "stuck")
	if err := conns.deliver(identity{"stuck", ""}, "$iothub/twin/res/200/?$rid=1", nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := conns.settle(ctx, identity{"stuck", ""}, "m"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("settle of a connection that does not read: %v, want context.DeadlineExceeded", err)
	}
}

// TestFlushQueueRunsWhatCameBefore: the event queue half returns after
// everything pushed before it ran, and refuses once the queue is closed.
func TestFlushQueueRunsWhatCameBefore(t *testing.T) {
	q := newEventQueue()
	release := make(chan struct{})
	ran := false
	q.push(func() { <-release; ran = true })
	flushed := make(chan error, 1)
	go func() { flushed <- flushQueue(context.Background(), q) }()
	select {
	case <-flushed:
		t.Fatal("flushed before the earlier event ran")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := <-flushed; err != nil || !ran {
		t.Fatalf("flush = %v, earlier event ran %v", err, ran)
	}
	q.close()
	if err := flushQueue(context.Background(), q); !errors.Is(err, errClosed) || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("flush of a closed queue: %v, want errClosed", err)
	}
}
