package emulator_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"
	"github.com/hubspec/hubspec/emulator"
)

// amqpWSURL is AMQP over WebSockets on the emulator's HTTPS port, at the
// path the Event Hubs clients dial (wss://{host}/$servicebus/websocket).
func amqpWSURL(s *emulator.Server) string {
	return "wss://" + s.HTTPSAddr() + "/$servicebus/websocket"
}

// wsConsumer is an azeventhubs consumer that reaches the built-in endpoint
// over WebSockets, as azeventhubs' own example does it: coder/websocket
// dialled by NewWebSocketConn, its NetConn handed to go-amqp. The SDK asks
// for wss://{endpoint host:port}/$servicebus/websocket; the emulator's
// connection string names the AMQP port, so the dial goes to the HTTPS
// port instead, where a real hub's 443 is. wrap, when set, wraps the conn.
func wsConsumer(t *testing.T, s *emulator.Server, subprotocol string, wrap func(net.Conn) net.Conn) *azeventhubs.ConsumerClient {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: s.TLSConfig()}}
	dial := func(ctx context.Context, p azeventhubs.WebSocketConnParams) (net.Conn, error) {
		if p.Host != "wss://"+net.JoinHostPort("localhost", port(s.AMQPAddr()))+"/$servicebus/websocket" {
			t.Errorf("azeventhubs asked for %s", p.Host)
		}
		ws, _, err := coder.Dial(ctx, amqpWSURL(s), &coder.DialOptions{HTTPClient: hc, Subprotocols: []string{subprotocol}})
		if err != nil {
			return nil, err
		}
		// The conn outlives the dial's context: it is closed with the client.
		nc := coder.NetConn(context.WithoutCancel(ctx), ws, coder.MessageBinary)
		if wrap != nil {
			nc = wrap(nc)
		}
		return nc, nil
	}
	c, err := azeventhubs.NewConsumerClientFromConnectionString(s.EventHubConnectionString(), "", azeventhubs.DefaultConsumerGroup,
		&azeventhubs.ConsumerClientOptions{NewWebSocketConn: dial})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// chunkedConn sends every write as messages of at most n bytes, so AMQP
// frames (and the protocol header) span WebSocket messages.
type chunkedConn struct {
	net.Conn
	n int
}

func (c chunkedConn) Write(p []byte) (int, error) {
	done := 0
	for len(p) > 0 {
		k := min(c.n, len(p))
		w, err := c.Conn.Write(p[:k])
		done += w
		if err != nil {
			return done, err
		}
		p = p[k:]
	}
	return done, nil
}

