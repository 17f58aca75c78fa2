package amqp_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"

	"github.com/hubspec/hubspec/internal/amqp"
)

// serve starts srv on a loopback listener and returns its address; the
// server is closed, and waited for, when the test ends.
func serve(t testing.TB, srv *amqp.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// dial opens a go-amqp connection, the reference peer, with opts (SASL
// ANONYMOUS when nil).
func dial(t testing.TB, addr string, opts *goamqp.ConnOptions) *goamqp.Conn {
	t.Helper()
	if opts == nil {
		opts = &goamqp.ConnOptions{SASLType: goamqp.SASLTypeAnonymous()}
	}
	c, err := goamqp.Dial(ctx(t), "amqp://"+addr, opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func session(t testing.TB, c *goamqp.Conn) *goamqp.Session {
	t.Helper()
	s, err := c.NewSession(ctx(t), nil)
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	return s
}

// ctx is a test's deadline: every wait in these tests is bounded by it,
// none by a sleep.
func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// links collects the links the server is asked to attach.
type links chan *amqp.Link

func (ls links) attach(l *amqp.Link) error {
	ls <- l
	return nil
}

func (ls links) next(t testing.TB) *amqp.Link {
	t.Helper()
	select {
	case l := <-ls:
		return l
	case <-ctx(t).Done():
		t.Fatal("no link attached")
		return nil
	}
}

// remoteErr is the AMQP error a go-amqp error carries from the server.
func remoteErr(err error) *goamqp.Error {
	var (
		le *goamqp.LinkError
		ce *goamqp.ConnError
		se *goamqp.SessionError
		e  *goamqp.Error
	)
	switch {
	case errors.As(err, &le):
		return le.RemoteErr
	case errors.As(err, &ce):
		return ce.RemoteErr
	case errors.As(err, &se):
		return se.RemoteErr
	case errors.As(err, &e):
		return e // a refused attach
	}
	return nil
}
