package amqp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
)

// outgoing is one of the server's unsettled deliveries.
type outgoing struct {
	done  chan struct{}
	state DeliveryState
	err   error
}

func (o *outgoing) finish(state DeliveryState, err error) {
	o.state, o.err = state, err
	close(o.done)
}

// ErrNotSender and ErrNotReceiver are the errors of Send on a receiving
// link and of Receive on a sending one.
var (
	ErrNotSender   = errors.New("amqp: the server receives on this link")
	ErrNotReceiver = errors.New("amqp: the server sends on this link")
)

// Send sends msg on a link where the server is the sender. It waits for
// the peer's link credit and session window, splits the message into
// frames of the peer's max-frame-size, and then waits for the peer's
// outcome (Accepted, Rejected, Released or Modified). When the peer asked
// for pre-settled deliveries (snd-settle-mode settled), Send returns once
// the message is written, with a nil outcome.
func (l *Link) Send(ctx context.Context, msg *Message) (DeliveryState, error) {
	if l.role != RoleSender {
		return nil, ErrNotSender
	}
	payload, err := msg.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if m := l.peer.MaxMessageSize; m != nil && *m > 0 && uint64(len(payload)) > *m {
		return nil, fmt.Errorf("amqp: message of %d bytes exceeds the peer's max-message-size %d", len(payload), *m)
	}
	select { // one delivery at a time per link: its frames may not interleave
	case l.sendSem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	o, err := l.transmit(ctx, msg.Format, payload, l.settled)
	<-l.sendSem
	if err != nil || o == nil {
		return nil, err
	}
	select {
	case <-o.done:
		return o.state, o.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// SendSettled sends msg pre-settled on a link where the server is the
// sender, whatever settle mode the peer asked for (a sender in mode mixed
// may settle each delivery at once, part 2, section 2.8.2): it returns
// once the message is written, as Event Hubs sends events to receivers
// that never settle them.
func (l *Link) SendSettled(ctx context.Context, msg *Message) error {
	if l.role != RoleSender {
		return ErrNotSender
	}
	payload, err := msg.MarshalBinary()
	if err != nil {
		return err
	}
	if m := l.peer.MaxMessageSize; m != nil && *m > 0 && uint64(len(payload)) > *m {
		return fmt.Errorf("amqp: message of %d bytes exceeds the peer's max-message-size %d", len(payload), *m)
	}
	select {
	case l.sendSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	_, err = l.transmit(ctx, msg.Format, payload, true)
	<-l.sendSem
	return err
}

// post sends msg without waiting for its outcome.
func (l *Link) post(ctx context.Context, msg *Message) error {
	payload, err := msg.MarshalBinary()
	if err != nil {
		return err
	}
	select {
	case l.sendSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	_, err = l.transmit(ctx, msg.Format, payload, l.settled)
	<-l.sendSem
	return err
}

// await waits, with c.mu held, until ready holds or the link ends.
func (l *Link) await(ctx context.Context, ready func() bool) error {
	c := l.s.c
	for !ready() {
		if l.err != nil {
			return l.err
		}
		c.mu.Unlock()
		select {
		case <-l.sig:
		case <-l.done:
		case <-ctx.Done():
		}
		c.mu.Lock()
		if ctx.Err() != nil && !ready() {
			return ctx.Err()
		}
	}
	if l.err != nil {
		return l.err
	}
	return nil
}

// transmit writes one delivery's transfers.
func (l *Link) transmit(ctx context.Context, format uint32, payload []byte, settled bool) (*outgoing, error) {
	c, s := l.s.c, l.s
	c.mu.Lock()
	defer c.mu.Unlock()
	l.sending = true
	defer func() { l.sending = false; l.exhaustDrain() }()
	if err := l.await(ctx, func() bool { return l.credit > 0 && s.remoteIncomingWindow > 0 }); err != nil {
		return nil, err
	}
	l.credit--
	l.deliveryCount++
	id := s.nextDeliveryID
	s.nextDeliveryID++
	tag := binary.BigEndian.AppendUint64(nil, l.nextTag)
	l.nextTag++
	var o *outgoing
	if !settled {
		o = &outgoing{done: make(chan struct{})}
		s.unsettled[id] = o
	}
	t := &Transfer{Handle: l.local, DeliveryID: &id, DeliveryTag: tag, MessageFormat: &format, Settled: settled}
	for first := true; first || len(payload) > 0; first = false {
		if err := l.await(ctx, func() bool { return s.remoteIncomingWindow > 0 }); err != nil {
			if l.err == nil { // end the started delivery (2.6.14)
				_ = s.write(&Transfer{Handle: l.local, Aborted: true, Settled: true}, nil)
				delete(s.unsettled, id)
			}
			return nil, err
		}
		t.More = true
		head, err := appendComposite(nil, t)
		if err != nil {
			return nil, err
		}
		room := int(c.peerMaxFrame) - 8 - len(head)
		chunk := payload
		if len(chunk) > room {
			chunk = chunk[:room]
		} else {
			t.More = false
		}
		if err := s.write(t, chunk); err != nil {
			return nil, err
		}
		payload = payload[len(chunk):]
		s.nextOutgoingID++
		s.remoteIncomingWindow--
		t = &Transfer{Handle: l.local, Settled: settled}
	}
	return o, nil
}

// onFlow applies the peer's flow to the link; called with c.mu held.
func (l *Link) onFlow(f *Flow) error {
	if l.role == RoleSender && f.LinkCredit != nil {
		// link-credit(snd) := delivery-count(rcv) + link-credit(rcv) -
		// delivery-count(snd) (part 2, section 2.6.7)
		dc := uint32(0)
		if f.DeliveryCount != nil {
			dc = *f.DeliveryCount
		}
		l.credit = dc + *f.LinkCredit - l.deliveryCount
		l.drain = f.Drain
		l.exhaustDrain()
		l.wake()
	}
	if f.Echo {
		return l.writeFlow(false)
	}
	return nil
}

// exhaustDrain answers a drain (part 2, section 2.6.7): unless a delivery
// is about to use the credit, the credit left is used up by advancing the
// delivery-count, and the peer is told with a flow, once per drain.
func (l *Link) exhaustDrain() {
	if l.role != RoleSender || !l.drain || l.sending && l.credit > 0 || l.err != nil {
		return
	}
	l.deliveryCount += l.credit
	l.credit = 0
	l.drain = false
	_ = l.writeFlow(true)
}

// writeFlow sends the link's flow state; called with c.mu held.
func (l *Link) writeFlow(drain bool) error {
	dc := l.deliveryCount
	credit := l.credit
	if l.role == RoleReceiver {
		credit = l.rcredit
	}
	h := l.local
	f := l.s.flowFields(&Flow{Handle: &h, DeliveryCount: &dc, LinkCredit: &credit, Drain: drain})
	return l.s.write(f, nil)
}
