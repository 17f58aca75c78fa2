package emulator_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub"
	"github.com/mochi-mqtt/server/v2/packets"
)

// TestAClientThatStopsReadingDelaysOnlyItself: a module that subscribes and
// then never reads its socket must not hold up another module's patches.
func TestAClientThatStopsReadingDelaysOnlyItself(t *testing.T) {
	s, reg := startHub(t)
	ctx := context.Background()
	future := time.Now().Add(time.Hour)
	stuck := moduleCreds(t, s, createModule(t, reg, "dev1", "stuck"), "", future)
	healthy := mustDial(t, s, moduleCreds(t, s, createModule(t, reg, "dev1", "healthy"), "", future))
	healthy.subscribe(t, "$iothub/twin/PATCH/properties/desired/#")

	// The stuck module speaks just enough MQTT to subscribe, then reads nothing.
	conn, err := tls.Dial("tcp", s.MQTTAddr(), s.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var out bytes.Buffer
	connect := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: stuck.clientID,
			UsernameFlag: true, Username: []byte(stuck.username), PasswordFlag: true, Password: []byte(stuck.password)}}
	subscribe := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, ProtocolVersion: 4, PacketID: 1,
		Filters: packets.Subscriptions{{Filter: "$iothub/twin/PATCH/properties/desired/#", Qos: 1}}}
	// A reported patch after the SUBSCRIBE: the hub handles one connection's
	// packets in order, so once the service sees it the filter is in place.
	ready := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, ProtocolVersion: 4,
		TopicName: "$iothub/twin/PATCH/properties/reported/?$rid=1", Payload: []byte(`{"ready":true}`)}
	for _, encode := range []func(*bytes.Buffer) error{connect.ConnectEncode, subscribe.SubscribeEncode, ready.PublishEncode} {
		if err := encode(&out); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Write(out.Bytes()); err != nil {
		t.Fatal(err)
	}
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for deadline := time.After(wait); ; {
		twin, err := reg.GetModuleTwin(ctx, "dev1", "stuck")
		if err == nil && twin.Properties.Reported["ready"] == true {
			break
		}
		select {
		case <-poll.C:
		case <-deadline:
			t.Fatal("the stuck module never subscribed and reported")
		}
	}

	// Enough pushes to fill the stuck module's socket buffers many times over.
	big := strings.Repeat("x", 4000)
	for i := range 200 {
		desired := map[string]any{}
		for k := range 7 {
			desired[fmt.Sprintf("p%d", k)] = fmt.Sprintf("%d-%s", i, big)
		}
		if _, err := reg.UpdateModuleTwin(ctx, "dev1", "stuck", &hub.Twin{Properties: &hub.TwinProperties{Desired: desired}}, "*"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := reg.UpdateModuleTwin(ctx, "dev1", "healthy", &hub.Twin{Properties: &hub.TwinProperties{Desired: map[string]any{"after": true}}}, "*"); err != nil {
		t.Fatal(err)
	}
	assertJSON(t, healthy.next(t).Payload(), `{"after":true,"$version":2}`)
}

// TestMQTT5ConnectGetsA311Refusal: IoT Hub speaks MQTT 3.1.1, so an MQTT 5
// CONNECT gets the 3.1.1 answer for an unsupported protocol level: the four
// bytes of a CONNACK with return code 1. (paho for Go cannot send MQTT 5,
// hence the hand-made packet.)
func TestMQTT5ConnectGetsA311Refusal(t *testing.T) {
	s, reg := startHub(t)
	c := moduleCreds(t, s, createModule(t, reg, "dev1", "mod1"), "", time.Now().Add(time.Hour))
	conn, err := tls.Dial("tcp", s.MQTTAddr(), s.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var out bytes.Buffer
	connect := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 5,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: c.clientID,
			UsernameFlag: true, Username: []byte(c.username), PasswordFlag: true, Password: []byte(c.password)}}
	if err := connect.ConnectEncode(&out); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(out.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(conn) // the hub answers, then closes
	if err != nil {
		t.Fatalf("read CONNACK: %v (got % x)", err, got)
	}
	if want := []byte{0x20, 0x02, 0x00, 0x01}; !bytes.Equal(got, want) {
		t.Fatalf("answer % x, want % x", got, want)
	}
}
