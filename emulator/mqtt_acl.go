package emulator

import (
	"log/slog"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// aclHook authorizes topics: an identity may subscribe to the documented
// filters of its own identity only and publish to its own request topics
// only; anything else closes the connection, as the hub does (the fidelity
// table's "Subscriptions" and "Publish topics" rows). mochi-mqtt's own ACL
// check is left to allow all, since it can only refuse quietly.
type aclHook struct {
	mqtt.HookBase
	log *slog.Logger
}

func (h *aclHook) ID() string { return "iothub-acl" }

func (h *aclHook) Provides(b byte) bool {
	switch b {
	case mqtt.OnACLCheck, mqtt.OnPacketRead, mqtt.OnSubscribe, mqtt.OnPublish:
		return true
	}
	return false
}

// OnACLCheck allows what OnSubscribe and OnPublish have let through; those
// two enforce the identity's topics and close the connection on a breach.
func (h *aclHook) OnACLCheck(*mqtt.Client, string, bool) bool { return true }

// OnPacketRead closes the connection on a QoS 2 PUBLISH, before mochi would
// quietly downgrade it (IoT Hub supports QoS 0 and 1 only: Microsoft's IoT
// Hub MQTT doc, and the protocol gateway's ExactlyOnceQosNotSupported), and
// on a PUBLISH to a topic outside the identity's own.
func (h *aclHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type != packets.Publish {
		return pk, nil
	}
	var reason error
	if pk.FixedHeader.Qos == 2 {
		reason = packets.ErrQosNotSupported
	} else if _, err := parseRequestTopic(pk.TopicName, identityOf(cl.ID)); err != nil {
		// Checked here too because mochi silently drops, without PUBACK or
		// disconnect, a topic it finds invalid ('+', '#', $SYS) before
		// OnPublish would see it.
		reason = err
	}
	if reason == nil {
		return pk, nil
	}
	h.log.Info("mqtt closing connection", "client", cl.ID, "topic", pk.TopicName, "reason", reason)
	// mochi ignores any error from this hook but ErrRejectPacket.
	cl.Stop(reason)
	return pk, packets.ErrRejectPacket
}

// OnSubscribe lets through only the documented filters of the client's own
// identity; on any other the hub disconnects (Microsoft's IoT Hub MQTT doc;
// the fidelity table's "Subscriptions" row).
func (h *aclHook) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	id := identityOf(cl.ID)
	allowed := pk.Filters[:0:0]
	for _, f := range pk.Filters {
		if subscriptionAllowed(f.Filter, id) {
			allowed = append(allowed, f)
			continue
		}
		h.log.Info("mqtt closing connection: subscription not allowed", "client", cl.ID, "filter", f.Filter)
		cl.Stop(packets.ErrNotAuthorized)
	}
	pk.Filters = allowed
	return pk
}

// OnPublish vets the topic: an allowed request is acknowledged but never
// routed to other clients (CodeSuccessIgnore, which also ends mochi's
// OnPublish chain); anything else closes the connection. The request itself
// is handled in OnPublished (twinHook, methodHook, faultHook), after the
// PUBACK, as the hub does.
func (h *aclHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if _, err := parseRequestTopic(pk.TopicName, identityOf(cl.ID)); err != nil {
		h.log.Info("mqtt closing connection", "client", cl.ID, "reason", err)
		cl.Stop(err)
		return pk, packets.ErrRejectPacket
	}
	return pk, packets.CodeSuccessIgnore
}
