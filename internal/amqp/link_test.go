package amqp_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	goamqp "github.com/Azure/go-amqp"

	"github.com/hubspec/hubspec/internal/amqp"
)

// TestClientSends: the peer's sender, the server's receiver: messages with
// every section arrive, and the server's outcome reaches the peer.
func TestClientSends(t *testing.T) {
	ls := links(make(chan *amqp.Link, 4))
	addr := serve(t, &amqp.Server{Attach: ls.attach})
	s := session(t, dial(t, addr, nil))
	snd, err := s.NewSender(ctx(t), "devices/d1/messages/events", &goamqp.SenderOptions{
		Properties: map[string]any{"com.microsoft:client-version": "test"}})
	if err != nil {
		t.Fatal(err)
	}
	l := ls.next(t)
	if l.Role() != amqp.RoleReceiver || l.Address() != "devices/d1/messages/events" ||
		l.Properties()["com.microsoft:client-version"] != "test" {
		t.Fatalf("link: role %v address %q properties %v", l.Role(), l.Address(), l.Properties())
	}
	msg := goamqp.NewMessage([]byte("hello"))
	msg.ApplicationProperties = map[string]any{"temp": int64(21)}
	msg.Annotations = goamqp.Annotations{"x-opt-a": "b"}
	id := "m1"
	msg.Properties = &goamqp.MessageProperties{MessageID: id, ContentType: ptr("application/json")}
	sent := make(chan error, 1)
	go func() { sent <- snd.Send(ctx(t), msg, nil) }()
	d, err := l.Receive(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	m := d.Message
	if !bytes.Equal(m.Data[0], []byte("hello")) || m.ApplicationProperties["temp"] != int64(21) ||
		m.Annotations[amqp.Symbol("x-opt-a")] != "b" || m.Properties.MessageID != "m1" ||
		m.Properties.ContentType != "application/json" {
		t.Fatalf("message: %+v %+v", m, m.Properties)
	}
	if err := d.Accept(); err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatalf("send: %v", err)
	}

	// A rejected message fails the peer's Send with the server's error.
	go func() { sent <- snd.Send(ctx(t), goamqp.NewMessage([]byte("bad")), nil) }()
	if d, err = l.Receive(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := d.Reject(&amqp.Error{Condition: "amqp:invalid-field", Description: "no"}); err != nil {
		t.Fatal(err)
	}
	var de *goamqp.Error
	if err := <-sent; !errors.As(err, &de) || de.Condition != "amqp:invalid-field" {
		t.Fatalf("send of a rejected message: %v", err)
	}
}

// TestServerSends: the server's sender, the peer's receiver: the outcome
// of each delivery comes back to Send.
func TestServerSends(t *testing.T) {
	ls := links(make(chan *amqp.Link, 4))
	addr := serve(t, &amqp.Server{Attach: ls.attach})
	s := session(t, dial(t, addr, nil))
	rcv, err := s.NewReceiver(ctx(t), "devices/d1/messages/devicebound", &goamqp.ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	l := ls.next(t)
	if l.Role() != amqp.RoleSender || l.Address() != "devices/d1/messages/devicebound" {
		t.Fatalf("link: role %v address %q", l.Role(), l.Address())
	}
	type result struct {
		state amqp.DeliveryState
		err   error
	}
	out := make(chan result, 1)
	send := func(body string) {
		go func() {
			st, err := l.Send(ctx(t), &amqp.Message{Data: [][]byte{[]byte(body)},
				Properties: &amqp.Properties{MessageID: body}})
			out <- result{st, err}
		}()
	}
	send("one")
	m, err := rcv.Receive(ctx(t), nil)
	if err != nil || string(m.GetData()) != "one" || m.Properties.MessageID != "one" {
		t.Fatalf("receive: %v %v", m, err)
	}
	if err := rcv.AcceptMessage(ctx(t), m); err != nil {
		t.Fatal(err)
	}
	if r := <-out; r.err != nil {
		t.Fatal(r.err)
	} else if _, ok := r.state.(*amqp.Accepted); !ok {
		t.Fatalf("outcome %#v, want accepted", r.state)
	}
	send("two")
	if m, err = rcv.Receive(ctx(t), nil); err != nil {
		t.Fatal(err)
	}
	if err := rcv.ModifyMessage(ctx(t), m, &goamqp.ModifyMessageOptions{DeliveryFailed: true}); err != nil {
		t.Fatal(err)
	}
	if r := <-out; r.err != nil {
		t.Fatal(r.err)
	} else if md, ok := r.state.(*amqp.Modified); !ok || !md.DeliveryFailed {
		t.Fatalf("outcome %#v, want modified with delivery-failed", r.state)
	}
	send("three")
	if m, err = rcv.Receive(ctx(t), nil); err != nil {
		t.Fatal(err)
	}
	if err := rcv.ReleaseMessage(ctx(t), m); err != nil {
		t.Fatal(err)
	}
	if r := <-out; r.err != nil {
		t.Fatal(r.err)
	} else if _, ok := r.state.(*amqp.Released); !ok {
		t.Fatalf("outcome %#v, want released", r.state)
	}
}

// TestCredit: a peer receiver that granted N credits gets N messages and
// the server's next Send waits until the peer grants more.
func TestCredit(t *testing.T) {
	ls := links(make(chan *amqp.Link, 4))
	addr := serve(t, &amqp.Server{Attach: ls.attach})
	s := session(t, dial(t, addr, nil))
	settled := goamqp.SenderSettleModeSettled
	rcv, err := s.NewReceiver(ctx(t), "q", &goamqp.ReceiverOptions{Credit: -1, RequestedSenderSettleMode: &settled})
	if err != nil {
		t.Fatal(err)
	}
	l := ls.next(t)
	if err := rcv.IssueCredit(3); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := l.Send(ctx(t), &amqp.Message{Value: int64(i)}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	short, cancel := context.WithCancel(ctx(t))
	sent := make(chan error, 1)
	go func() {
		_, err := l.Send(short, &amqp.Message{Value: int64(3)})
		sent <- err
	}()
	for i := range 3 {
		m, err := rcv.Receive(ctx(t), nil)
		if err != nil || m.Value != int64(i) {
			t.Fatalf("receive %d: %v %v", i, m, err)
		}
	}
	// The server answers a drain after whatever it sent before: had the
	// fourth message gone without credit, it would be prefetched now.
	if err := rcv.DrainCredit(ctx(t), nil); err != nil {
		t.Fatal(err)
	}
	if m := rcv.Prefetched(); m != nil {
		t.Fatalf("a fourth message went without credit: %v", m.Value)
	}
	if err := rcv.IssueCredit(1); err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatalf("send after new credit: %v", err)
	}
	cancel()
	if m, err := rcv.Receive(ctx(t), nil); err != nil || m.Value != int64(3) {
		t.Fatalf("receive 3: %v %v", m, err)
	}
}

// TestFilters: an Event Hubs receiver's selector filter and epoch reach
// the application as sent.
func TestFilters(t *testing.T) {
	ls := links(make(chan *amqp.Link, 1))
	s := session(t, dial(t, serve(t, &amqp.Server{Attach: ls.attach}), nil))
	_, err := s.NewReceiver(ctx(t), "hub/ConsumerGroups/$Default/Partitions/0", &goamqp.ReceiverOptions{
		Filters:    []goamqp.LinkFilter{goamqp.NewSelectorFilter("amqp.annotation.x-opt-offset > '-1'")},
		Properties: map[string]any{"com.microsoft:epoch": int64(3)},
	})
	if err != nil {
		t.Fatal(err)
	}
	l := ls.next(t)
	f, ok := l.Source().Filter["apache.org:selector-filter:string"].(amqp.Described)
	if !ok || f.Descriptor != uint64(0x0000468C00000004) || f.Value != "amqp.annotation.x-opt-offset > '-1'" {
		t.Fatalf("filter %#v", l.Source().Filter)
	}
	if l.Properties()["com.microsoft:epoch"] != int64(3) {
		t.Fatalf("properties %v", l.Properties())
	}
}

func ptr[T any](v T) *T { return &v }

// TestServerSendsSettled: SendSettled returns once the message is written
// although the peer asked for mixed settlement and never settles, as an
// Event Hubs receiver never does; the peer receives the message.
func TestServerSendsSettled(t *testing.T) {
	ls := links(make(chan *amqp.Link, 4))
	addr := serve(t, &amqp.Server{Attach: ls.attach})
	s := session(t, dial(t, addr, nil))
	rcv, err := s.NewReceiver(ctx(t), "hub/ConsumerGroups/$Default/Partitions/0", &goamqp.ReceiverOptions{
		SettlementMode: goamqp.ReceiverSettleModeFirst.Ptr(), Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	l := ls.next(t)
	for _, body := range []string{"one", "two"} {
		if err := l.SendSettled(ctx(t), &amqp.Message{Data: [][]byte{[]byte(body)}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"one", "two"} {
		m, err := rcv.Receive(ctx(t), nil)
		if err != nil || string(m.GetData()) != want {
			t.Fatalf("received %v, %v; want %q", m, err, want)
		}
	}
}
