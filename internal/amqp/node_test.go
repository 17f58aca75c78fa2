package amqp_test

import (
	"context"
	"testing"

	goamqp "github.com/Azure/go-amqp"

	"github.com/hubspec/hubspec/internal/amqp"
)

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
		Value: "SharedAccessSignature sr=hub%2Fdevices%2Fd1&sig=x&se=1",
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
