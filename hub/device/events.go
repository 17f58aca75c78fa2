package device

import "github.com/hubspec/hubspec/internal/mqttconn"

// Event is one thing that happened on a client's MQTT connection, for an
// observer (WithObserver). Every text in it is redacted: Password shows the
// SAS token's resource and expiry, never its signature.
type Event = mqttconn.Event

// EventKind says what an Event records.
type EventKind = mqttconn.EventKind

// The kinds of events.
const (
	EventConnect        = mqttconn.EventConnect
	EventSent           = mqttconn.EventSent
	EventReceived       = mqttconn.EventReceived
	EventSubscribe      = mqttconn.EventSubscribe
	EventUnsubscribe    = mqttconn.EventUnsubscribe
	EventDisconnect     = mqttconn.EventDisconnect
	EventConnectionLost = mqttconn.EventConnectionLost
)

// ConnectRefusedError is a CONNACK refusal: 5 for a bad key, an expired
// token or an unknown identity; 3 for a disabled device.
type ConnectRefusedError = mqttconn.ConnectRefusedError
