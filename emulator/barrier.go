package emulator

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// The delivery barrier lets a test prove a negative ("the module receives
// nothing") in milliseconds instead of waiting out a window: the emulator
// knows what it owes each connection. A push the hub makes because of a
// change (a desired patch, a direct method call, anything sent through a
// connection's outbox) is handed on synchronously with the change: the
// registry queues its events on the server's event queue before the write
// is answered, and each event, when it runs, either queues a write on the
// identity's outbox (delivery.go) or drops the push (nobody connected, a
// DropDesiredPushes fault, no matching subscription at the write). So once
// the event queue and then the outbox have run everything queued before
// the barrier, every push caused by a change made before it has been
// written to the connection's socket (mochi-mqtt writes a PUBLISH to the
// socket before WritePacket returns) or dropped.
//
// What the socket carries the client still has to read. To let it know
// when it has, the barrier can end with a marker: a QoS 0 PUBLISH on
// DeliveryMarkerPrefix+token, written through the same outbox after
// everything else, whatever the connection's subscriptions (MQTT clients
// hand a PUBLISH they did not subscribe to to their default handler, paho
// among them, in order with the others). A client that has handled the
// marker has handled everything the barrier waited for. No real hub sends
// it: it goes only to a connection whose identity a test named.

// DeliveryMarkerPrefix is the topic of AwaitDeliveries' marker, before its
// token. IoT Hub's topics all start with $iothub/ or devices/, so no client
// can mistake it for the hub's traffic.
const DeliveryMarkerPrefix = "$hubspec/deliveries/"

// markerToken is what a marker's token may be: short, and nothing that
// could change the topic's meaning (no wildcard, no level separator).
var markerToken = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

var errClosed = errors.New("emulator: closed")

// AwaitDeliveries is the delivery barrier: it returns once every push caused
// by a change made before the call (the change's REST call or MQTT request
// answered) has been written to the device's (moduleID "") or module's live
// MQTT connection, or dropped. Given a marker token, it then writes a QoS 0
// PUBLISH of DeliveryMarkerPrefix+marker to that connection, whatever its
// subscriptions, and reports whether it did: false when the identity has no
// live connection (then nothing was owed to one either). A client that
// stops reading holds its barrier up until ctx ends; the error then wraps
// ctx's.
func (s *Server) AwaitDeliveries(ctx context.Context, deviceID, moduleID, marker string) (bool, error) {
	id := identity{deviceID: deviceID, moduleID: moduleID}
	if deviceID == "" {
		return false, errors.New("emulator: await deliveries: no device id")
	}
	if marker != "" && !markerToken.MatchString(marker) {
		return false, fmt.Errorf("emulator: await deliveries of %s: marker %q is not 1 to 64 of A-Z a-z 0-9 _ . -", id, marker)
	}
	if err := flushQueue(ctx, s.events); err != nil {
		return false, fmt.Errorf("emulator: await deliveries of %s: %w", id, err)
	}
	marked, err := s.hook.settle(ctx, id, marker)
	if err != nil {
		return false, fmt.Errorf("emulator: await deliveries of %s: %w", id, err)
	}
	return marked, nil
}

// flushQueue returns once q has run everything pushed before the call: at
// once, without a hand-off to q's worker, when q is idle.
func flushQueue(ctx context.Context, q *eventQueue) error {
	if q.idle() {
		return nil
	}
	done := make(chan struct{})
	if _, queued := q.push(func() { close(done) }); !queued {
		return errClosed
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// settle is the outbox half of the barrier: it returns once id's live
// connection has written (or failed to write) everything its outbox held at
// the call, and then the marker if one is given, reporting whether the
// marker was written. An identity with no live connection owes nothing.
func (c *connections) settle(ctx context.Context, id identity, marker string) (bool, error) {
	cl, out := c.current(id)
	if cl == nil || out == nil {
		return false, nil
	}
	done := make(chan bool, 1)
	if _, queued := out.push(func() { done <- marker != "" && writeMarker(cl, DeliveryMarkerPrefix+marker) }); !queued {
		return false, nil // closed meanwhile: whatever it held was dropped
	}
	select {
	case marked := <-done:
		return marked, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// writeMarker writes a QoS 0 PUBLISH of topic to cl, bypassing the
// subscription match publishTo makes: the marker must reach the client
// whatever it subscribed to.
func writeMarker(cl *mqtt.Client, topic string) bool {
	if cl.Closed() {
		return false
	}
	return cl.WritePacket(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish},
		TopicName:   topic,
		Created:     time.Now().Unix(),
	}) == nil
}
