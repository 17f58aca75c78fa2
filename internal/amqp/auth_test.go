package amqp_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	goamqp "github.com/Azure/go-amqp"

	"github.com/hubspec/hubspec/internal/amqp"
)

// TestSASLPlain: the authenticator sees PLAIN's {policy}@sas.root.{hub}
// user name and the SAS token password, and the identity it returns
// stays with the connection. go-amqp names the host in open, not in
// sasl-init, and the connection's Hostname falls back to it.
func TestSASLPlain(t *testing.T) {
	ls := links(make(chan *amqp.Link, 1))
	reqs := make(chan amqp.SASLRequest, 1)
	srv := &amqp.Server{Attach: ls.attach, Authenticate: func(_ context.Context, r *amqp.SASLRequest) (any, error) {
		reqs <- *r
		if r.Password != "SharedAccessSignature sr=hub&sig=x" {
			return nil, errors.New("bad token")
		}
		return "iothubowner", nil
	}}
	addr := serve(t, srv)
	c := dial(t, addr, &goamqp.ConnOptions{HostName: "hub.azure-devices.net",
		SASLType: goamqp.SASLTypePlain("iothubowner@sas.root.hub", "SharedAccessSignature sr=hub&sig=x")})
	r := <-reqs
	if r.Mechanism != amqp.MechanismPlain || r.Username != "iothubowner@sas.root.hub" {
		t.Fatalf("request %+v", r)
	}
	if _, err := session(t, c).NewSender(ctx(t), "messages/events", nil); err != nil {
		t.Fatal(err)
	}
	if l := ls.next(t); l.Conn().Identity() != "iothubowner" || l.Conn().Hostname() != "hub.azure-devices.net" {
		t.Fatalf("identity %v, hostname %q", l.Conn().Identity(), l.Conn().Hostname())
	}

	_, err := goamqp.Dial(ctx(t), "amqp://"+addr, &goamqp.ConnOptions{
		SASLType: goamqp.SASLTypePlain("iothubowner@sas.root.hub", "SharedAccessSignature sr=hub&sig=forged")})
	if err == nil {
		t.Fatal("a forged token was accepted")
	}
	<-reqs
}

// TestSASLAnonymous: ANONYMOUS reaches the authenticator too, which may
// refuse it with a chosen sasl-code.
func TestSASLAnonymous(t *testing.T) {
	var refuse atomic.Bool
	srv := &amqp.Server{Authenticate: func(_ context.Context, r *amqp.SASLRequest) (any, error) {
		if r.Mechanism != amqp.MechanismAnonymous || refuse.Load() {
			return nil, &amqp.SASLError{Code: amqp.SASLSysTemp, Err: errors.New("busy")}
		}
		return "anonymous", nil
	}}
	addr := serve(t, srv)
	dial(t, addr, nil)
	refuse.Store(true)
	if _, err := goamqp.Dial(ctx(t), "amqp://"+addr, &goamqp.ConnOptions{SASLType: goamqp.SASLTypeAnonymous()}); err == nil {
		t.Fatal("a refused ANONYMOUS exchange opened a connection")
	}
}

