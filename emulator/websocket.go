package emulator

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// websocketPath is where IoT Hub serves MQTT (and AMQP) over WebSockets, on
// the HTTPS port (Microsoft's IoT Hub MQTT doc; the path the Python, Node
// and C device SDKs dial; the fidelity table's "MQTT over WebSockets" row):
// clients behind firewalls that only let 443 out use it.
const websocketPath = "/$iothub/websocket"

// closeFrameTimeout bounds the close frame sent before a WebSocket is torn
// down, so a client that stopped reading cannot stall Server.Close.
const closeFrameTimeout = 250 * time.Millisecond

// wsListener serves MQTT over WebSockets. It is an http.Handler mounted on
// the HTTPS server at websocketPath and, at the same time, a mochi-mqtt
// listener: each upgraded connection is handed to the broker, so the same
// hooks (authentication, topic authorization, per-connection delivery; see
// addHooks) apply as on the TLS port.
//
// Registering it with the broker matters for shutdown: the HTTPS server's
// Shutdown does not track hijacked connections, so it is the broker's Close
// that ends them, through this listener's Close. That Close disconnects the
// broker's clients of this listener, closes every connection still inside
// the handler (one that has not sent CONNECT yet is no broker client), and
// waits until every handler has returned, so mochi's wait for its clients
// cannot hang and no client is added after it began.
type wsListener struct {
	id, addr string
	log      *slog.Logger
	fallback http.Handler // answers plain HTTP requests on the path
	upgrader websocket.Upgrader

	serving   chan struct{} // closed by Serve once establish is set
	done      chan struct{} // closed by Close
	establish listeners.EstablishFn

	mu     sync.Mutex
	closed bool
	conns  map[*wsConn]struct{}
	active sync.WaitGroup // handlers between registration and return
}

func newWSListener(id, addr string, log *slog.Logger, fallback http.Handler) *wsListener {
	return &wsListener{
		id: id, addr: addr, log: log, fallback: fallback,
		upgrader: websocket.Upgrader{
			// Browsers send Origin; the hub authenticates with SAS tokens in
			// CONNECT, not with cookies, so any origin may connect.
			CheckOrigin: func(*http.Request) bool { return true },
		},
		serving: make(chan struct{}),
		done:    make(chan struct{}),
		conns:   map[*wsConn]struct{}{},
	}
}

// ID, Address, Protocol, Init and Serve implement mochi's
// listeners.Listener. Connections arrive through ServeHTTP, so Serve only
// records the broker's establish function and blocks until Close, as mochi
// expects of a listener's Serve.
func (l *wsListener) ID() string              { return l.id }
func (l *wsListener) Address() string         { return l.addr + websocketPath }
func (l *wsListener) Protocol() string        { return "wss" }
func (l *wsListener) Init(*slog.Logger) error { return nil }
func (l *wsListener) Serve(establish listeners.EstablishFn) {
	l.establish = establish
	close(l.serving)
	<-l.done
}

// Close stops accepting, disconnects this listener's clients and waits for
// their handlers. mochi may call it more than once.
func (l *wsListener) Close(closeClients listeners.CloseFn) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	close(l.done)
	l.mu.Unlock()

	closeClients(l.id)
	l.mu.Lock()
	left := make([]*wsConn, 0, len(l.conns))
	for c := range l.conns {
		left = append(left, c)
	}
	l.mu.Unlock()
	for _, c := range left {
		c.Close()
	}
	l.active.Wait()
}

// mqttSubprotocol is the client's spelling of the WebSocket subprotocol
// "mqtt": edgeHub matches it case-insensitively and the C SDK sends "MQTT".
// The answer echoes the client's spelling, as RFC 6455 §4.2.2 asks.
func mqttSubprotocol(r *http.Request) (string, bool) {
	for _, p := range websocket.Subprotocols(r) {
		if strings.EqualFold(p, "mqtt") {
			return p, true
		}
	}
	return "", false
}

