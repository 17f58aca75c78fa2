package emulator

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// pipeConn is a connection registered with the connection registry whose
// socket is one end of a net.Pipe: a write blocks until the test reads.
type pipeConn struct {
	cl   *mqtt.Client
	peer net.Conn
	r    *bufio.Reader
}

// connect registers a connection of clientID, subscribed to everything
// under $iothub/twin/, as mochi does on CONNECT.
func connect(t *testing.T, broker *mqtt.Server, conns *connections, clientID string) *pipeConn {
	t.Helper()
	server, peer := net.Pipe()
	cl := broker.NewClient(server, "test", clientID, false)
	cl.Properties.ProtocolVersion = 4
	cl.State.Subscriptions.Add("$iothub/twin/#", packets.Subscription{Filter: "$iothub/twin/#"})
	conns.OnSessionEstablish(cl, packets.Packet{})
	conns.OnSessionEstablished(cl, packets.Packet{})
	t.Cleanup(func() {
		cl.Stop(nil) // unblocks a write stuck on the pipe
		peer.Close()
		conns.OnDisconnect(cl, nil, false)
	})
	return &pipeConn{cl: cl, peer: peer, r: bufio.NewReader(peer)}
}

// next reads the next PUBLISH the connection was sent, failing the test if
// none comes within a few seconds.
func (p *pipeConn) next(t *testing.T) (topic, payload string) {
	t.Helper()
	if err := p.peer.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	hb, err := p.r.ReadByte()
	if err != nil {
		t.Fatalf("%s: no PUBLISH: %v", p.cl.ID, err)
	}
	var fh packets.FixedHeader
	if err := fh.Decode(hb); err != nil || fh.Type != packets.Publish {
		t.Fatalf("%s: not a PUBLISH (%v): %+v", p.cl.ID, err, fh)
	}
	n, _, err := packets.DecodeLength(p.r)
	if err != nil {
		t.Fatal(err)
	}
	fh.Remaining = n
	body := make([]byte, n)
	if _, err := io.ReadFull(p.r, body); err != nil {
		t.Fatal(err)
	}
	pk := packets.Packet{FixedHeader: fh, ProtocolVersion: 4}
	if err := pk.PublishDecode(body); err != nil {
		t.Fatal(err)
	}
	return pk.TopicName, string(pk.Payload)
}

func newTestConnections() (*mqtt.Server, *connections, chan string) {
	log := slog.New(slog.DiscardHandler)
	presence := make(chan string, 16)
	broker := newBroker(log)
	conns := newConnections(broker, log, func(id identity, connected bool) {
		presence <- id.String() + " " + strconv.FormatBool(connected)
	}, func() error { return nil }, func(identity) (uint64, bool) { return 0, true })
	return broker, conns, presence
}

func TestDeliverNotConnected(t *testing.T) {
	broker, conns, _ := newTestConnections()
	if err := conns.deliver(identity{"ghost", ""}, "$iothub/twin/res/200/?$rid=1", nil); !errors.Is(err, errNotConnected) {
		t.Fatalf("deliver to an identity never connected: %v, want errNotConnected", err)
	}
	c := connect(t, broker, conns, "dev/mod")
	if err := conns.deliver(identity{"dev", ""}, "$iothub/twin/res/200/?$rid=1", nil); !errors.Is(err, errNotConnected) {
		t.Fatalf("deliver to a device whose module is connected: %v, want errNotConnected", err)
	}
	conns.OnDisconnect(c.cl, nil, false)
	if err := conns.deliver(identity{"dev", "mod"}, "$iothub/twin/res/200/?$rid=1", nil); !errors.Is(err, errNotConnected) {
		t.Fatalf("deliver after the connection closed: %v, want errNotConnected", err)
	}
	if err := conns.reply(c.cl, "$iothub/twin/res/200/?$rid=1", nil); !errors.Is(err, errNotConnected) {
		t.Fatalf("reply on a closed connection: %v, want errNotConnected", err)
	}
}

