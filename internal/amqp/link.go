package amqp

import (
	"context"
	"errors"
	"fmt"
)

// Link is one link the peer attached. Role is the server's end: a Link
// with RoleSender sends to the peer (Send), one with RoleReceiver
// receives from it (Receive).
type Link struct {
	s             *session
	name          string
	role          Role
	local, remote uint32
	peer          *Attach
	props         map[Symbol]any // sent in the server's attach
	settled       bool           // sender: every delivery pre-settled

	// sender state
	deliveryCount uint32
	credit        uint32
	drain         bool
	sending       bool
	sendSem       chan struct{}
	nextTag       uint64

	// receiver state
	window  uint32
	rcredit uint32
	queue   []*Delivery
	partial *incoming

	sig      chan struct{} // credit, window or queue changed
	done     chan struct{}
	err      error
	detached bool // the server has sent its detach
}

// Name is the link's name.
func (l *Link) Name() string { return l.name }

// Role is the server's role on the link.
func (l *Link) Role() Role { return l.role }

// Source and Target are the termini the peer proposed; either may be nil.
func (l *Link) Source() *Source { return l.peer.Source }
func (l *Link) Target() *Target { return l.peer.Target }

// Address is the node the link reaches on the server: the target's
// address when the server receives, the source's when it sends.
func (l *Link) Address() string {
	if l.role == RoleReceiver && l.peer.Target != nil {
		return l.peer.Target.Address
	}
	if l.role == RoleSender && l.peer.Source != nil {
		return l.peer.Source.Address
	}
	return ""
}

// Properties are the link properties the peer sent, such as
// com.microsoft:epoch or com.microsoft:client-version.
func (l *Link) Properties() map[Symbol]any { return l.peer.Properties }

// SetProperties sets the properties of the server's attach; it has effect
// only when called from Server.Attach.
func (l *Link) SetProperties(p map[Symbol]any) { l.props = p }

// Conn is the link's connection.
func (l *Link) Conn() *Conn { return l.s.c }

// Done is closed when the link has ended; Err then says why.
func (l *Link) Done() <-chan struct{} { return l.done }

// Context is a context cancelled when the link ends or cancel is called:
// what a goroutine serving the link waits with.
func (l *Link) Context() (ctx context.Context, cancel context.CancelFunc) {
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		select {
		case <-l.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// Err is why the link ended, nil while it lives.
func (l *Link) Err() error {
	l.s.c.mu.Lock()
	defer l.s.c.mu.Unlock()
	return l.err
}

// ErrLinkDetached is the error of a link the peer detached without one.
var ErrLinkDetached = errors.New("amqp: link detached")

// Close detaches the link with e (nil for none): the peer sees a detach
// with closed set. It does not wait for the peer's detach.
func (l *Link) Close(e *Error) error {
	c := l.s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.detached || l.err != nil {
		return l.err
	}
	return l.detach(e)
}

// detach sends the server's detach; called with c.mu held.
func (l *Link) detach(e *Error) error {
	l.detached = true
	var err error = ErrLinkDetached
	if e != nil {
		err = e
	}
	l.finish(err)
	return l.s.write(&Detach{Handle: l.local, Closed: true, Error: e}, nil)
}

// finish ends the link locally; called with c.mu held.
func (l *Link) finish(err error) {
	if l.err != nil {
		return
	}
	l.err = err
	close(l.done)
}

func (l *Link) wake() {
	select {
	case l.sig <- struct{}{}:
	default:
	}
}

// attach handles the peer's attach: the application decides in
// Server.Attach, called without c.mu held, and the server answers.
func (s *session) attach(a *Attach) error {
	if s.byRemote[a.Handle] != nil {
		return &sessionError{&Error{Condition: ErrHandleInUse, Description: fmt.Sprintf("handle %d is in use", a.Handle)}}
	}
	if a.Handle > orDefault(s.c.srv.HandleMax, 255) {
		return &sessionError{&Error{Condition: ErrResourceLimit, Description: "handle above handle-max"}}
	}
	local, ok := uint32(0), false
	for h := uint32(0); h <= min(s.handleMax, uint32(len(s.byLocal))); h++ {
		if s.byLocal[h] == nil {
			local, ok = h, true
			break
		}
	}
	if !ok {
		return &sessionError{&Error{Condition: ErrResourceLimit, Description: "no free handle"}}
	}
	l := &Link{
		s: s, name: a.Name, role: !a.Role, local: local, remote: a.Handle, peer: a,
		sendSem: make(chan struct{}, 1), sig: make(chan struct{}, 1), done: make(chan struct{}),
		window: orDefault(s.c.srv.LinkCredit, 100),
	}
	if a.InitialDeliveryCount != nil {
		l.deliveryCount = *a.InitialDeliveryCount
	}
	// Set before Server.Attach, which may start a goroutine that sends.
	l.settled = l.role == RoleSender && a.SndSettleMode != nil && *a.SndSettleMode == SenderSettleSettled
	s.byRemote[a.Handle], s.byLocal[local] = l, l // reserve the handles
	s.c.mu.Unlock()
	err := refuseAll(l)
	if s.c.srv.Attach != nil {
		err = s.c.srv.Attach(l)
	}
	s.c.mu.Lock()
	if l.err != nil { // the connection or session ended meanwhile
		return nil
	}
	return s.answerAttach(l, err)
}

func refuseAll(*Link) error {
	return &Error{Condition: ErrNotFound, Description: "no such node"}
}

// answerAttach sends the server's attach: the peer's termini echoed, or a
// null one followed by a detach when the application refused the link
// (part 2, section 2.6.3).
func (s *session) answerAttach(l *Link, refused error) error {
	a := l.peer
	ours := &Attach{
		Name: a.Name, Handle: l.local, Role: l.role, Source: a.Source, Target: a.Target,
		Properties: l.props, RcvSettleMode: new(uint8), // first
	}
	if l.role == RoleSender {
		zero := uint32(0)
		ours.InitialDeliveryCount = &zero
		mode := SenderSettleMixed
		if a.SndSettleMode != nil {
			mode = *a.SndSettleMode
		}
		ours.SndSettleMode = &mode
	} else {
		size := orDefault(s.c.srv.MaxMessageSize, 1<<20)
		ours.MaxMessageSize = &size
		ours.SndSettleMode = a.SndSettleMode
	}
	if refused != nil {
		if l.role == RoleSender {
			ours.Source = nil
		} else {
			ours.Target = nil
		}
		if err := s.write(ours, nil); err != nil {
			return err
		}
		var e *Error
		if !errors.As(refused, &e) {
			e = &Error{Condition: ErrInternal, Description: refused.Error()}
		}
		return l.detach(e)
	}
	if err := s.write(ours, nil); err != nil {
		return err
	}
	if l.role == RoleReceiver {
		l.rcredit = l.window
		return l.writeFlow(false)
	}
	return nil
}

// detach handles the peer's detach: it answers one the server did not
// start and frees both handles.
func (s *session) detach(d *Detach) error {
	l := s.byRemote[d.Handle]
	if l == nil {
		return &sessionError{&Error{Condition: ErrUnattachedHandle, Description: "detach for an unattached handle"}}
	}
	delete(s.byRemote, d.Handle)
	delete(s.byLocal, l.local)
	var err error = ErrLinkDetached
	if d.Error != nil {
		err = d.Error
	}
	l.finish(err)
	if l.detached {
		return nil
	}
	l.detached = true
	return s.write(&Detach{Handle: l.local, Closed: d.Closed}, nil)
}
