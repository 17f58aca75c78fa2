package amqp

import (
	"errors"
	"net"
	"time"
)

// loop reads frames until the connection ends. Every frame, empty ones
// included, pushes back the idle deadline.
func (c *Conn) loop() error {
	idle := c.idleTimeout()
	for {
		c.mu.Lock()
		closing := c.closing
		if idle > 0 && !closing {
			_ = c.nc.SetReadDeadline(time.Now().Add(idle))
		}
		c.mu.Unlock()
		f, err := readFrame(c.br, c.maxFrame)
		if err != nil {
			if closing {
				return errLocalClose
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return c.fail(&Error{Condition: ErrResourceLimit, Description: "local-idle-timeout expired"})
			}
			return c.fail(err)
		}
		if f.empty {
			continue // an empty frame: a heartbeat
		}
		if err := c.dispatch(f); err != nil {
			return c.fail(err)
		}
	}
}

var errLocalClose = errors.New("amqp: connection closed by the server")

// peerClose is the peer's close; it ends the loop without an answer of
// ours beyond the close already sent.
type peerClose struct{ err *Error }

func (p *peerClose) Error() string {
	if p.err == nil {
		return errPeerClosed.Error()
	}
	return errPeerClosed.Error() + ": " + p.err.Error()
}
func (p *peerClose) Unwrap() error { return errPeerClosed }

// fail ends the connection for err: a protocol error is sent to the peer
// in close, an I/O error is not (there is no one to tell).
func (c *Conn) fail(err error) error {
	var (
		e  *Error
		fe *framingError
		de *decodeError
		pc *peerClose
	)
	switch {
	case errors.As(err, &pc):
		return err
	case errors.Is(err, errLocalClose):
		return err
	case errors.As(err, &e):
	case errors.As(err, &fe):
		e = &Error{Condition: ErrFramingError, Description: fe.msg}
	case errors.As(err, &de):
		e = &Error{Condition: ErrDecode, Description: de.Error()}
	default:
		return err
	}
	c.mu.Lock()
	opened := c.opened
	if opened {
		c.sendClose(e)
	}
	c.mu.Unlock()
	if opened && fe == nil {
		c.awaitClose() // the framing is intact: let the peer answer
	}
	return e
}

// awaitClose reads until the peer's close or the grace deadline.
func (c *Conn) awaitClose() {
	for {
		f, err := readFrame(c.br, c.maxFrame)
		if err != nil {
			return
		}
		if _, ok := f.body.(*Close); ok {
			return
		}
	}
}

// dispatch handles one frame of the open connection.
func (c *Conn) dispatch(f frame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.typ != frameAMQP {
		return &framingError{"sasl frame after sasl"}
	}
	if c.closing {
		if _, ok := f.body.(*Close); ok {
			return errLocalClose
		}
		return nil // after our close, the peer's other frames do not matter
	}
	switch p := f.body.(type) {
	case *Open:
		return &Error{Condition: ErrNotAllowed, Description: "open sent twice"}
	case *Close:
		c.closing = true
		_ = c.writeFrame(frameAMQP, 0, &Close{}, nil)
		return &peerClose{p.Error}
	case *Begin:
		return c.begin(f.channel, p)
	case *Attach, *Flow, *Transfer, *Disposition, *Detach, *End:
		s := c.sessions[f.channel]
		if s == nil {
			return &Error{Condition: ErrNotFound, Description: "no session on this channel"}
		}
		return s.dispatch(f.body, f.payload)
	}
	return &Error{Condition: ErrDecode, Description: "frame body is not a performative"}
}

// begin answers a peer's begin with ours on the lowest free channel.
func (c *Conn) begin(ch uint16, b *Begin) error {
	if c.sessions[ch] != nil {
		return &Error{Condition: ErrNotAllowed, Description: "channel already has a session"}
	}
	if b.RemoteChannel != nil {
		return &Error{Condition: ErrNotAllowed, Description: "the server does not begin sessions"}
	}
	limit := orDefault(c.srv.ChannelMax, 255)
	if c.peer.ChannelMax != nil {
		limit = min(limit, *c.peer.ChannelMax)
	}
	local, ok := uint16(0), false
	for i := 0; i <= int(limit); i++ {
		if c.locals[uint16(i)] == nil {
			local, ok = uint16(i), true
			break
		}
	}
	if !ok {
		return &Error{Condition: ErrResourceLimit, Description: "channel-max sessions are open"}
	}
	s := newSession(c, local, ch, b)
	c.sessions[ch], c.locals[local] = s, s
	handleMax := orDefault(c.srv.HandleMax, 255)
	return c.writeFrame(frameAMQP, local, &Begin{
		RemoteChannel: &ch, NextOutgoingID: s.nextOutgoingID, IncomingWindow: s.incomingWindow,
		OutgoingWindow: sessionWindow, HandleMax: &handleMax,
	}, nil)
}