// TestDeliverInOrder: what one connection is sent, pushes and answers
// alike, leaves in the order it was handed over; the registry records the
// identity's presence.
func TestDeliverInOrder(t *testing.T) {
	broker, conns, presence := newTestConnections()
	c := connect(t, broker, conns, "dev")
	if got := <-presence; got != "dev true" {
		t.Fatalf("presence %q, want dev true", got)
	}
	const n = 50
	for i := range n {
		if err := conns.deliver(identity{"dev", ""}, "$iothub/twin/PATCH/properties/desired/?$version="+strconv.Itoa(i), []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	replied := make(chan error, 1)
	go func() { replied <- conns.reply(c.cl, "$iothub/twin/res/200/?$rid=r", []byte("answer")) }()
	for i := range n {
		if topic, payload := c.next(t); payload != strconv.Itoa(i) || topic != "$iothub/twin/PATCH/properties/desired/?$version="+strconv.Itoa(i) {
			t.Fatalf("message %d: %s %s", i, topic, payload)
		}
	}
	if topic, payload := c.next(t); topic != "$iothub/twin/res/200/?$rid=r" || payload != "answer" {
		t.Fatalf("answer: %s %s", topic, payload)
	}
	if err := <-replied; err != nil {
		t.Fatalf("reply: %v", err)
	}
	if err := conns.reply(c.cl, "devices/dev/messages/devicebound/x", nil); !errors.Is(err, errUndelivered) {
		t.Fatalf("reply on an unsubscribed topic: %v, want errUndelivered", err)
	}
}

// TestDeliverStuckConnectionDelaysOnlyItself: a client that stops reading
// holds up its own outbox, not another identity's; past maxPendingPushes
// it is cut off as a slow consumer.
func TestDeliverStuckConnectionDelaysOnlyItself(t *testing.T) {
	broker, conns, _ := newTestConnections()
	stuck := connect(t, broker, conns, "stuck")
	other := connect(t, broker, conns, "other")
	for i := range 10 { // the first write blocks on the unread pipe
		if err := conns.deliver(identity{"stuck", ""}, "$iothub/twin/PATCH/properties/desired/?$version="+strconv.Itoa(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := conns.deliver(identity{"other", ""}, "$iothub/twin/PATCH/properties/desired/?$version=1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, payload := other.next(t); payload != "x" {
		t.Fatalf("other got %q", payload)
	}
	var err error
	for i := 0; err == nil && i <= maxPendingPushes; i++ {
		err = conns.deliver(identity{"stuck", ""}, "$iothub/twin/PATCH/properties/desired/?$version=2", nil)
	}
	if !errors.Is(err, errSlowConsumer) || !stuck.cl.Closed() {
		t.Fatalf("after %d waiting pushes: %v, closed %v; want errSlowConsumer and closed", maxPendingPushes, err, stuck.cl.Closed())
	}
}

// TestDropOnlyTheLiveConnection: drop and dropIfCurrent close an identity's
// live connection and never one that a newer connection replaced.
func TestDropOnlyTheLiveConnection(t *testing.T) {
	broker, conns, _ := newTestConnections()
	if conns.drop(identity{"dev", ""}, errDroppedByTest) {
		t.Fatal("dropped a connection that does not exist")
	}
	old := connect(t, broker, conns, "dev")
	replacement := connect(t, broker, conns, "dev")
	if conns.dropIfCurrent(old.cl, errFaultKillTCP) || old.cl.Closed() {
		t.Fatal("closed a connection that a newer one replaced")
	}
	if !conns.drop(identity{"dev", ""}, errDroppedByTest) || !replacement.cl.Closed() {
		t.Fatal("the live connection was not dropped")
	}
	if n := conns.connectionCount(identity{"dev", ""}); n != 2 {
		t.Fatalf("connectionCount %d, want 2", n)
	}
}
