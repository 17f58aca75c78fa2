package hub

import (
	"net/http"
	"time"
)

// Observation hooks let a caller see every exchange the clients have with
// a hub, as evidence for a report. They hand over copies, already passed
// through Redact: a report is written by code that knows nothing of
// secrets, so they must never leave this package unmasked. Without an
// observer nothing is copied or redacted, so the hooks cost nothing.

// HTTPExchange is one HTTP attempt of a RegistryClient: each retry of a
// throttled request is an exchange of its own. Headers and bodies are
// redacted copies; the caller of the client gets the bodies unchanged.
type HTTPExchange struct {
	Method         string
	URL            string
	RequestHeader  http.Header
	RequestBody    string
	Status         int // 0 when no answer came
	ResponseHeader http.Header
	ResponseBody   string
	Start          time.Time
	Duration       time.Duration
	// Err is the transport or read error, "" when the answer was read whole.
	Err string
}

// WithObserver calls fn once per HTTP attempt, after it ended, on the
// goroutine that made the call. fn must be quick: it delays the caller.
func WithObserver(fn func(HTTPExchange)) RegistryOption {
	return func(c *registryConfig) { c.observe = fn }
}

// observeHTTP reports one attempt to the observer, if there is one. resp
// is nil when the request got no answer; err is the transport or read error.
func (c *RegistryClient) observeHTTP(req *http.Request, payload []byte, resp *http.Response, body []byte, start time.Time, err error) {
	if c.observe == nil {
		return
	}
	x := HTTPExchange{
		Method:        req.Method,
		URL:           Redact(req.URL.String()),
		RequestHeader: redactHeader(req.Header),
		RequestBody:   Redact(string(payload)),
		Start:         start,
		Duration:      time.Since(start),
	}
	if resp != nil {
		x.Status = resp.StatusCode
		x.ResponseHeader = redactHeader(resp.Header)
		x.ResponseBody = Redact(string(body))
	}
	if err != nil {
		x.Err = Redact(err.Error())
	}
	c.observe(x)
}

func redactHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		r := make([]string, len(vs))
		for i, v := range vs {
			r[i] = Redact(v)
		}
		out[k] = r
	}
	return out
}

// MQTTEventKind says what an MQTTEvent records.
type MQTTEventKind string

// The kinds of MQTT events.
const (
	// MQTTConnect is a connection attempt and its outcome (Detail).
	MQTTConnect MQTTEventKind = "connect"
	// MQTTSent is a PUBLISH the client sent.
	MQTTSent MQTTEventKind = "sent"
	// MQTTReceived is a PUBLISH the hub sent the client.
	MQTTReceived MQTTEventKind = "received"
	// MQTTSubscribe is a SUBSCRIBE; Topic lists its filters.
	MQTTSubscribe MQTTEventKind = "subscribe"
	// MQTTUnsubscribe is an UNSUBSCRIBE; Topic lists its filters.
	MQTTUnsubscribe MQTTEventKind = "unsubscribe"
	// MQTTDisconnect is the client closing its connection.
	MQTTDisconnect MQTTEventKind = "disconnect"
	// MQTTConnectionLost is the connection ending without the client
	// closing it (the hub closed it, or the network failed); Detail says why.
	MQTTConnectionLost MQTTEventKind = "connection lost"
)

// MQTTEvent is one thing that happened on a client's MQTT connection.
// Every text in it is redacted: Password shows the SAS token's resource
// and expiry, never its signature.
type MQTTEvent struct {
	At       time.Time
	Kind     MQTTEventKind
	ClientID string // {device} or {device}/{module}, as the hub knows it
	Topic    string
	QoS      byte
	Payload  string
	Username string // connect only
	Password string // connect only
	Detail   string // the outcome (CONNACK, SUBACK, error), or "" when there is none to tell
}

// DialObserver calls fn for the MQTT traffic of the client: connection
// attempts, publishes both ways, subscriptions, disconnects. fn runs on
// paho's goroutines, which deliver messages in order: it must not block
// (append under a mutex and return), or the client stalls.
//
// A DialModule or DialDevice client reports the outcome of a connection
// made or refused; paho's own reconnect attempts that fail are not seen,
// only the loss before them and the connection that finally succeeds.
func DialObserver(fn func(MQTTEvent)) DialOption { return func(c *dialConfig) { c.observe = fn } }

// emit reports an event; payload is copied only when someone observes.
func (cfg dialConfig) emit(kind MQTTEventKind, clientID, topic string, qos byte, payload []byte, detail string) {
	if cfg.observe == nil {
		return
	}
	cfg.observe(MQTTEvent{At: time.Now(), Kind: kind, ClientID: clientID, Topic: Redact(topic), QoS: qos,
		Payload: Redact(string(payload)), Detail: Redact(detail)})
}

// emitConnect reports a connection attempt made with user and password.
func (cfg dialConfig) emitConnect(clientID, user, password, outcome string) {
	if cfg.observe == nil {
		return
	}
	cfg.observe(MQTTEvent{At: time.Now(), Kind: MQTTConnect, ClientID: clientID,
		Username: Redact(user), Password: Redact(password), Detail: Redact(outcome)})
}
