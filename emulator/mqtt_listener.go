package emulator

import (
	"net"
	"sync"
	"time"
)

// connectTimeout is how long a new MQTT connection may take to finish its
// TLS handshake and send CONNECT. MQTT 3.1.1 §3.1 says a server SHOULD close
// a connection that sends no CONNECT "within a reasonable amount of time";
// the hub's figure is not documented, so 30 s is our choice (inferred).
// mochi-mqtt replaces this deadline with the keep-alive one once CONNECT
// has arrived.
const connectTimeout = 30 * time.Second

// trackedListener hands out connections with the CONNECT deadline set and
// closes every connection it accepted when it is closed. mochi-mqtt's Close
// only closes connections that have become clients (sent CONNECT) and then
// waits for all of them, so without this a TCP connection that never spoke
// would hold Server.Close until its peer went away.
type trackedListener struct {
	net.Listener

	mu     sync.Mutex
	closed bool
	conns  map[*trackedConn]struct{}
}

func newTrackedListener(l net.Listener) *trackedListener {
	return &trackedListener{Listener: l, conns: map[*trackedConn]struct{}{}}
}

func (l *trackedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(connectTimeout))
	tc := &trackedConn{Conn: c, l: l}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	l.conns[tc] = struct{}{}
	return tc, nil
}

// Close stops accepting and closes every connection still open.
func (l *trackedListener) Close() error {
	err := l.Listener.Close()
	l.mu.Lock()
	l.closed = true
	left := make([]*trackedConn, 0, len(l.conns))
	for c := range l.conns {
		left = append(left, c)
	}
	l.mu.Unlock()
	for _, c := range left {
		c.Close()
	}
	return err
}

type trackedConn struct {
	net.Conn
	l    *trackedListener
	once sync.Once
	err  error
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.err = c.Conn.Close()
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.err
}
