package events

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/coder/websocket"
)

// amqpWebSocketSubprotocol is the WebSocket subprotocol of AMQP over
// WebSockets that the Python, C and Java clients send; Event Hubs and IoT
// Hub accept it (azeventhubs' own example sends "amqp").
const amqpWebSocketSubprotocol = "AMQPWSB10"

// WithWebSockets reads over AMQP over WebSockets instead of AMQP over TLS,
// as a back-end behind a firewall that lets only 443 out does:
// wss://{addr}/$servicebus/websocket, addr being the hub's HTTPS host:port
// (an emulator's HTTPS port; its connection string names the AMQP port).
// With addr "" it dials what azeventhubs asks for: the endpoint's host, on
// 443 when the endpoint names no port, as a real hub's does. The trust is
// WithTLSConfig's.
func WithWebSockets(addr string) Option {
	return func(s *settings) { s.webSockets, s.webSocketAddr = true, addr }
}

// newWebSocketConn is the azeventhubs dialer WithWebSockets asks for, nil
// without it: coder/websocket (azeventhubs' own example's library), its
// binary messages presented as go-amqp's byte stream.
func (s *settings) newWebSocketConn() func(context.Context, azeventhubs.WebSocketConnParams) (net.Conn, error) {
	if !s.webSockets {
		return nil
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: s.tls}}
	return func(ctx context.Context, p azeventhubs.WebSocketConnParams) (net.Conn, error) {
		url := p.Host
		if s.webSocketAddr != "" {
			url = "wss://" + s.webSocketAddr + "/$servicebus/websocket"
		}
		ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc, Subprotocols: []string{amqpWebSocketSubprotocol}})
		if err != nil {
			return nil, fmt.Errorf("AMQP over WebSockets at %s: %w", url, err)
		}
		// The connection outlives the dial's context; go-amqp closes it.
		return websocket.NetConn(context.WithoutCancel(ctx), ws, websocket.MessageBinary), nil
	}
}
