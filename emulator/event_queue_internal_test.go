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

// TestEventQueueRunOrPush: on an idle queue fn runs before runOrPush
// returns, and what is pushed meanwhile runs after it, in order, by a
// worker; on a busy queue fn waits its turn behind what was queued.
func TestEventQueueRunOrPush(t *testing.T) {
	q := newEventQueue()
	var got []int
	ranInline := false
	q.runOrPush(func() {
		ranInline = true
		q.mu.Lock()
		held := q.running != nil
		q.mu.Unlock()
		if !held {
			t.Error("the inline function runs without holding the queue's turn")
		}
		q.push(func() { got = append(got, 2) })
		q.push(func() { got = append(got, 3) })
		if len(got) != 0 {
			t.Error("a push ran before the inline function ended")
		}
		got = append(got, 1)
	})
	if !ranInline {
		t.Fatal("runOrPush returned before running fn on an idle queue")
	}
	q.mu.Lock()
	worker := q.running
	q.mu.Unlock()
	if worker == nil {
		t.Fatal("no worker for what was pushed during the inline function")
	}
	<-worker
	if !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("ran %v, want [1 2 3]", got)
	}

	release := make(chan struct{})
	q.push(func() { <-release; got = append(got, 4) })
	done := make(chan struct{})
	if !q.runOrPush(func() { got = append(got, 5); close(done) }) {
		t.Fatal("not queued")
	}
	close(release)
	<-done
	q.close()
	if !slices.Equal(got, []int{1, 2, 3, 4, 5}) {
		t.Fatalf("ran %v, want [1 2 3 4 5]", got)
	}
	if q.runOrPush(func() { t.Error("ran after close") }) {
		t.Fatal("runOrPush after close reported queued")
	}
}
