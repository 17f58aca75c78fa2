package emulator

import (
	"strings"
	"time"

	"github.com/hubspec/hubspec/internal/amqp"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// telemetryHook enqueues device and module telemetry published over MQTT
// on the built-in endpoint before its PUBACK leaves, as the hub stores a
// message before it acknowledges it: a reader that starts once the device
// has its PUBACK finds the message. It runs in OnPublish, before the ACL
// hook's OnPublish ends the chain; the ACL hook's OnPacketRead, which mochi
// runs before any OnPublish, has already closed the connection of a topic
// that is not the identity's own.
type telemetryHook struct {
	mqtt.HookBase
	hub *eventHub
	now func() time.Time
}

func (h *telemetryHook) ID() string { return "iothub-telemetry" }

func (h *telemetryHook) Provides(b byte) bool { return b == mqtt.OnPublish }

func (h *telemetryHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	id := identityOf(cl.ID)
	if req, err := parseRequestTopic(pk.TopicName, id); err != nil || req.kind != reqTelemetry {
		return pk, nil
	}
	now := h.now()
	h.hub.enqueue(id.deviceID, telemetryMessage(id, eventProperties(pk.TopicName, id), pk.Payload, now), now)
	return pk, nil
}

// telemetryMessage is the event IoT Hub puts on the built-in endpoint for
// a device-to-cloud message: the body as sent; the property bag's
// application properties; its system properties $.mid, $.cid, $.ct and $.ce
// as message-id, correlation-id, content-type and content-encoding; and the
// iothub-* annotations naming the sender (docs/fidelity.md, "Built-in
// endpoint event shape"). The Event Hubs annotations are added when the
// event is enqueued.
func telemetryMessage(id identity, props map[string]string, body []byte, now time.Time) *amqp.Message {
	msg := &amqp.Message{
		Data: [][]byte{append([]byte(nil), body...)},
		Annotations: amqp.Annotations{
			amqp.Symbol("iothub-connection-device-id"): id.deviceID,
			amqp.Symbol("iothub-enqueuedtime"):         now.UTC().Truncate(time.Millisecond),
			amqp.Symbol("iothub-message-source"):       "Telemetry",
		},
		ApplicationProperties: map[string]any{},
	}
	if id.moduleID != "" {
		msg.Annotations[amqp.Symbol("iothub-connection-module-id")] = id.moduleID
	}
	var p amqp.Properties
	hasProps := false
	for k, v := range props {
		if !strings.HasPrefix(k, "$.") {
			msg.ApplicationProperties[k] = v
			continue
		}
		hasProps = true
		switch k {
		case "$.mid":
			p.MessageID = v
		case "$.cid":
			p.CorrelationID = v
		case "$.ct":
			p.ContentType = amqp.Symbol(v)
		case "$.ce":
			p.ContentEncoding = amqp.Symbol(v)
		}
	}
	if hasProps {
		msg.Properties = &p
	}
	return msg
}
