package emulator

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hubspec/hubspec/internal/amqp"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// c2dHook delivers cloud-to-device messages over MQTT: a device's queued
// messages go to its live connection once it holds a subscription to
// devices/{id}/messages/devicebound/#, whenever a message is queued, the
// device subscribes or a session is established; a PUBACK completes a
// message. Modules never subscribe to it (the ACL refuses them), as on IoT
// Hub, where modules have no cloud-to-device messages.
type c2dHook struct {
	mqtt.HookBase
	queues   *c2dQueues
	conns    *connections
	registry *registry
}

func (h *c2dHook) ID() string { return "iothub-c2d" }

func (h *c2dHook) Provides(b byte) bool {
	switch b {
	case mqtt.OnSessionEstablished, mqtt.OnSubscribed, mqtt.OnQosComplete:
		return true
	}
	return false
}

// OnSessionEstablished makes the messages that were in flight on an older
// connection pending again, unless the persistent session sends them again
// itself (they are in the new connection's in-flight set), then delivers.
func (h *c2dHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	id := identityOf(cl.ID)
	if id.moduleID != "" {
		return
	}
	h.queues.requeue(id.deviceID, func(pid uint16) bool {
		_, ok := cl.State.Inflight.Get(pid)
		return ok
	})
	h.pump(id.deviceID)
}

// OnSubscribed delivers what waits once a device subscribes to its
// cloud-to-device topic.
func (h *c2dHook) OnSubscribed(cl *mqtt.Client, pk packets.Packet, _ []byte) {
	id := identityOf(cl.ID)
	if id.moduleID != "" {
		return
	}
	for _, f := range pk.Filters {
		if topicMatches(f.Filter, c2dTopicPrefix(id.deviceID)) {
			h.pump(id.deviceID)
			return
		}
	}
}

// OnQosComplete completes the message a device's PUBACK acknowledges.
func (h *c2dHook) OnQosComplete(cl *mqtt.Client, pk packets.Packet) {
	if id := identityOf(cl.ID); id.moduleID == "" {
		h.queues.complete(id.deviceID, pk.PacketID)
	}
}

// pump queues, on the device's live connection's outbox, the sending of
// every message waiting for it.
func (h *c2dHook) pump(deviceID string) {
	id := identity{deviceID: deviceID}
	cl, out := h.conns.current(id)
	if cl == nil || out == nil {
		return
	}
	_ = h.conns.queue(id, cl, out, func() { h.sendPending(cl, deviceID) })
}

// sendPending writes the device's pending messages to cl, at the QoS of its
// subscription (at most 1). A message sent at QoS 0 is complete once
// written: no PUBACK will come.
func (h *c2dHook) sendPending(cl *mqtt.Client, deviceID string) {
	qos, ok := subscribedQoS(cl, c2dTopicPrefix(deviceID))
	if !ok || cl.Closed() {
		return
	}
	stale := func(gen string) bool {
		cur, err := h.registry.deviceGeneration(deviceID)
		return err != nil || cur != gen
	}
	nextID := func() (uint16, bool) {
		id, err := cl.NextPacketID()
		return uint16(id), err == nil
	}
	for {
		m := h.queues.next(deviceID, nextID, stale)
		if m == nil {
			return
		}
		pk := packets.Packet{
			FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos},
			TopicName:   m.topic, Payload: m.body, Created: time.Now().Unix(),
		}
		if qos == 0 {
			err := cl.WritePacket(pk)
			h.queues.complete(deviceID, m.packetID)
			if err != nil {
				return
			}
			continue
		}
		pk.PacketID = m.packetID
		if cl.State.Inflight.Set(pk) {
			cl.State.Inflight.DecreaseSendQuota()
		}
		if cl.WritePacket(pk) != nil {
			return // in flight: the next session sends it again
		}
	}
}

// c2dTopicPrefix is the topic of a device's cloud-to-device messages,
// before the property bag.
func c2dTopicPrefix(deviceID string) string {
	return "devices/" + deviceID + "/messages/devicebound/"
}

// c2dTopic is the topic a message is published on: the prefix and the
// property bag, key=value pairs joined by '&', keys and values
// percent-encoded except for RFC 3986's unreserved characters, as a real
// hub writes them (%24.to=%2Fdevices%2F{id}%2Fmessages%2FdeviceBound;
// docs/fidelity.md, "Cloud-to-device topic"), and as the Python device SDK's
// extract_message_properties_from_topic reads them. System properties come
// first ($.mid, $.cid, $.uid, $.to, $.ct, $.ce, $.exp), then the
// application properties (iothub-ack among them) sorted by name; a nil
// application property is its key alone.
func c2dTopic(deviceID string, msg *amqp.Message, expiry time.Time) string {
	var bag []string
	add := func(k, v string) {
		if v != "" {
			bag = append(bag, escapeBag(k)+"="+escapeBag(v))
		}
	}
	if p := msg.Properties; p != nil {
		add("$.mid", idText(p.MessageID))
		add("$.cid", idText(p.CorrelationID))
		add("$.uid", string(p.UserID))
		add("$.to", "/devices/"+deviceID+"/messages/deviceBound")
		add("$.ct", string(p.ContentType))
		add("$.ce", string(p.ContentEncoding))
		if !p.AbsoluteExpiryTime.IsZero() {
			add("$.exp", expiry.UTC().Format("2006-01-02T15:04:05.000Z"))
		}
	} else {
		add("$.to", "/devices/"+deviceID+"/messages/deviceBound")
	}
	props := msg.ApplicationProperties
	for _, k := range slices.Sorted(maps.Keys(props)) {
		if v := props[k]; v == nil {
			bag = append(bag, escapeBag(k))
		} else {
			bag = append(bag, escapeBag(k)+"="+escapeBag(fmt.Sprint(v)))
		}
	}
	return c2dTopicPrefix(deviceID) + strings.Join(bag, "&")
}

// escapeBag percent-encodes everything but A-Z a-z 0-9 - . _ ~, as Python's
// urllib.parse.quote(s, safe="") does.
func escapeBag(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
