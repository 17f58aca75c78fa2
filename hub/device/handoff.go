package device

import "sync"

// handoff hands what the hub sends (desired patches, cloud-to-device
// messages) to the application in order without ever blocking the MQTT
// receive path: an application that is slow to read its channel must not
// stall twin responses, and nothing may be dropped.
type handoff[T any] struct {
	mu     sync.Mutex
	items  []T
	wake   chan struct{}
	done   chan struct{}
	out    chan T
	closed bool
	// handing is true while run holds an item taken from items that out
	// has not handed over yet.
	handing bool
}

func newHandoff[T any]() *handoff[T] {
	q := &handoff[T]{wake: make(chan struct{}, 1), done: make(chan struct{}), out: make(chan T)}
	go q.run()
	return q
}

func (q *handoff[T]) push(p T) {
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

func (q *handoff[T]) run() {
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

// pending is how many items the queue holds that out has not handed over
// yet.
func (q *handoff[T]) pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.items)
	if q.handing {
		n++
	}
	return n
}

// close stops delivery and closes the output channel; what was not delivered
// is discarded, since the client that would act on them is gone.
func (q *handoff[T]) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.done)
	}
}
