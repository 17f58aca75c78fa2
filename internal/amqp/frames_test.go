package amqp_test

import (
	"bytes"
	"testing"

	goamqp "github.com/Azure/go-amqp"

	"github.com/hubspec/hubspec/internal/amqp"
)

// TestLargeMessages: with 512-byte frames on both sides, a 300 KB message
// crosses in hundreds of transfers each way, and one above the server's
// max-message-size is refused by the peer before it is sent.
func TestLargeMessages(t *testing.T) {
	ls := links(make(chan *amqp.Link, 2))
	addr := serve(t, &amqp.Server{Attach: ls.attach, MaxFrameSize: 512, MaxMessageSize: 400 << 10})
	s := session(t, dial(t, addr, &goamqp.ConnOptions{SASLType: goamqp.SASLTypeAnonymous(), MaxFrameSize: 512}))
	body := bytes.Repeat([]byte("0123456789abcdef"), 300<<10/16)

	snd, err := s.NewSender(ctx(t), "in", nil)
	if err != nil {
		t.Fatal(err)
	}
	in := ls.next(t)
	sent := make(chan error, 1)
	go func() { sent <- snd.Send(ctx(t), goamqp.NewMessage(body), nil) }()
	d, err := in.Receive(ctx(t))
	if err != nil || !bytes.Equal(d.Message.Data[0], body) {
		t.Fatalf("receive: %v (%d bytes)", err, len(d.Message.Data[0]))
	}
	if err := d.Accept(); err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if err := snd.Send(ctx(t), goamqp.NewMessage(make([]byte, 500<<10)), nil); err == nil {
		t.Fatal("a message above max-message-size was sent")
	}

	rcv, err := s.NewReceiver(ctx(t), "out", nil)
	if err != nil {
		t.Fatal(err)
	}
	out := ls.next(t)
	done := make(chan error, 1)
	go func() {
		_, err := out.Send(ctx(t), &amqp.Message{Data: [][]byte{body}})
		done <- err
	}()
	m, err := rcv.Receive(ctx(t), nil)
	if err != nil || !bytes.Equal(m.GetData(), body) {
		t.Fatalf("receive: %v", err)
	}
	if err := rcv.AcceptMessage(ctx(t), m); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSessionsAndLinks: several sessions on one connection, several links
// on each, each link's message on its own link.
func TestSessionsAndLinks(t *testing.T) {
	ls := links(make(chan *amqp.Link, 16))
	addr := serve(t, &amqp.Server{Attach: ls.attach})
	c := dial(t, addr, nil)
	byAddr := map[string]*amqp.Link{}
	var senders []*goamqp.Sender
	for i := range 3 {
		s := session(t, c)
		for j := range 2 {
			a := string(rune('a'+i)) + string(rune('0'+j))
			snd, err := s.NewSender(ctx(t), a, nil)
			if err != nil {
				t.Fatal(err)
			}
			senders = append(senders, snd)
			l := ls.next(t)
			byAddr[l.Address()] = l
		}
	}
	for _, snd := range senders {
		go func() { _ = snd.Send(ctx(t), goamqp.NewMessage([]byte(snd.Address())), nil) }()
	}
	for a, l := range byAddr {
		d, err := l.Receive(ctx(t))
		if err != nil || string(d.Message.Data[0]) != a {
			t.Fatalf("link %s: %v %v", a, d, err)
		}
		if err := d.Accept(); err != nil {
			t.Fatal(err)
		}
	}
}
