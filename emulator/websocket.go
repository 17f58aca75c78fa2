package emulator

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hubspec/hubspec/internal/wsconn"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// websocketPath is where IoT Hub serves MQTT (and AMQP) over WebSockets, on
// the HTTPS port (Microsoft's IoT Hub MQTT doc; the path the Python, Node
// and C device SDKs dial; the fidelity table's "MQTT over WebSockets" row):
// clients behind firewalls that only let 443 out use it.
const websocketPath = "/$iothub/websocket"

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
	conns  map[*wsconn.Conn]struct{}
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
		conns:   map[*wsconn.Conn]struct{}{},
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
	left := make([]*wsconn.Conn, 0, len(l.conns))
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
	c := wsconn.New(ws)
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

func (l *wsListener) track(c *wsconn.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *wsListener) untrack(c *wsconn.Conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
	c.Close()
}
