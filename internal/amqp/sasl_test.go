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