func (l *wsListener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		l.fallback.ServeHTTP(w, r)
		return
	}
	proto, ok := mqttSubprotocol(r)
	if !ok {
		// edgeHub answers 400 when no requested subprotocol has a listener.
		l.log.Info("websocket refused: no mqtt subprotocol", "remote", r.RemoteAddr, "subprotocols", websocket.Subprotocols(r))
		http.Error(w, "WebSocket subprotocol mqtt required", http.StatusBadRequest)
		return
	}
	select {
	case <-l.serving:
	case <-l.done:
	case <-r.Context().Done():
		return
	}
	if !l.enter() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	defer l.active.Done()

	ws, err := l.upgrader.Upgrade(w, r, http.Header{"Sec-Websocket-Protocol": {proto}})
	if err != nil {
		l.log.Info("websocket upgrade failed", "remote", r.RemoteAddr, "error", err)
		return // the upgrader has answered the request
	}
	c := newWSConn(ws)
	_ = c.SetDeadline(time.Now().Add(connectTimeout)) // until CONNECT
	if !l.track(c) {
		c.Close()
		return
	}
	defer l.untrack(c)
	if err := l.establish(l.id, c); err != nil {
		l.log.Debug("mqtt over websocket ended", "remote", r.RemoteAddr, "error", err)
	}
}

// enter registers a handler unless the listener is closed.
func (l *wsListener) enter() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.active.Add(1)
	return true
}

func (l *wsListener) track(c *wsConn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *wsListener) untrack(c *wsConn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
	c.Close()
}

// errTextFrame ends a connection that sends a text frame: MQTT over
// WebSockets travels in binary frames only (MQTT 3.1.1 §6).
var errTextFrame = errors.New("mqtt over websocket: text frame received")

// wsConn presents a WebSocket as the byte stream mochi-mqtt reads and
// writes. MQTT packets may span frames and a frame may hold several packets,
// so reads run across message boundaries. Addresses come from the TLS
// connection underneath.
type wsConn struct {
	net.Conn
	ws *websocket.Conn
	r  io.Reader // the message being read, nil between messages

	wmu       sync.Mutex   // gorilla allows one writer at a time
	wdeadline atomic.Int64 // write deadline in Unix nanoseconds, 0 for none
	closeOnce sync.Once
	closeErr  error
}

func newWSConn(ws *websocket.Conn) *wsConn {
	return &wsConn{Conn: ws.UnderlyingConn(), ws: ws}
}

func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			typ, r, err := c.ws.NextReader()
			if err != nil {
				return 0, err
			}
			if typ != websocket.BinaryMessage {
				return 0, errTextFrame
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil
			if n == 0 {
				continue // an empty message: read the next one
			}
			err = nil
		}
		return n, err
	}
}

// Write sends p as one binary message.
func (c *wsConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var dl time.Time
	if ns := c.wdeadline.Load(); ns != 0 {
		dl = time.Unix(0, ns)
	}
	// gorilla resets the socket's write deadline on every frame, so the
	// deadline mochi sets (1.5 × keep-alive) is applied here.
	_ = c.ws.SetWriteDeadline(dl)
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *wsConn) SetDeadline(t time.Time) error {
	_ = c.SetWriteDeadline(t)
	return c.SetReadDeadline(t)
}

func (c *wsConn) SetReadDeadline(t time.Time) error { return c.ws.SetReadDeadline(t) }

// SetWriteDeadline records the deadline for the next writes; it never waits
// for a write in progress, since mochi calls it from its reading goroutine.
func (c *wsConn) SetWriteDeadline(t time.Time) error {
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	c.wdeadline.Store(ns)
	return nil
}

// Close sends a close frame (best effort, bounded) and closes the socket.
func (c *wsConn) Close() error {
	c.closeOnce.Do(func() {
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeFrameTimeout))
		c.closeErr = c.ws.Close()
	})
	return c.closeErr
}