// TestNode: a put-token exchange on a $cbs-like node, as the Azure SDKs
// make it: a sender to $cbs, a receiver from $cbs whose target address is
// the reply-to of each request, and the response correlated by the
// request's message-id.
func TestNode(t *testing.T) {
	cbs := &amqp.Node{Handle: func(_ context.Context, c *amqp.Conn, req *amqp.Message) (*amqp.Message, error) {
		if req.ApplicationProperties["operation"] != "put-token" {
			return nil, &amqp.Error{Condition: amqp.ErrNotImplemented, Description: "operation"}
		}
		return &amqp.Message{ApplicationProperties: map[string]any{
			"status-code": int32(200), "status-description": "OK"}}, nil
	}}
	srv := &amqp.Server{Attach: func(l *amqp.Link) error {
		if l.Address() == "$cbs" {
			return cbs.Attach(l)
		}
		return &amqp.Error{Condition: amqp.ErrNotFound}
	}}
	s := session(t, dial(t, serve(t, srv), nil))
	snd, err := s.NewSender(ctx(t), "$cbs", nil)
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := s.NewReceiver(ctx(t), "$cbs", &goamqp.ReceiverOptions{TargetAddress: "cbs-reply-1"})
	if err != nil {
		t.Fatal(err)
	}
	req := &goamqp.Message{
		Value:      "SharedAccessSignature sr=hub%2Fdevices%2Fd1&sig=x&se=1",
		Properties: &goamqp.MessageProperties{MessageID: "req-1", ReplyTo: ptr("cbs-reply-1")},
		ApplicationProperties: map[string]any{"operation": "put-token", "type": "servicebus.windows.net:sastoken",
			"name": "hub/devices/d1"},
	}
	if err := snd.Send(ctx(t), req, nil); err != nil {
		t.Fatalf("put-token: %v", err)
	}
	resp, err := rcv.Receive(ctx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := rcv.AcceptMessage(ctx(t), resp); err != nil {
		t.Fatal(err)
	}
	if resp.Properties.CorrelationID != "req-1" || resp.ApplicationProperties["status-code"] != int32(200) {
		t.Fatalf("response %+v %v", resp.Properties, resp.ApplicationProperties)
	}

	// An operation the node refuses rejects the request; a reply-to that
	// names no receiver too.
	req.ApplicationProperties["operation"] = "delete-token"
	if err := snd.Send(ctx(t), req, nil); err == nil {
		t.Fatal("a refused request was accepted")
	}
	req.ApplicationProperties["operation"] = "put-token"
	req.Properties.ReplyTo = ptr("nobody")
	if err := snd.Send(ctx(t), req, nil); remoteErr(err) == nil || remoteErr(err).Condition != goamqp.ErrCondPreconditionFailed {
		t.Fatalf("request with an unknown reply-to: %v", err)
	}
}

// TestNodeWithoutReplyTo: a request without reply-to is answered on the
// receiver whose target is the node's own address, as Python's pyamqp
// (azure-eventhub 5.11) attaches it, whatever other receivers there are;
// failing that, on the connection's only receiver of the node, as
// azure-uamqp-c's management client expects; with two others (no way to
// choose) it is refused. The answer is correlated by the request's
// message-id (an integer from pyamqp).
func TestNodeWithoutReplyTo(t *testing.T) {
	node := &amqp.Node{Handle: func(context.Context, *amqp.Conn, *amqp.Message) (*amqp.Message, error) {
		return &amqp.Message{ApplicationProperties: map[string]any{"status-code": int32(200)}}, nil
	}}
	srv := &amqp.Server{Attach: node.Attach}
	addr := serve(t, srv)
	req := &goamqp.Message{Value: "token", Properties: &goamqp.MessageProperties{MessageID: uint64(7)},
		ApplicationProperties: map[string]any{"operation": "put-token"}}
	answered := func(t *testing.T, snd *goamqp.Sender, rcv *goamqp.Receiver) {
		t.Helper()
		if err := snd.Send(ctx(t), req, nil); err != nil {
			t.Fatalf("a request without reply-to: %v", err)
		}
		resp, err := rcv.Receive(ctx(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Properties.CorrelationID != uint64(7) || resp.ApplicationProperties["status-code"] != int32(200) {
			t.Fatalf("response %+v %v", resp.Properties, resp.ApplicationProperties)
		}
	}
	t.Run("pyamqp: the receiver targeted at the node", func(t *testing.T) {
		s := session(t, dial(t, addr, nil))
		snd, err := s.NewSender(ctx(t), "$cbs", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.NewReceiver(ctx(t), "$cbs", &goamqp.ReceiverOptions{TargetAddress: "other"}); err != nil {
			t.Fatal(err)
		}
		rcv, err := s.NewReceiver(ctx(t), "$cbs", &goamqp.ReceiverOptions{TargetAddress: "$cbs"})
		if err != nil {
			t.Fatal(err)
		}
		answered(t, snd, rcv)
	})
	t.Run("uamqp-c: the only receiver", func(t *testing.T) {
		s := session(t, dial(t, addr, nil))
		snd, err := s.NewSender(ctx(t), "$cbs", nil)
		if err != nil {
			t.Fatal(err)
		}
		rcv, err := s.NewReceiver(ctx(t), "$cbs", &goamqp.ReceiverOptions{TargetAddress: "cbs-client-reply"})
		if err != nil {
			t.Fatal(err)
		}
		answered(t, snd, rcv)
		if _, err := s.NewReceiver(ctx(t), "$cbs", &goamqp.ReceiverOptions{TargetAddress: "another"}); err != nil {
			t.Fatal(err)
		}
		if err := snd.Send(ctx(t), req, nil); remoteErr(err) == nil || remoteErr(err).Condition != goamqp.ErrCondPreconditionFailed {
			t.Errorf("request without reply-to and two receivers: %v", err)
		}
	})
}
