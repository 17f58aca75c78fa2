package mqttconn

import (
	"time"

	"github.com/hubspec/hubspec/hub"
)

// EventKind says what an Event records.
type EventKind string

// The kinds of MQTT events.
const (
	// EventConnect is a connection attempt and its outcome (Detail).
	EventConnect EventKind = "connect"
	// EventSent is a PUBLISH the client sent.
	EventSent EventKind = "sent"
	// EventReceived is a PUBLISH the hub sent the client.
	EventReceived EventKind = "received"
	// EventSubscribe is a SUBSCRIBE; Topic lists its filters.
	EventSubscribe EventKind = "subscribe"
	// EventUnsubscribe is an UNSUBSCRIBE; Topic lists its filters.
	EventUnsubscribe EventKind = "unsubscribe"
	// EventDisconnect is the client closing its connection.
	EventDisconnect EventKind = "disconnect"
	// EventConnectionLost is the connection ending without the client
	// closing it (the hub closed it, or the network failed); Detail says why.
	EventConnectionLost EventKind = "connection lost"
)

// Event is one thing that happened on a client's MQTT connection.
// Every text in it is redacted: Password shows the SAS token's resource
// and expiry, never its signature.
type Event struct {
	At       time.Time
	Kind     EventKind
	ClientID string // {device} or {device}/{module}, as the hub knows it
	Topic    string
	QoS      byte
	Payload  string
	Username string // connect only
	Password string // connect only
	Detail   string // the outcome (CONNACK, SUBACK, error), or "" when there is none to tell
}

// Emit reports an event; payload is copied only when someone observes.
func (cfg Settings) Emit(kind EventKind, clientID, topic string, qos byte, payload []byte, detail string) {
	if cfg.Observe == nil {
		return
	}
	cfg.Observe(Event{At: time.Now(), Kind: kind, ClientID: clientID, Topic: hub.Redact(topic), QoS: qos,
		Payload: hub.Redact(string(payload)), Detail: hub.Redact(detail)})
}

// EmitConnect reports a connection attempt made with user and password.
func (cfg Settings) EmitConnect(clientID, user, password, outcome string) {
	if cfg.Observe == nil {
		return
	}
	cfg.Observe(Event{At: time.Now(), Kind: EventConnect, ClientID: clientID,
		Username: hub.Redact(user), Password: hub.Redact(password), Detail: hub.Redact(outcome)})
}