// TestAMQPWebSocketReadsTelemetry: azeventhubs over WebSockets reads a
// module's telemetry from the built-in endpoint with the subprotocol the
// Python and C clients send (AMQPWSB10) and the one azeventhubs' example
// sends (amqp), and with frames split across many small messages.
func TestAMQPWebSocketReadsTelemetry(t *testing.T) {
	// Telemetry only: the partition's first event is the one sent here.
	s, _, cs, opts := moduleOnEmulatorWith(t, emulator.Options{DisableTwinAndLifecycleEvents: true})
	dev := dialModule(t, cs, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := dev.SendEvent(ctx, []byte(`{"t":21.5}`), map[string]string{"unit": "°C"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, subprotocol string
		wrap              func(net.Conn) net.Conn
	}{
		{"AMQPWSB10", "AMQPWSB10", nil},
		{"amqp", "amqp", nil},
		{"frames spanning messages", "AMQPWSB10", func(c net.Conn) net.Conn { return chunkedConn{c, 7} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := wsConsumer(t, s, tc.subprotocol, tc.wrap)
			pp := partitionWithEvents(ctx, t, c)
			pc, err := c.NewPartitionClient(pp.PartitionID, &azeventhubs.PartitionClientOptions{StartPosition: azeventhubs.StartPosition{Earliest: to(true)}})
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close(ctx)
			ev := receiveOne(ctx, t, pc)
			if string(ev.Body) != `{"t":21.5}` || ev.Properties["unit"] != "°C" || ev.SystemProperties["iothub-connection-module-id"] != "mod1" {
				t.Errorf("event body %q properties %v system properties %v", ev.Body, ev.Properties, ev.SystemProperties)
			}
		})
	}
}

// TestAMQPWebSocketHandshake: AMQP over WebSockets answers on
// /$servicebus/websocket (with or without uamqp's trailing slash) to the
// subprotocols AMQPWSB10 and amqp in any case, echoing the client's
// spelling, and on /$iothub/websocket to AMQPWSB10 beside MQTT; any other
// subprotocol, or none, is refused with 400 as edgeHub refuses one no
// listener serves; a plain GET on the path is an unknown route.
func TestAMQPWebSocketHandshake(t *testing.T) {
	s, _ := startHub(t)
	d := websocket.Dialer{TLSClientConfig: s.TLSConfig(), HandshakeTimeout: wait}
	base := "wss://" + s.HTTPSAddr()
	for _, tc := range []struct{ path, proto string }{
		{"/$servicebus/websocket", "AMQPWSB10"},
		{"/$servicebus/websocket", "amqpwsb10"},
		{"/$servicebus/websocket", "amqp"},
		{"/$servicebus/websocket/", "AMQPWSB10"},
		{"/$iothub/websocket?iothub-no-client-cert=true", "AMQPWSB10"},
	} {
		d.Subprotocols = []string{"wamp", tc.proto}
		ws, _, err := d.Dial(base+tc.path, nil)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.path, tc.proto, err)
		}
		if ws.Subprotocol() != tc.proto {
			t.Errorf("%s: asked %s, server chose %q", tc.path, tc.proto, ws.Subprotocol())
		}
		assertAMQPHeaderAnswered(t, ws)
	}
	for _, protos := range [][]string{nil, {"mqtt"}, {"wamp"}} {
		d.Subprotocols = protos
		ws, resp, err := d.Dial(amqpWSURL(s), nil)
		if err == nil {
			ws.Close()
			t.Fatalf("subprotocols %v: upgraded", protos)
		}
		if resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("subprotocols %v: want 400, got %v %v", protos, resp, err)
		}
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: s.TLSConfig()}}
	resp, err := hc.Get(s.URL() + "/$servicebus/websocket")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("iothub-errorcode") == "" {
		t.Fatalf("plain GET: %s, iothub-errorcode %q", resp.Status, resp.Header.Get("iothub-errorcode"))
	}
}

// assertAMQPHeaderAnswered sends the SASL protocol header and expects the
// server's in return: the socket speaks AMQP.
func assertAMQPHeaderAnswered(t testing.TB, ws *websocket.Conn) {
	t.Helper()
	defer ws.Close()
	sasl := []byte{'A', 'M', 'Q', 'P', 3, 1, 0, 0}
	if err := ws.WriteMessage(websocket.BinaryMessage, sasl); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(wait))
	typ, got, err := ws.ReadMessage()
	if err != nil || typ != websocket.BinaryMessage || len(got) < 8 || string(got[:8]) != string(sasl) {
		t.Fatalf("answer to the SASL header: type %d %q %v", typ, got, err)
	}
}

