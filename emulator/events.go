package emulator

import "sync"

// eventQueue runs the registry's side effects on MQTT connections (desired
// pushes, closing the connections of deleted identities) on one goroutine, in
// the order the registry produced them. The registry raises events while
// holding its lock, so enqueuing must never block; a socket write to a slow
// client therefore happens here, outside every lock, and pushes for one twin
// still leave in version order.
type eventQueue struct {
	mu      sync.Mutex
	items   []func()
	closed  bool
	wake    chan struct{}
	stopped chan struct{}
}

func newEventQueue() *eventQueue {
	q := &eventQueue{wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	go q.run()
	return q
}

// push enqueues fn; it never blocks. Events pushed after close are dropped.
func (q *eventQueue) push(fn func()) {
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, fn)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *eventQueue) run() {
	defer close(q.stopped)
	for range q.wake {
		for {
			q.mu.Lock()
			if len(q.items) == 0 {
				closed := q.closed
				q.mu.Unlock()
				if closed {
					return
				}
				break
			}
			fn := q.items[0]
			q.items[0] = nil
			q.items = q.items[1:]
			q.mu.Unlock()
			fn()
		}
	}
}

// close runs what is already queued, then stops the worker and waits for it.
func (q *eventQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	<-q.stopped
}
