package emulator

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// failingListener fails Accept with EMFILE while failures > 0, then hands
// out one end of a pipe per Accept.
type failingListener struct {
	mu       sync.Mutex
	failures int
	accepted chan net.Conn // the peer ends of what Accept returned
	closed   chan struct{}
}

func (l *failingListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.failures > 0 {
		l.failures--
		l.mu.Unlock()
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	l.mu.Unlock()
	select {
	case <-l.closed:
		return nil, net.ErrClosed
	default:
	}
	a, b := net.Pipe()
	l.accepted <- b
	return a, nil
}

func (l *failingListener) Close() error   { close(l.closed); return nil }
func (l *failingListener) Addr() net.Addr { return &net.TCPAddr{} }

func newTestGuarded(inner net.Listener, maxConns int) (*guardedListener, *[]time.Duration) {
	g := newGuardedListener(inner, "mqtt", maxConns, 0, true, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var waits []time.Duration
	g.sleep = func(d time.Duration, _ <-chan struct{}) { waits = append(waits, d) }
	return g, &waits
}

// TestGuardedListenerSurvivesAcceptErrors: out of descriptors, Accept backs
// off and tries again instead of returning the error (which would end
// mochi-mqtt's accept loop for good), and reports the failure meanwhile.
func TestGuardedListenerSurvivesAcceptErrors(t *testing.T) {
	inner := &failingListener{failures: 12, accepted: make(chan net.Conn, 4), closed: make(chan struct{})}
	g, waits := newTestGuarded(inner, 4)
	var states []string
	g.sleep = func(d time.Duration, _ <-chan struct{}) {
		*waits = append(*waits, d)
		states = append(states, g.state())
	}
	c, err := g.Accept()
	if err != nil {
		t.Fatalf("Accept returned %v: the listener would be dead for good", err)
	}
	defer c.Close()
	if len(*waits) != 12 || (*waits)[0] != acceptBackoffMin || (*waits)[11] != acceptBackoffMax {
		t.Fatalf("back-offs %v: want 12, from %v doubling to at most %v", *waits, acceptBackoffMin, acceptBackoffMax)
	}
	if !strings.Contains(states[0], "accept failing") || !strings.Contains(states[0], "too many open files") {
		t.Fatalf("state while failing: %q", states[0])
	}
	if st := g.state(); st != "ok" {
		t.Fatalf("state after a successful Accept: %q", st)
	}
	g.Close()
	if st := g.state(); st != "closed" {
		t.Fatalf("state after Close: %q", st)
	}
}

// TestGuardedListenerCapsOpenConnections: beyond the cap Accept waits until
// a connection closes; Close ends the wait.
func TestGuardedListenerCapsOpenConnections(t *testing.T) {
	inner := &failingListener{accepted: make(chan net.Conn, 4), closed: make(chan struct{})}
	g, _ := newTestGuarded(inner, 2)
	first, err := g.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Accept(); err != nil {
		t.Fatal(err)
	}
	third := make(chan error, 1)
	go func() {
		c, err := g.Accept()
		if err == nil {
			c.Close()
		}
		third <- err
	}()
	select {
	case err := <-third:
		t.Fatalf("a third connection was accepted past the cap of 2 (%v)", err)
	case <-time.After(100 * time.Millisecond): // a negative check needs a bound
	}
	first.Close()
	if err := <-third; err != nil {
		t.Fatalf("after a close, the waiting Accept got %v", err)
	}

	go func() { _, err := g.Accept(); _, err2 := g.Accept(); third <- errors.Join(err, err2) }()
	g.Close()
	if err := <-third; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept waiting for a slot after Close: %v", err)
	}
}

// TestHealthReportsAListenerThatCannotAccept: the health check answers 503
// and names the listener while its Accept fails, and 200 once it accepts.
func TestHealthReportsAListenerThatCannotAccept(t *testing.T) {
	s, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	get := func() (int, string) {
		t.Helper()
		rec := httptest.NewRecorder()
		s.serveHealth(rec, httptest.NewRequest(http.MethodGet, HealthPath, nil))
		return rec.Code, rec.Body.String()
	}
	s.mqttLn.noteFailure(&net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE})
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, `"mqtt":"accept failing since`) || !strings.Contains(body, `"https":"ok"`) {
		t.Fatalf("health while MQTT cannot accept: %d %s", code, body)
	}
	c, err := tls.Dial("tcp", s.MQTTAddr(), s.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Handshake(); err != nil { // the TLS handshake proves the Accept
		t.Fatal(err)
	}
	if code, body := get(); code != http.StatusOK {
		t.Fatalf("health once MQTT accepts again: %d %s", code, body)
	}
}
