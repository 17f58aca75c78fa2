package emulator

import (
	"fmt"
	"log/slog"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// newBroker configures mochi-mqtt the way IoT Hub behaves: MQTT 3.1.1 only,
// QoS at most 1, nothing retained, and no $SYS topics (the hub has none).
func newBroker(log *slog.Logger) *mqtt.Server {
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MinimumProtocolVersion = 4
	caps.MaximumQos = 1
	caps.RetainAvailable = 0
	caps.SharedSubAvailable = 0
	// mochi's own outbound queue is a channel of this capacity, allocated
	// with every connection; it carries only broker fan-out, which the
	// emulator never does (publishTo writes through our outboxes), so a
	// small one saves 8 KB a connection.
	caps.MaximumClientWritesPending = 16
	caps.MaximumPacketSize = maxMQTTPacket
	return mqtt.New(&mqtt.Options{
		Capabilities: caps,
		// Read through bufio's smallest buffer (16 bytes) rather than
		// mochi's 2 KB: every connection holds it, idle or not, and it saves
		// nothing. The layer beneath already holds what arrived: crypto/tls
		// decrypts a whole record into its own buffer and serves reads from
		// it, gorilla/websocket reads through a buffer of its own, so a small buffer costs
		// a few more in-memory copies a packet, no more system calls; a
		// packet body larger than the buffer is read straight into mochi's
		// packet (bufio bypasses its buffer for large reads).
		ClientNetReadBufferSize: 16,
		Logger:                  log,
		SysTopicResendInterval:  1 << 30, // effectively never
	})
}

// serveBroker starts the broker's listeners: what mochi-mqtt's Server.Serve
// (v2.7.9) does, less its housekeeping loop. That loop wakes every second to
// expire disconnected sessions and QoS 1 messages in flight for longer than
// a day, copying the whole client map and every client's in-flight set each
// time: about 0.25 KB of garbage a connection a second on an idle emulator,
// which kept its resident set creeping up between collections. The
// emulator needs none of what the loop does: sessions live until the
// emulator stops or their identity is deleted (docs/fidelity.md,
// "Persistent sessions"; forget ends them), so a message in flight waits
// for its session however long it is away; it retains nothing, has no $SYS
// topics, and its MQTT 3.1.1 clients have no delayed wills. The rest of
// Serve reads hooks and listeners from mochi's configuration, which the
// emulator does not use, and calls OnStarted and the Stored* hooks, which
// none of its hooks provide (TestBrokerHooksNeedNoServe).
func serveBroker(b *mqtt.Server) {
	b.Listeners.ServeAll(b.EstablishConnection)
}

// addHooks installs the IoT Hub rules of the MQTT side, one hook per
// concern. mochi runs hooks in the order they were added and stops some
// chains early (an OnConnect error, an OnPublish CodeSuccessIgnore), so
// the order is: authentication first, so no other hook sees a client it
// refuses; telemetry and faults next, whose OnPublish enqueue the message
// and open a fault's window before the PUBACK and before the topic
// authorization's OnPublish ends that chain (the topic was vetted when the
// packet was read); topic authorization; then the
// connection registry, so a connection is recorded before anything answers
// it; then the request handlers (twins, direct method answers, the rest
// of a fault);
// last the wills, which go to the built-in endpoint.
func addHooks(broker *mqtt.Server, auth *authHook, acl *aclHook, conns *connections, twin *twinHook, methods *methodHook, faults *faultHook, telemetry *telemetryHook, wills *willHook) error {
	for _, h := range []mqtt.Hook{auth, telemetry, faults, acl, conns, twin, methods, wills} {
		if err := broker.AddHook(h, nil); err != nil {
			return fmt.Errorf("mqtt hook %s: %w", h.ID(), err)
		}
	}
	return nil
}

// publishTo sends one PUBLISH to one connection, and only if that connection
// holds a subscription matching the topic; the QoS is the subscription's,
// capped at maxQoS (IoT Hub supports QoS 0 and 1 only: Microsoft's IoT Hub
// MQTT doc; it sends direct method requests at QoS 0). Only the outboxes of
// delivery.go call it: broker-style fan-out would leak one module's twin to
// every other module, since all of them subscribe to the same topic names.
// Unsubscribed topics are dropped, as IoT Edge's protocol gateway does (the
// fidelity table's "Subscription gating" row).
func publishTo(cl *mqtt.Client, topic string, payload []byte, maxQoS byte) bool {
	if cl.Closed() {
		return false
	}
	qos, matched := subscribedQoS(cl, topic)
	if !matched {
		return false
	}
	qos = min(qos, maxQoS)
	out := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos},
		TopicName:   topic,
		Payload:     payload,
		Created:     time.Now().Unix(),
	}
	if qos > 0 {
		id, err := cl.NextPacketID()
		if err != nil {
			cl.Stop(err)
			return false
		}
		out.PacketID = uint16(id)
		// Tracked as in flight so a PUBACK clears it and a persistent session
		// that reconnects before acknowledging gets it again.
		if cl.State.Inflight.Set(out) {
			cl.State.Inflight.DecreaseSendQuota()
		}
	}
	return cl.WritePacket(out) == nil
}

// subscribedQoS is the highest QoS (capped at 1) of cl's subscriptions
// matching topic, and whether any does.
func subscribedQoS(cl *mqtt.Client, topic string) (qos byte, matched bool) {
	for filter, sub := range cl.State.Subscriptions.GetAll() {
		if topicMatches(filter, topic) {
			matched = true
			qos = max(qos, min(sub.Qos, 1))
		}
	}
	return qos, matched
}
