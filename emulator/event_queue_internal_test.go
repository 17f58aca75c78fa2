package emulator

import (
	"slices"
	"testing"
)

// TestEventQueueWorkerOnlyWhileBusy: the worker ends once the queue is
// empty and a new one starts with the next push, with the order kept across
// them; close runs what waits, then refuses.
func TestEventQueueWorkerOnlyWhileBusy(t *testing.T) {
	q := newEventQueue()
	var got []int
	release := make(chan struct{})
	q.push(func() { <-release; got = append(got, 1) })
	q.push(func() { got = append(got, 2) })
	worker := q.running
	if worker == nil {
		t.Fatal("no worker while items wait")
	}
	close(release)
	<-worker
	if q.running != nil || q.items != nil {
		t.Fatalf("after draining: worker %v, items %v; want neither", q.running, q.items)
	}
	q.push(func() { got = append(got, 3) })
	q.close()
	if !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("ran %v, want [1 2 3]", got)
	}
	if _, queued := q.push(func() { t.Error("ran after close") }); queued {
		t.Fatal("push after close was queued")
	}
}
