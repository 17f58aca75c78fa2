package events

import (
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
)

// Kind says what put an event on the built-in endpoint, from its
// iothub-message-source annotation.
type Kind string

const (
	// KindTelemetry is a device-to-cloud message (iothub-message-source
	// Telemetry), a will included.
	KindTelemetry Kind = "telemetry"
	// KindTwinChange is a twin updated or replaced (twinChangeEvents).
	KindTwinChange Kind = "twin-change"
	// KindLifecycle is an identity created or deleted
	// (deviceLifecycleEvents, or moduleLifecycleEvents as older hubs
	// name the modules' events).
	KindLifecycle Kind = "lifecycle"
	// KindOther is any other source, e.g. deviceConnectionStateEvents.
	KindOther Kind = "other"
)

// Event is one event of the built-in endpoint, decoded.
type Event struct {
	Kind Kind
	// DeviceID and ModuleID name the identity the event is from or about
	// (iothub-connection-device-id, iothub-connection-module-id).
	DeviceID, ModuleID string
	Body               []byte
	// Properties are the application properties: a telemetry message's
	// property bag; opType, hubName, deviceId, ... on the hub's own events.
	Properties map[string]any
	// SystemProperties are the message annotations (iothub-*, x-opt-*)
	// with the AMQP properties the hub sets, under the names IoT Hub's
	// docs give them: message-id, correlation-id, user-id (a string),
	// content-type, content-encoding.
	SystemProperties map[string]any
	PartitionID      string
	SequenceNumber   int64
	EnqueuedTime     time.Time
}

// decode turns a received event into an Event.
func decode(partitionID string, ev *azeventhubs.ReceivedEventData) Event {
	sys := make(map[string]any, len(ev.SystemProperties)+5)
	for k, v := range ev.SystemProperties {
		sys[k] = v
	}
	if raw := ev.RawAMQPMessage; raw != nil && raw.Properties != nil {
		p := raw.Properties
		setAny(sys, "message-id", p.MessageID)
		setAny(sys, "correlation-id", p.CorrelationID)
		if len(p.UserID) > 0 {
			sys["user-id"] = string(p.UserID)
		}
		setIf(sys, "content-type", p.ContentType)
		setIf(sys, "content-encoding", p.ContentEncoding)
	}
	e := Event{
		Body:             ev.Body,
		Properties:       ev.Properties,
		SystemProperties: sys,
		PartitionID:      partitionID,
		SequenceNumber:   ev.SequenceNumber,
	}
	if e.Properties == nil {
		e.Properties = map[string]any{}
	}
	e.DeviceID, _ = sys["iothub-connection-device-id"].(string)
	e.ModuleID, _ = sys["iothub-connection-module-id"].(string)
	if ev.EnqueuedTime != nil {
		e.EnqueuedTime = *ev.EnqueuedTime
	}
	source, _ := sys["iothub-message-source"].(string)
	e.Kind = kindOf(source)
	return e
}

func kindOf(source string) Kind {
	switch source {
	case "Telemetry":
		return KindTelemetry
	case "twinChangeEvents":
		return KindTwinChange
	case "deviceLifecycleEvents", "moduleLifecycleEvents":
		return KindLifecycle
	}
	return KindOther
}

// setIf sets m[k] to the value p points at, when it is set.
func setIf[T any](m map[string]any, k string, p *T) {
	if p != nil {
		m[k] = *p
	}
}

// setAny sets m[k] to v unless v is nil.
func setAny(m map[string]any, k string, v any) {
	if v != nil {
		m[k] = v
	}
}
