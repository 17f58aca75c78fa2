package emulator_test

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub"
)

// TestCloseWhileClientsComeAndGo: Close returns while MQTT clients connect
// and disconnect around it. (mochi-mqtt's own Close could deadlock when a
// client ended at the wrong moment; the adversarial suite found it.)
func TestCloseWhileClientsComeAndGo(t *testing.T) {
	for round := range 8 {
		s, reg := startHubWith(t, emulator.Options{})
		m := createModule(t, reg, "dev1", "mod1")
		c := moduleCreds(t, s, m, "", time.Now().Add(time.Hour))
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if rc, err := dialRaw(s, c, 4); err == nil {
						rc.c.Disconnect(0)
					}
				}
			})
		}
		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		select {
		case <-closed:
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d: Close did not return while clients came and went", round)
		}
		close(stop)
		wg.Wait()
	}
}

// TestMQTTOnASuppliedListener: Options.MQTTListener is served as the
// emulator's own MQTT listener: a module connects through it, subscribes
// and gets its desired patch; Close closes the connections still open on
// it, one that never spoke included (the guard's work: mochi-mqtt closes
// only its clients), and the listener itself.
func TestMQTTOnASuppliedListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	counted := &countingListener{Listener: ln}
	s, reg := startHubWith(t, emulator.Options{MQTTListener: counted})
	if s.MQTTAddr() != ln.Addr().String() {
		t.Fatalf("MQTTAddr() = %s, want the supplied listener's %s", s.MQTTAddr(), ln.Addr())
	}
	m := createModule(t, reg, "dev1", "mod1")
	rc := mustDial(t, s, moduleCreds(t, s, m, "", time.Now().Add(time.Hour)))
	if got := counted.accepted.Load(); got != 1 {
		t.Fatalf("the supplied listener accepted %d connections, want 1", got)
	}
	rc.subscribe(t, "$iothub/twin/PATCH/properties/desired/#")
	if _, err := reg.UpdateModuleTwin(context.Background(), "dev1", "mod1",
		&hub.Twin{Properties: &hub.TwinProperties{Desired: map[string]any{"over": "supplied"}}}, ""); err != nil {
		t.Fatal(err)
	}
	assertJSON(t, rc.next(t).Payload(), `{"over":"supplied","$version":2}`)

	silent, err := net.Dial("tcp", s.MQTTAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rc.closedByHub(t)
	_ = silent.SetReadDeadline(time.Now().Add(wait))
	if _, err := silent.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a connection that never spoke is still open after Close: %v", err)
	}
	assertClosed(t, ln)
}

// TestFailedStartClosesTheSuppliedListener: Start owns the listener it is
// given from the call on, so a caller has nothing to clean up when it fails.
func TestFailedStartClosesTheSuppliedListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := emulator.Start(context.Background(), emulator.Options{MQTTListener: ln, PolicyKeys: map[string]string{"service": "not base64!"}}); err == nil {
		t.Fatal("started with a bad policy key")
	}
	assertClosed(t, ln)
}

// assertClosed fails t unless ln has been closed: Accept says so, rather
// than waiting for a connection until its deadline.
func assertClosed(t *testing.T, ln net.Listener) {
	t.Helper()
	_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(wait))
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept on the supplied listener: %v, want it closed", err)
	}
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}
