package emulator

import "sync"

// eventQueue runs functions one at a time, in the order they were pushed,
// without ever blocking the pusher. The emulator uses one for the registry's
// events (raised while the registry holds its lock) and one per MQTT
// connection as its outbox (delivery.go), so a client that stops reading
// delays only itself while what it is sent keeps its order.
//
// Its worker goroutine runs only while something waits: push starts it and
// it ends once the queue is empty, dropping the queue's backing array. An
// idle connection's outbox then costs a few words rather than a goroutine's
// stack, which is most of what tens of thousands of connections would hold.
type eventQueue struct {
	mu      sync.Mutex
	items   []func()
	closed  bool
	running chan struct{} // the worker's; closed when it ends; nil: no worker
}

func newEventQueue() *eventQueue { return &eventQueue{} }

// push enqueues fn and returns how many items wait, fn included, and
// whether fn was queued: it is dropped once close has been called. push
// never blocks.
func (q *eventQueue) push(fn func()) (waiting int, queued bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return len(q.items), false
	}
	q.items = append(q.items, fn)
	if q.running == nil {
		q.running = make(chan struct{})
		go q.run(q.running)
	}
	return len(q.items), true
}

// runOrPush runs fn on the caller's goroutine when the queue is idle
// (nothing waits and no worker runs), holding the queue's turn meanwhile so
// that what is pushed then runs after fn, in order, by a worker started
// once fn returns; otherwise it pushes fn. It saves a goroutine start and
// two hand-offs when the caller would wait for fn anyway: a connection's
// read path waiting for its own answer to be written (delivery.go, reply),
// which may block only on its own client. queued is push's.
func (q *eventQueue) runOrPush(fn func()) (queued bool) {
	q.mu.Lock()
	if !q.idleLocked() {
		q.mu.Unlock()
		_, queued = q.push(fn)
		return queued
	}
	done := make(chan struct{})
	q.running = done
	q.mu.Unlock()
	defer q.handOff(done)
	fn()
	return true
}

// idle reports whether q is open and has run everything pushed so far:
// nothing waits and no worker runs.
func (q *eventQueue) idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.idleLocked()
}

// idleLocked is idle; q.mu is held.
func (q *eventQueue) idleLocked() bool {
	return !q.closed && q.running == nil && len(q.items) == 0
}

// handOff ends runOrPush's turn: a worker takes what was pushed meanwhile,
// or the queue is idle again.
func (q *eventQueue) handOff(done chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) > 0 {
		go q.run(done)
		return
	}
	q.items = nil
	q.running = nil
	close(done)
}

// run drains the queue, then ends. Only one runs at a time: a new one starts
// only after this one has cleared q.running under q.mu.
func (q *eventQueue) run(done chan struct{}) {
	defer close(done)
	for {
		q.mu.Lock()
		if len(q.items) == 0 {
			q.items = nil
			q.running = nil
			q.mu.Unlock()
			return
		}
		fn := q.items[0]
		q.items[0] = nil
		q.items = q.items[1:]
		q.mu.Unlock()
		fn()
	}
}

// close runs what is already queued, then waits for the worker to end.
// Nothing pushed after it runs.
func (q *eventQueue) close() {
	q.mu.Lock()
	q.closed = true
	running := q.running
	q.mu.Unlock()
	if running != nil {
		<-running
	}
}
