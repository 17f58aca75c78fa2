package emulator

import "sync"

// eventQueue runs functions on one goroutine, in the order they were pushed,
// without ever blocking the pusher. The emulator uses one for the registry's
// events (raised while the registry holds its lock) and one per MQTT
// connection as its outbox (delivery.go), so a client that stops reading
// delays only itself while what it is sent keeps its order.
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

// push enqueues fn and returns how many items wait, fn included, and
// whether fn was queued: it is dropped once close has been called. push
// never blocks.
func (q *eventQueue) push(fn func()) (waiting int, queued bool) {
	q.mu.Lock()
	queued = !q.closed
	if queued {
		q.items = append(q.items, fn)
	}
	waiting = len(q.items)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return waiting, queued
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
