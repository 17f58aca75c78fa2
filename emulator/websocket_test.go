package emulator_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"
	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub"
)

// dialRawWS is dialRaw over wss://{https addr}/$iothub/websocket: the same
// bare paho client, the same CONNECT, another transport.
func dialRawWS(s *emulator.Server, c creds) (*rawClient, error) {
	rc := &rawClient{msgs: make(chan paho.Message, 64), lost: make(chan error, 1)}
	opts := paho.NewClientOptions().
		AddBroker("wss://" + s.HTTPSAddr() + "/$iothub/websocket").
		SetClientID(c.clientID).SetUsername(c.username).SetPassword(c.password).
		SetTLSConfig(s.TLSConfig()).SetProtocolVersion(4).
		SetCleanSession(false).SetAutoReconnect(false).SetConnectRetry(false).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { rc.msgs <- m }).
		SetConnectionLostHandler(func(_ paho.Client, err error) { rc.lost <- err })
	rc.c = paho.NewClient(opts)
	tok := rc.c.Connect()
	if !tok.WaitTimeout(wait) {
		return nil, errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("connack %d: %w", tok.(*paho.ConnectToken).ReturnCode(), err)
	}
	return rc, nil
}

// TestWebSocketModuleTwin: over WebSockets a module gets what it gets over
// TLS: refused with a wrong key, twin GET, reported PATCH, desired push.
func TestWebSocketModuleTwin(t *testing.T) {
	s, reg := startHub(t)
	m := createModule(t, reg, "dev1", "mod1")
	other := createModule(t, reg, "dev1", "mod2")
	future := time.Now().Add(time.Hour)

	_, err := dialRawWS(s, moduleCreds(t, s, m, other.Authentication.SymmetricKey.PrimaryKey, future))
	if err == nil || !strings.HasPrefix(err.Error(), "connack 5:") {
		t.Fatalf("wrong key over websocket: want CONNACK 5, got %v", err)
	}

	rc, err := dialRawWS(s, moduleCreds(t, s, m, "", future))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.c.Disconnect(0) })
	rc.subscribe(t, "$iothub/twin/res/#", "$iothub/twin/PATCH/properties/desired/#")

	rc.publish(t, "$iothub/twin/GET/?$rid=1", 1, " ")
	got := rc.next(t)
	if got.Topic() != "$iothub/twin/res/200/?$rid=1" {
		t.Fatalf("GET answered on %q", got.Topic())
	}
	assertJSON(t, got.Payload(), `{"desired":{"$version":1},"reported":{"$version":1}}`)

	rc.publish(t, "$iothub/twin/PATCH/properties/reported/?$rid=2", 1, `{"telemetryInterval":122}`)
	if got := rc.next(t); got.Topic() != "$iothub/twin/res/204/?$rid=2&$version=2" || len(got.Payload()) != 0 {
		t.Fatalf("reported PATCH answered %q %q", got.Topic(), got.Payload())
	}

	twin, err := reg.UpdateModuleTwin(context.Background(), "dev1", "mod1",
		&hub.Twin{Properties: &hub.TwinProperties{Desired: map[string]any{"telemetryInterval": 122}}}, "*")
	if err != nil {
		t.Fatal(err)
	}
	got = rc.next(t)
	if want := fmt.Sprintf("$iothub/twin/PATCH/properties/desired/?$version=%d", twin.DesiredVersion()); got.Topic() != want {
		t.Fatalf("patch on %q, want %q", got.Topic(), want)
	}
	assertJSON(t, got.Payload(), fmt.Sprintf(`{"telemetryInterval":122,"$version":%d}`, twin.DesiredVersion()))
}

