package amqp_test

import (
	"errors"
	"testing"

	goamqp "github.com/Azure/go-amqp"

	"github.com/hubspec/hubspec/internal/amqp"
)

// TestAttachRefused: an Attach error reaches the peer as the detach's
// error, condition kept.
func TestAttachRefused(t *testing.T) {
	srv := &amqp.Server{Attach: func(l *amqp.Link) error {
		if l.Address() == "$cbs" {
			return nil
		}
		return &amqp.Error{Condition: amqp.ErrUnauthorizedAccess, Description: "no token for " + l.Address()}
	}}
	s := session(t, dial(t, serve(t, srv), nil))
	_, err := s.NewSender(ctx(t), "devices/d1/messages/events", nil)
	if e := remoteErr(err); e == nil || e.Condition != goamqp.ErrCondUnauthorizedAccess {
		t.Fatalf("sender attach: %v", err)
	}
	_, err = s.NewReceiver(ctx(t), "devices/d1/messages/devicebound", nil)
	if e := remoteErr(err); e == nil || e.Condition != goamqp.ErrCondUnauthorizedAccess {
		t.Fatalf("receiver attach: %v", err)
	}
	if _, err := s.NewSender(ctx(t), "$cbs", nil); err != nil {
		t.Fatalf("the session outlives refused links: %v", err)
	}
	nilSrv := &amqp.Server{} // no Attach: every node is not found
	_, err = session(t, dial(t, serve(t, nilSrv), nil)).NewSender(ctx(t), "x", nil)
	if e := remoteErr(err); e == nil || e.Condition != goamqp.ErrCondNotFound {
		t.Fatalf("attach without an Attach callback: %v", err)
	}
}

// TestDetach: the server detaching with an error ends the peer's link with
// it; the peer detaching ends the server's link.
func TestDetach(t *testing.T) {
	ls := links(make(chan *amqp.Link, 2))
	s := session(t, dial(t, serve(t, &amqp.Server{Attach: ls.attach}), nil))
	rcv, err := s.NewReceiver(ctx(t), "stolen", nil)
	if err != nil {
		t.Fatal(err)
	}
	l := ls.next(t)
	if err := l.Close(&amqp.Error{Condition: amqp.ErrStolen, Description: "a newer receiver"}); err != nil {
		t.Fatal(err)
	}
	_, err = rcv.Receive(ctx(t), nil)
	if e := remoteErr(err); e == nil || e.Condition != goamqp.ErrCondStolen {
		t.Fatalf("receive on a detached link: %v", err)
	}
	if _, err := l.Send(ctx(t), &amqp.Message{Value: "x"}); err == nil {
		t.Fatal("Send on a closed link succeeded")
	}

	snd, err := s.NewSender(ctx(t), "in", nil)
	if err != nil {
		t.Fatal(err)
	}
	l = ls.next(t)
	if err := snd.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
	<-l.Done()
	if !errors.Is(l.Err(), amqp.ErrLinkDetached) {
		t.Fatalf("link error %v", l.Err())
	}
	if _, err := l.Receive(ctx(t)); !errors.Is(err, amqp.ErrLinkDetached) {
		t.Fatalf("receive on a detached link: %v", err)
	}
}

// TestConnClose: the server closing a connection with an error ends the
// peer's connection with it; Server.Close waits for every connection.
func TestConnClose(t *testing.T) {
	ls := links(make(chan *amqp.Link, 2))
	srv := &amqp.Server{Attach: ls.attach}
	addr := serve(t, srv)
	s := session(t, dial(t, addr, nil))
	rcv, err := s.NewReceiver(ctx(t), "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	l := ls.next(t)
	l.Conn().Close(&amqp.Error{Condition: amqp.ErrConnectionForced, Description: "device disabled"})
	_, err = rcv.Receive(ctx(t), nil)
	var ce *goamqp.ConnError
	if !errors.As(err, &ce) || ce.RemoteErr == nil || ce.RemoteErr.Condition != goamqp.ErrCondConnectionForced {
		t.Fatalf("receive after the server's close: %v", err)
	}
	<-l.Conn().Done()
	if l.Err() == nil {
		t.Fatal("a link of a closed connection has no error")
	}

	s2 := session(t, dial(t, addr, nil))
	if _, err := s2.NewReceiver(ctx(t), "b", nil); err != nil {
		t.Fatal(err)
	}
	l2 := ls.next(t)
	srv.Close()
	select {
	case <-l2.Conn().Done():
	default:
		t.Fatal("Server.Close returned before its connections ended")
	}
}