// TestAMQPWebSocketConnectionCap: AMQP over WebSockets is capped at
// Options.MaxAMQPConnections as AMQP over TLS is; one beyond the cap is
// refused with 503 before the upgrade, and a slot is free again once its
// connection has ended.
func TestAMQPWebSocketConnectionCap(t *testing.T) {
	s, _ := startHubWith(t, emulator.Options{MaxAMQPConnections: 1})
	d := websocket.Dialer{TLSClientConfig: s.TLSConfig(), HandshakeTimeout: wait, Subprotocols: []string{"AMQPWSB10"}}
	first, _, err := d.Dial(amqpWSURL(s), nil)
	if err != nil {
		t.Fatal(err)
	}
	ws, resp, err := d.Dial(amqpWSURL(s), nil)
	if err == nil {
		ws.Close()
		t.Fatal("a second AMQP WebSocket was upgraded beyond the cap of 1")
	}
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("beyond the cap: want 503, got %v %v", resp, err)
	}
	// A wrong protocol header ends the first connection on the server's
	// side; its slot is free once the server has closed the socket.
	if err := first.WriteMessage(websocket.BinaryMessage, []byte("GET / HTTP/1.1\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = first.SetReadDeadline(time.Now().Add(wait))
	for {
		if _, _, err := first.ReadMessage(); err != nil {
			break
		}
	}
	first.Close()
	deadline := time.Now().Add(wait)
	for {
		ws, _, err := d.Dial(amqpWSURL(s), nil)
		if err == nil {
			assertAMQPHeaderAnswered(t, ws)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no AMQP WebSocket upgraded after the first ended: %v", err)
		}
	}
}

// TestAMQPWebSocketHostileInput: a text message, a wrong protocol header
// and a frame declaring 4 GiB each end their connection, and the endpoint
// serves the next client.
func TestAMQPWebSocketHostileInput(t *testing.T) {
	s, _ := startHub(t)
	d := websocket.Dialer{TLSClientConfig: s.TLSConfig(), HandshakeTimeout: wait, Subprotocols: []string{"AMQPWSB10"}}
	hugeFrame := append([]byte{'A', 'M', 'Q', 'P', 0, 1, 0, 0}, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0)
	for name, send := range map[string]func(*websocket.Conn) error{
		"text message": func(ws *websocket.Conn) error {
			return ws.WriteMessage(websocket.TextMessage, []byte("AMQP\x00\x01\x00\x00"))
		},
		"wrong header": func(ws *websocket.Conn) error {
			return ws.WriteMessage(websocket.BinaryMessage, []byte("GET / HTTP/1.1\r\n"))
		},
		"4 GiB frame":   func(ws *websocket.Conn) error { return ws.WriteMessage(websocket.BinaryMessage, hugeFrame) },
		"close at once": func(ws *websocket.Conn) error { return nil },
	} {
		ws, _, err := d.Dial(amqpWSURL(s), nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := send(ws); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if name == "close at once" {
			ws.Close()
			continue
		}
		_ = ws.SetReadDeadline(time.Now().Add(wait))
		for {
			if _, _, err = ws.ReadMessage(); err != nil {
				break
			}
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("%s: the connection is still open after %s", name, wait)
		}
		ws.Close()
	}
	ws, _, err := d.Dial(amqpWSURL(s), nil)
	if err != nil {
		t.Fatal(err)
	}
	assertAMQPHeaderAnswered(t, ws)
}

// FuzzAMQPWebSocket sends arbitrary bytes, cut into messages at the
// points the input chooses, to one emulator: whatever arrives, the
// emulator neither crashes nor stops serving AMQP over WebSockets.
func FuzzAMQPWebSocket(f *testing.F) {
	f.Add([]byte{3}, []byte("AMQP\x03\x01\x00\x00\x00\x00\x00\x15\x02\x01\x00\x00\x00\x53\x41\xd0\x00\x00\x00\x08\x00\x00\x00\x01\xa3\x09ANONYMOUS"))
	f.Add([]byte{1, 0, 5}, []byte("AMQP\x00\x01\x00\x00\x00\x00\x00\x08\x02\x00\x00\x00"))
	f.Add([]byte{}, []byte{0xff, 0xff, 0xff, 0xff})
	s, _ := startHub(f)
	d := websocket.Dialer{TLSClientConfig: s.TLSConfig(), HandshakeTimeout: wait, Subprotocols: []string{"AMQPWSB10"}}
	f.Fuzz(func(t *testing.T, cuts, data []byte) {
		ws, _, err := d.Dial(amqpWSURL(s), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		for _, cut := range cuts {
			k := min(int(cut), len(data))
			if ws.WriteMessage(websocket.BinaryMessage, data[:k]) != nil {
				return // the server has closed the connection: fine
			}
			data = data[k:]
		}
		_ = ws.WriteMessage(websocket.BinaryMessage, data)
	})
	ws, _, err := d.Dial(amqpWSURL(s), nil)
	if err != nil {
		f.Fatal(err)
	}
	assertAMQPHeaderAnswered(f, ws)
}

// TestCloseWithAMQPWebSocketClients: Close returns promptly while an
// azeventhubs client is connected over WebSockets and an upgraded
// WebSocket has sent nothing, which sees its end.
func TestCloseWithAMQPWebSocketClients(t *testing.T) {
	s, err := emulator.Start(context.Background(), emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := wsConsumer(t, s, "AMQPWSB10", nil)
	if _, err := c.GetEventHubProperties(ctx, nil); err != nil {
		t.Fatal(err)
	}
	d := websocket.Dialer{TLSClientConfig: s.TLSConfig(), Subprotocols: []string{"AMQPWSB10"}, HandshakeTimeout: wait}
	silent, _, err := d.Dial(amqpWSURL(s), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5s with AMQP WebSocket clients connected")
	}
	_ = silent.SetReadDeadline(time.Now().Add(wait))
	for {
		if _, _, err = silent.ReadMessage(); err != nil {
			break
		}
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the silent WebSocket is still open after Close")
	}
}