// TestWebSocketHubClient: package hub's own client with DialWebSockets.
func TestWebSocketHubClient(t *testing.T) {
	s, reg := startHub(t)
	m := createModule(t, reg, "dev1", "mod1")
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	cs := hub.ConnectionString{HostName: s.HostName(), DeviceID: "dev1", ModuleID: "mod1",
		SharedAccessKey: m.Authentication.SymmetricKey.PrimaryKey}
	c, err := device.DialModule(ctx, cs.String(), device.WithWebSockets(),
		device.WithTLSConfig(s.TLSConfig()), device.WithAddress(s.HTTPSAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v, err := c.UpdateReported(ctx, map[string]any{"telemetryInterval": 122}); err != nil || v != 2 {
		t.Fatalf("UpdateReported = %d, %v; want $version 2", v, err)
	}
	if _, err := reg.UpdateModuleTwin(ctx, "dev1", "mod1",
		&hub.Twin{Properties: &hub.TwinProperties{Desired: map[string]any{"telemetryInterval": 5}}}, "*"); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-c.DesiredPatches():
		if p.Properties["telemetryInterval"] != float64(5) {
			t.Fatalf("patch %+v", p)
		}
	case <-ctx.Done():
		t.Fatal("no desired patch over websocket")
	}
}

// TestWebSocketHandshake: the subprotocol is "mqtt" in any case and the
// answer echoes the client's spelling; without it (or AMQP's, see
// TestAMQPWebSocketHandshake) the upgrade is refused with 400, as edgeHub
// does; a plain GET on the path is an unknown route.
func TestWebSocketHandshake(t *testing.T) {
	s, _ := startHub(t)
	url := "wss://" + s.HTTPSAddr() + "/$iothub/websocket?iothub-no-client-cert=true"
	d := websocket.Dialer{TLSClientConfig: s.TLSConfig(), HandshakeTimeout: wait}
	for _, proto := range []string{"mqtt", "MQTT"} {
		d.Subprotocols = []string{proto}
		ws, _, err := d.Dial(url, nil)
		if err != nil {
			t.Fatalf("subprotocol %s: %v", proto, err)
		}
		if ws.Subprotocol() != proto {
			t.Fatalf("asked %s, server chose %q", proto, ws.Subprotocol())
		}
		ws.Close()
	}
	for _, protos := range [][]string{nil, {"wamp"}} {
		d.Subprotocols = protos
		ws, resp, err := d.Dial(url, nil)
		if err == nil {
			ws.Close()
			t.Fatalf("subprotocols %v: upgraded", protos)
		}
		if resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("subprotocols %v: want 400, got %v %v", protos, resp, err)
		}
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: s.TLSConfig()}}
	resp, err := hc.Get(s.URL() + "/$iothub/websocket")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("iothub-errorcode") == "" {
		t.Fatalf("plain GET: %s, iothub-errorcode %q", resp.Status, resp.Header.Get("iothub-errorcode"))
	}
}

// TestHealth: the emulator's own health endpoint needs no token.
func TestHealth(t *testing.T) {
	s, _ := startHub(t)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: s.TLSConfig()}}
	resp, err := hc.Get(s.URL() + "/$hubspec/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != `{"status":"ok","listeners":{"amqp":"ok","https":"ok","mqtt":"ok"}}`+"\n" {
		t.Fatalf("health: %s %s", resp.Status, body)
	}
	resp, err = hc.Post(s.URL()+"/$hubspec/health", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST health: %s", resp.Status)
	}
}

// TestCloseWithWebSocketClients: Close returns promptly while a WebSocket
// MQTT session, a WebSocket that never sent CONNECT and a TLS connection to
// the MQTT port that never sent one are open, and the session sees its end.
func TestCloseWithWebSocketClients(t *testing.T) {
	s, err := emulator.Start(context.Background(), emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := service.NewRegistryClient(s.ConnectionString(), service.WithTLSConfig(s.TLSConfig()))
	if err != nil {
		t.Fatal(err)
	}
	m := createModule(t, reg, "dev1", "mod1")
	rc, err := dialRawWS(s, moduleCreds(t, s, m, "", time.Now().Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.c.Disconnect(0)
	d := websocket.Dialer{TLSClientConfig: s.TLSConfig(), Subprotocols: []string{"mqtt"}, HandshakeTimeout: wait}
	silent, _, err := d.Dial("wss://"+s.HTTPSAddr()+"/$iothub/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// A TLS handshake that completes means the MQTT port has accepted the
	// connection and is waiting for its CONNECT.
	mute, err := tls.Dial("tcp", s.MQTTAddr(), s.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()

	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5s with WebSocket clients connected")
	}
	rc.closedByHub(t)
	_ = silent.SetReadDeadline(time.Now().Add(wait))
	if _, _, err := silent.ReadMessage(); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("silent websocket after Close: %v", err)
	}
}
