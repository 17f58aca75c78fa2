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

// TestMalformedConnectsGetA311Answer: MQTT 3.1.1 has CONNACK codes 0 to 5
// only. A CONNECT that 3.1.1 allows but that authenticates nothing (a
// password flag with an empty password) is refused with 5, an unknown
// protocol level with 1, and a CONNECT that breaks 3.1.1 (a wrong protocol
// name, the reserved flag, a user name without its flag) is answered by
// closing the connection, never with an MQTT 5 reason code such as 130.
func TestMalformedConnectsGetA311Answer(t *testing.T) {
	s, reg := startHub(t)
	c := moduleCreds(t, s, createModule(t, reg, "dev1", "mod1"), "", time.Now().Add(time.Hour))
	valid := func() packets.Packet {
		return packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
			Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: c.clientID,
				UsernameFlag: true, Username: []byte(c.username), PasswordFlag: true, Password: []byte(c.password)}}
	}
	for _, tc := range []struct {
		name   string
		change func(*packets.Packet)
		want   []byte // nil: closed without an answer
	}{
		{"valid", func(*packets.Packet) {}, []byte{0x20, 0x02, 0x00, 0x00}},
		{"empty password with its flag", func(pk *packets.Packet) { pk.Connect.Password = nil }, []byte{0x20, 0x02, 0x00, 0x05}},
		{"protocol level 6", func(pk *packets.Packet) { pk.ProtocolVersion = 6 }, []byte{0x20, 0x02, 0x00, 0x01}},
		{"protocol name MQTX", func(pk *packets.Packet) { pk.Connect.ProtocolName = []byte("MQTX") }, nil},
		{"reserved flag set", func(pk *packets.Packet) { pk.ReservedBit = 1 }, nil},
		{"no user name", func(pk *packets.Packet) { pk.Connect.UsernameFlag = false }, []byte{0x20, 0x02, 0x00, 0x05}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pk := valid()
			tc.change(&pk)
			var out bytes.Buffer
			if err := pk.ConnectEncode(&out); err != nil {
				t.Fatal(err)
			}
			if tc.name == "reserved flag set" {
				// The encoder ignores ReservedBit: set bit 0 of the connect
				// flags by hand (fixed header 2 bytes, name 2+4, level 1).
				out.Bytes()[2+6+1] |= 0x01
			}
			conn, err := tls.Dial("tcp", s.MQTTAddr(), s.TLSConfig())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write(out.Bytes()); err != nil {
				t.Fatal(err)
			}
			if err := conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 4)
			n, err := io.ReadFull(conn, got)
			got = got[:n]
			if tc.want == nil {
				if n != 0 || err == nil || strings.Contains(err.Error(), "timeout") {
					t.Fatalf("want the connection closed without an answer, got % x (%v)", got, err)
				}
				return
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("answer % x (%v), want % x", got, err, tc.want)
			}
		})
	}
}

// TestHugePacketsAreRefusedUnread: a socket that declares a 64 MB CONNECT
// is closed at once, before it has authenticated or sent the bytes; after
// authentication, a PUBLISH over IoT Hub's 256 KiB limit closes the
// connection without a PUBACK.
func TestHugePacketsAreRefusedUnread(t *testing.T) {
	s, reg := startHub(t)
	conn, err := tls.Dial("tcp", s.MQTTAddr(), s.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// CONNECT, remaining length 64 MiB as a variable byte integer.
	if _, err := conn.Write([]byte{0x10, 0x80, 0x80, 0x80, 0x20}); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	if n, err := conn.Read(make([]byte, 8)); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Fatalf("a declared 64 MiB CONNECT: read %d bytes, %v; want the connection closed", n, err)
	}

	m := createModule(t, reg, "dev1", "mod1")
	rc := mustDial(t, s, moduleCreds(t, s, m, "", time.Now().Add(time.Hour)))
	topic := "devices/dev1/modules/mod1/messages/events/"
	rc.publish(t, topic, 1, strings.Repeat("x", 200<<10)) // under the limit: acknowledged
	tok := rc.c.Publish(topic, 1, false, strings.Repeat("x", 300<<10))
	rc.closedByHub(t)
	if tok.WaitTimeout(100*time.Millisecond) && tok.Error() == nil {
		t.Fatal("a 300 KiB message was acknowledged")
	}
}
