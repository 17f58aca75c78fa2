package amqp

import "fmt"

// sessionWindow is the server's incoming-window in transfer frames; it is
// topped up whenever half of it has been used.
const sessionWindow = 5000

// session is one session of a connection (part 2, section 2.5). Its state
// is guarded by the connection's mu.
type session struct {
	c             *Conn
	local, remote uint16

	nextIncomingID       uint32
	incomingWindow       uint32
	nextOutgoingID       uint32
	remoteIncomingWindow uint32
	nextDeliveryID       uint32
	handleMax            uint32 // the peer's: our handles stay at or below it

	byRemote  map[uint32]*Link
	byLocal   map[uint32]*Link
	unsettled map[uint32]*outgoing // our deliveries awaiting their outcome
	ending    bool                 // we sent end with an error
}

func newSession(c *Conn, local, remote uint16, b *Begin) *session {
	s := &session{
		c: c, local: local, remote: remote,
		nextIncomingID: b.NextOutgoingID, incomingWindow: sessionWindow,
		remoteIncomingWindow: b.IncomingWindow, handleMax: 1<<32 - 1,
		byRemote: map[uint32]*Link{}, byLocal: map[uint32]*Link{}, unsettled: map[uint32]*outgoing{},
	}
	if b.HandleMax != nil {
		s.handleMax = *b.HandleMax
	}
	return s
}

func (s *session) write(perf composite, payload []byte) error {
	return s.c.writeFrame(frameAMQP, s.local, perf, payload)
}

// sessionError ends the session with an error and is not a connection
// error: dispatch reports it to the peer in end.
type sessionError struct{ e *Error }

func (e *sessionError) Error() string { return e.e.Error() }

// dispatch handles one frame for this session; called with c.mu held.
func (s *session) dispatch(body any, payload []byte) error {
	if s.ending {
		if _, ok := body.(*End); ok {
			s.remove()
		}
		return nil // frames in flight before the peer saw our end
	}
	var err error
	switch p := body.(type) {
	case *End:
		s.teardown(fmt.Errorf("amqp: session ended by the peer: %v", p.Error))
		s.remove()
		return s.write(&End{}, nil)
	case *Attach:
		err = s.attach(p)
	case *Flow:
		err = s.flow(p)
	case *Transfer:
		err = s.transfer(p, payload)
	case *Disposition:
		err = s.disposition(p)
	case *Detach:
		err = s.detach(p)
	}
	if se, ok := err.(*sessionError); ok {
		s.ending = true
		s.teardown(se.e)
		return s.write(&End{Error: se.e}, nil)
	}
	return err
}

func (s *session) remove() {
	delete(s.c.sessions, s.remote)
	delete(s.c.locals, s.local)
}

// teardown ends every link of the session with err.
func (s *session) teardown(err error) {
	for _, l := range s.byLocal {
		l.finish(err)
	}
	for _, l := range s.byRemote {
		l.finish(err)
	}
	for id, o := range s.unsettled {
		o.finish(nil, err)
		delete(s.unsettled, id)
	}
}

// flowFields fills a flow's session fields.
func (s *session) flowFields(f *Flow) *Flow {
	next := s.nextIncomingID
	f.NextIncomingID = &next
	f.IncomingWindow = s.incomingWindow
	f.NextOutgoingID = s.nextOutgoingID
	f.OutgoingWindow = sessionWindow
	return f
}

func (s *session) flow(f *Flow) error {
	if f.NextIncomingID != nil {
		s.remoteIncomingWindow = *f.NextIncomingID + f.IncomingWindow - s.nextOutgoingID
	} else {
		s.remoteIncomingWindow = f.IncomingWindow
	}
	var l *Link
	if f.Handle != nil {
		if l = s.byRemote[*f.Handle]; l == nil {
			return &sessionError{&Error{Condition: ErrUnattachedHandle, Description: "flow for an unattached handle"}}
		}
		if err := l.onFlow(f); err != nil {
			return err
		}
	} else if f.Echo {
		if err := s.write(s.flowFields(&Flow{}), nil); err != nil {
			return err
		}
	}
	for _, l := range s.byLocal {
		l.wake() // session window may have opened
	}
	return nil
}

func (s *session) transfer(t *Transfer, payload []byte) error {
	if s.incomingWindow == 0 {
		return &sessionError{&Error{Condition: ErrWindowViolation, Description: "transfer beyond the incoming-window"}}
	}
	s.incomingWindow--
	s.nextIncomingID++
	l := s.byRemote[t.Handle]
	if l == nil {
		return &sessionError{&Error{Condition: ErrUnattachedHandle, Description: "transfer for an unattached handle"}}
	}
	if l.role != RoleReceiver {
		return &sessionError{&Error{Condition: ErrErrantLink, Description: "transfer on a link the server sends on"}}
	}
	if err := l.onTransfer(t, payload); err != nil {
		return err
	}
	if s.incomingWindow < sessionWindow/2 {
		s.incomingWindow = sessionWindow
		return s.write(s.flowFields(&Flow{}), nil)
	}
	return nil
}

// disposition applies the peer's dispositions. As receiver it settles the
// server's deliveries; the server's receivers settle first (rcv-settle-mode
// first), so a disposition from a sender changes nothing.
func (s *session) disposition(d *Disposition) error {
	if d.Role != RoleReceiver {
		return nil
	}
	last := d.First
	if d.Last != nil {
		last = *d.Last
	}
	if last-d.First > uint32(len(s.unsettled)) { // a wide range: walk the map, not the range
		for id, o := range s.unsettled {
			if id-d.First <= last-d.First {
				s.settle(id, o, d)
			}
		}
		return nil
	}
	for id := d.First; ; id++ {
		if o := s.unsettled[id]; o != nil {
			s.settle(id, o, d)
		}
		if id == last {
			return nil
		}
	}
}

// settle completes one of the server's deliveries; an outcome the peer
// left unsettled is settled by the server (it never asks for
// rcv-settle-mode second).
func (s *session) settle(id uint32, o *outgoing, d *Disposition) {
	if d.State == nil && !d.Settled {
		return
	}
	delete(s.unsettled, id)
	if !d.Settled {
		_ = s.write(&Disposition{Role: RoleSender, First: id, Settled: true, State: d.State}, nil)
	}
	o.finish(d.State, nil)
}
