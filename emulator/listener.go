package emulator

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// connectTimeout is how long a new MQTT connection may take to finish its
// TLS handshake and send CONNECT. MQTT 3.1.1 §3.1 says a server SHOULD close
// a connection that sends no CONNECT "within a reasonable amount of time";
// the hub's figure is not documented, so 30 s is our choice (inferred).
// mochi-mqtt replaces this deadline with the keep-alive one once CONNECT
// has arrived.
const connectTimeout = 30 * time.Second

// Accept backs off after an error as net/http's Server does: from 5 ms,
// doubling, to at most a second.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// guardedListener is what both the MQTT and the HTTPS listener accept
// through. It keeps a listener alive through Accept errors (out of file
// descriptors, above all), retrying with a back-off instead of returning the
// error, which would end mochi-mqtt's accept loop for good; it reports its
// state for the health check; it caps the connections open at once, so a
// client holding sockets cannot run the process out of descriptors; and,
// for MQTT, it closes every connection it accepted when it is closed
// (mochi-mqtt's Close only closes connections that have become clients,
// then waits for them, so a TCP connection that never spoke would hold
// Server.Close). net/http closes its own connections, after the requests in
// flight: the HTTPS listener leaves them alone.
type guardedListener struct {
	net.Listener
	name     string
	deadline time.Duration // set on each new connection; 0: none
	// ownConns marks the MQTT listener: Close closes the connections still
	// open, and handedOut counts the connections mochi-mqtt has not finished
	// with (see mqttNetListener), so Server.Close can wait for them.
	ownConns  bool
	handedOut sync.WaitGroup
	slots     chan struct{} // one per open connection: the cap
	log       *slog.Logger
	sleep     func(time.Duration, <-chan struct{}) // waits out a back-off; tests make it instant

	mu        sync.Mutex
	closed    bool
	done      chan struct{} // closed by Close: ends a back-off or a wait for a slot
	conns     map[*guardedConn]struct{}
	failing   error     // the last Accept error, until an Accept succeeds
	failingAt time.Time // when the failing run began
}

func newGuardedListener(l net.Listener, name string, maxConns int, deadline time.Duration, ownConns bool, log *slog.Logger) *guardedListener {
	return &guardedListener{
		Listener: l, name: name, deadline: deadline, ownConns: ownConns, slots: make(chan struct{}, maxConns), log: log,
		sleep: sleepOrDone, done: make(chan struct{}), conns: map[*guardedConn]struct{}{},
	}
}

func sleepOrDone(d time.Duration, done <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-done:
	}
}

// Accept waits for a free slot, then for a connection. It returns an error
// only once the listener is closed.
func (l *guardedListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	backoff := acceptBackoffMin
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			return l.admit(c)
		}
		if l.isClosed() {
			<-l.slots
			return nil, net.ErrClosed
		}
		l.noteFailure(err)
		l.sleep(backoff, l.done)
		backoff = min(2*backoff, acceptBackoffMax)
	}
}

func (l *guardedListener) admit(c net.Conn) (net.Conn, error) {
	if l.deadline > 0 {
		_ = c.SetDeadline(time.Now().Add(l.deadline))
	}
	gc := &guardedConn{Conn: c, l: l}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failing != nil {
		l.log.Info("listener accepts again", "listener", l.name, "failed_for", time.Since(l.failingAt).Round(time.Millisecond))
		l.failing = nil
	}
	if l.closed {
		c.Close()
		<-l.slots
		return nil, net.ErrClosed
	}
	l.conns[gc] = struct{}{}
	if l.ownConns {
		l.handedOut.Add(1) // under l.mu, so never after Close has returned
	}
	return gc, nil
}

func (l *guardedListener) noteFailure(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failing == nil {
		l.failingAt = time.Now()
		l.log.Error("listener cannot accept; retrying", "listener", l.name, "error", err)
	}
	l.failing = err
}

func (l *guardedListener) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// state is "ok", or why the listener is not accepting connections.
func (l *guardedListener) state() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return "closed"
	case l.failing != nil:
		return fmt.Sprintf("accept failing since %s: %v", l.failingAt.UTC().Format(time.RFC3339), l.failing)
	}
	return "ok"
}

// Close stops accepting and closes every connection still open.
func (l *guardedListener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	var left []*guardedConn
	if l.ownConns {
		for c := range l.conns {
			left = append(left, c)
		}
	}
	l.mu.Unlock()
	err := l.Listener.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	for _, c := range left {
		c.Close()
	}
	return err
}

// guardedConn gives its slot back when it is closed.
type guardedConn struct {
	net.Conn
	l    *guardedListener
	once sync.Once
	err  error
}

func (c *guardedConn) Close() error {
	c.once.Do(func() {
		c.err = c.Conn.Close()
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
		<-c.l.slots
	})
	return c.err
}

// mqttNetListener is mochi-mqtt's TCP listener over a guardedListener, with
// mochi's handling of each connection counted: a connection is handed out
// by Accept (which counts it, synchronously) and done once mochi's
// EstablishConnection has returned, client removed and all. mochi counts its
// own in the goroutine it starts for the connection, too late for a Close
// that must know nothing is in flight (Server.disconnectMQTT).
type mqttNetListener struct {
	*listeners.Net
	guard *guardedListener
}

func (l mqttNetListener) Serve(establish listeners.EstablishFn) {
	l.Net.Serve(func(id string, c net.Conn) error {
		defer l.guard.handedOut.Done()
		return establish(id, c)
	})
}
