package device

import "sync"

// patchQueue hands desired patches to the application in order without ever
// blocking the MQTT receive path: an application that is slow to read its
// channel must not stall twin responses, and no patch may be dropped.
type patchQueue struct {
	mu     sync.Mutex
	items  []DesiredPatch
	wake   chan struct{}
	done   chan struct{}
	out    chan DesiredPatch
	closed bool
	// handing is true while run holds a patch taken from items that out
	// has not handed over yet.
	handing bool
}

func newPatchQueue() *patchQueue {
	q := &patchQueue{wake: make(chan struct{}, 1), done: make(chan struct{}), out: make(chan DesiredPatch)}
	go q.run()
	return q
}

func (q *patchQueue) push(p DesiredPatch) {
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, p)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *patchQueue) run() {
	defer close(q.out)
	for {
		q.mu.Lock()
		if len(q.items) == 0 {
			q.mu.Unlock()
			select {
			case <-q.wake:
				continue
			case <-q.done:
				return
			}
		}
		p := q.items[0]
		q.items = q.items[1:]
		q.handing = true
		q.mu.Unlock()
		select {
		case q.out <- p:
		case <-q.done:
			return
		}
		q.mu.Lock()
		q.handing = false
		q.mu.Unlock()
	}
}

// pending is how many patches the queue holds that out has not handed
// over yet.
func (q *patchQueue) pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.items)
	if q.handing {
		n++
	}
	return n
}

// close stops delivery and closes the output channel; undelivered patches
// are discarded, since the client that would act on them is gone.
func (q *patchQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.done)
	}
}
