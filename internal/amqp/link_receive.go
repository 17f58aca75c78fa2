package amqp

import (
	"context"
	"errors"
)

// incoming is a delivery whose transfers are still arriving.
type incoming struct {
	id      uint32
	settled bool
	format  uint32
	buf     []byte
}

// Delivery is a message the server received on one of its receivers.
// Unless the peer sent it settled, it waits for the application's outcome:
// Accept, Reject, Release or Modify (the server settles first, so the
// outcome also settles it).
type Delivery struct {
	Message *Message
	link    *Link
	id      uint32
	settled bool
}

// Settled reports whether the delivery needs no outcome: the peer sent it
// pre-settled, or an outcome was already given.
func (d *Delivery) Settled() bool {
	d.link.s.c.mu.Lock()
	defer d.link.s.c.mu.Unlock()
	return d.settled
}

// Link is the link the delivery arrived on.
func (d *Delivery) Link() *Link { return d.link }

// Accept settles the delivery as accepted.
func (d *Delivery) Accept() error { return d.settle(&Accepted{}) }

// Reject settles it as rejected with e, the reason the peer sees.
func (d *Delivery) Reject(e *Error) error { return d.settle(&Rejected{Error: e}) }

// Release settles it as released: not processed, may be redelivered.
func (d *Delivery) Release() error { return d.settle(&Released{}) }

// Modify settles it as modified (3.4.5).
func (d *Delivery) Modify(failed, undeliverableHere bool, annotations Annotations) error {
	return d.settle(&Modified{DeliveryFailed: failed, UndeliverableHere: undeliverableHere, MessageAnnotations: annotations})
}

// ErrSettled is the error of a second outcome for one delivery.
var ErrSettled = errors.New("amqp: delivery already settled")

func (d *Delivery) settle(state DeliveryState) error {
	l := d.link
	l.s.c.mu.Lock()
	defer l.s.c.mu.Unlock()
	if d.settled {
		return ErrSettled
	}
	d.settled = true
	if l.err != nil {
		return l.err
	}
	return l.s.write(&Disposition{Role: RoleReceiver, First: d.id, Settled: true, State: state}, nil)
}

// Receive returns the next message the peer sent on a link where the
// server is the receiver, topping up the peer's credit as the application
// takes messages: the server never buffers more than LinkCredit messages.
func (l *Link) Receive(ctx context.Context) (*Delivery, error) {
	if l.role != RoleReceiver {
		return nil, ErrNotReceiver
	}
	c := l.s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(l.queue) == 0 {
		if l.err != nil {
			return nil, l.err
		}
		c.mu.Unlock()
		select {
		case <-l.sig:
		case <-l.done:
		case <-ctx.Done():
		}
		c.mu.Lock()
		if len(l.queue) == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	d := l.queue[0]
	l.queue[0] = nil
	l.queue = l.queue[1:]
	if l.err == nil && l.rcredit+uint32(len(l.queue)) <= l.window/2 {
		l.rcredit = l.window - uint32(len(l.queue))
		if err := l.writeFlow(false); err != nil {
			return d, nil // the message arrived; the connection's end shows next time
		}
	}
	return d, nil
}

// onTransfer takes one transfer frame; called with c.mu held. Errors of
// the link detach it and are not session errors.
func (l *Link) onTransfer(t *Transfer, payload []byte) error {
	if l.err != nil {
		return nil // detached by the server; frames in flight
	}
	if l.partial == nil {
		if t.DeliveryID == nil {
			return l.detach(&Error{Condition: ErrInvalidField, Description: "first transfer without a delivery-id"})
		}
		if l.rcredit == 0 {
			return l.detach(&Error{Condition: ErrTransferLimit, Description: "transfer without link credit"})
		}
		l.rcredit--
		l.deliveryCount++
		l.partial = &incoming{id: *t.DeliveryID}
		if t.MessageFormat != nil {
			l.partial.format = *t.MessageFormat
		}
	}
	p := l.partial
	if t.Aborted {
		l.partial = nil
		return nil
	}
	p.settled = p.settled || t.Settled
	if uint64(len(p.buf))+uint64(len(payload)) > orDefault(l.s.c.srv.MaxMessageSize, 1<<20) {
		l.partial = nil
		return l.detach(&Error{Condition: ErrMessageSizeExceeded, Description: "message larger than max-message-size"})
	}
	if p.buf == nil && !t.More {
		p.buf = payload // one frame: the frame's fresh buffer is the message's
	} else {
		p.buf = append(p.buf, payload...)
	}
	if t.More {
		return nil
	}
	l.partial = nil
	msg := &Message{}
	d := &Delivery{Message: msg, link: l, id: p.id, settled: p.settled}
	if err := msg.UnmarshalBinary(p.buf); err != nil {
		if !d.settled { // a malformed message is rejected (3.4.3), not queued
			d.settled = true
			return l.s.write(&Disposition{Role: RoleReceiver, First: d.id, Settled: true,
				State: &Rejected{Error: &Error{Condition: ErrDecode, Description: err.Error()}}}, nil)
		}
		return nil
	}
	msg.Format = p.format
	l.queue = append(l.queue, d)
	l.wake()
	return nil
}
