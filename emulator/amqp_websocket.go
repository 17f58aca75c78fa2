package emulator

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hubspec/hubspec/internal/amqp"
	"github.com/hubspec/hubspec/internal/wsconn"
)

// amqpWebSocketPath is where Event Hubs clients dial AMQP over WebSockets
// (wss://{host}/$servicebus/websocket: azeventhubs, Python's
// azure-eventhub; uamqp adds a trailing slash), on the HTTPS port as IoT
// Hub's built-in endpoint serves it on 443 (docs/fidelity.md, "AMQP over
// WebSockets"). IoT Hub's own AMQP clients use websocketPath instead.
const amqpWebSocketPath = "/$servicebus/websocket"

// isAMQPWebSocketPath is the path with or without uamqp's trailing slash.
func isAMQPWebSocketPath(p string) bool {
	return p == amqpWebSocketPath || p == amqpWebSocketPath+"/"
}

// amqpSubprotocol is the client's spelling of an AMQP WebSocket
// subprotocol: AMQPWSB10, which the Python, C and Java clients send, or
// amqp, which azeventhubs' WebSocket example sends; case is ignored, as
// for mqtt.
func amqpSubprotocol(r *http.Request) (string, bool) {
	for _, p := range websocket.Subprotocols(r) {
		if strings.EqualFold(p, "AMQPWSB10") || strings.EqualFold(p, "amqp") {
			return p, true
		}
	}
	return "", false
}

// wantsAMQP reports whether a request on websocketPath asks for AMQP and
// not for MQTT.
func wantsAMQP(r *http.Request) bool {
	_, amqp := amqpSubprotocol(r)
	_, mqtt := mqttSubprotocol(r)
	return amqp && !mqtt
}

// amqpWSHandler serves AMQP over WebSockets: each upgraded connection is
// served by the same AMQP server as the TLS listener, so the built-in
// endpoint, its claims and its limits (frame sizes, handshake and idle
// timeouts) are the same on both transports. The connections open at once
// are capped at Options.MaxAMQPConnections, as on the TLS listener; one
// beyond the cap is answered 503 before the upgrade.
//
// The HTTPS server's Shutdown does not wait for hijacked connections, so
// close waits for the handlers itself, after the AMQP server's Close has
// ended their connections.
type amqpWSHandler struct {
	amqp     *amqp.Server
	log      *slog.Logger
	fallback http.Handler // answers plain HTTP requests on the path
	upgrader websocket.Upgrader
	slots    chan struct{} // one per open connection: the cap

	mu     sync.Mutex
	closed bool
	active sync.WaitGroup // handlers between enter and return
}

// amqpWSHandshakeTimeout bounds the upgrade's answer, as the AMQP
// server's own HandshakeTimeout bounds what follows.
const amqpWSHandshakeTimeout = 10 * time.Second

func newAMQPWSHandler(srv *amqp.Server, maxConns int, log *slog.Logger, fallback http.Handler) *amqpWSHandler {
	return &amqpWSHandler{
		amqp: srv, log: log, fallback: fallback, slots: make(chan struct{}, maxConns),
		upgrader: websocket.Upgrader{
			HandshakeTimeout: amqpWSHandshakeTimeout,
			// Clients authenticate with SAS tokens inside AMQP, not with
			// cookies, so any origin may connect.
			CheckOrigin: func(*http.Request) bool { return true },
		},
	}
}

func (h *amqpWSHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		h.fallback.ServeHTTP(w, r)
		return
	}
	proto, ok := amqpSubprotocol(r)
	if !ok {
		h.log.Info("amqp websocket refused: no AMQPWSB10 subprotocol", "remote", r.RemoteAddr, "subprotocols", websocket.Subprotocols(r))
		http.Error(w, "WebSocket subprotocol AMQPWSB10 required", http.StatusBadRequest)
		return
	}
	if !h.enter() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	defer h.active.Done()
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		h.log.Warn("amqp websocket refused: connection cap reached", "remote", r.RemoteAddr, "cap", cap(h.slots))
		http.Error(w, "too many AMQP connections", http.StatusServiceUnavailable)
		return
	}
	ws, err := h.upgrader.Upgrade(w, r, http.Header{"Sec-Websocket-Protocol": {proto}})
	if err != nil {
		h.log.Info("amqp websocket upgrade failed", "remote", r.RemoteAddr, "error", err)
		return // the upgrader has answered the request
	}
	if err := h.amqp.ServeConn(wsconn.New(ws)); err != nil {
		h.log.Debug("amqp over websocket ended", "remote", r.RemoteAddr, "error", err)
	}
}

// enter registers a handler unless the handler is closed.
func (h *amqpWSHandler) enter() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.active.Add(1)
	return true
}

// close refuses new upgrades and waits for the handlers to return; the
// AMQP server's Close must have ended their connections (a handler that
// reaches ServeConn after it returns at once).
func (h *amqpWSHandler) close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.active.Wait()
}
