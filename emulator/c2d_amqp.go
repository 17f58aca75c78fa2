package emulator

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/internal/amqp"
)

// The service-facing cloud-to-device nodes (Microsoft's "Understand
// cloud-to-device messaging"; the C# service SDK writes the feedback path
// as /messages/serviceBound/feedback, so both compare case-insensitively).
const (
	addrDeviceBound = "/messages/devicebound"
	addrFeedback    = "/messages/servicebound/feedback"
)

// c2dEndpoint serves cloud-to-device messaging on the AMQP listener: the
// service's sender link to /messages/devicebound, whose messages it queues
// for their device or refuses with the hub's error, and receiver links
// from /messages/servicebound/feedback. Both need a claim with
// ServiceConnect on the hub (a CBS put-token or SASL PLAIN, c2d_auth.go).
type c2dEndpoint struct {
	queues   *c2dQueues
	registry *registry
	hubName  string
	now      func() time.Time
	log      *slog.Logger
}

// handles reports whether addr is one of the endpoint's nodes.
func (e *c2dEndpoint) handles(addr string) bool {
	node := nodeOf(addr)
	return strings.EqualFold(node, addrDeviceBound) || strings.EqualFold(node, addrFeedback)
}

// nodeOf is the node an address names: uamqp clients (the Python service
// SDK) send the whole URL, amqps://{host}/messages/devicebound, as the
// target address; others send the path alone.
func nodeOf(addr string) string {
	if _, rest, ok := strings.Cut(addr, "://"); ok {
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			return rest[i:]
		}
		return "/"
	}
	return addr
}

// attach takes a link to one of the endpoint's nodes.
func (e *c2dEndpoint) attach(l *amqp.Link) error {
	if claims, _ := l.Conn().Identity().(*ehClaims); claims == nil || !claims.validService(e.now()) {
		return &amqp.Error{Condition: amqp.ErrUnauthorizedAccess, Description: "no valid claim with ServiceConnect for " + l.Address() + ": put a token on $cbs first"}
	}
	switch {
	case strings.EqualFold(nodeOf(l.Address()), addrDeviceBound) && l.Role() == amqp.RoleReceiver:
		go e.receive(l)
	case strings.EqualFold(nodeOf(l.Address()), addrFeedback) && l.Role() == amqp.RoleSender:
		go e.queues.feedback.serve(l, e.hubName)
	default:
		return &amqp.Error{Condition: amqp.ErrNotAllowed, Description: "the service sends to " + addrDeviceBound + " and receives from " + addrFeedback}
	}
	return nil
}

// receive queues each message of a sender link and settles it: accepted
// once queued, rejected with the hub's error otherwise.
func (e *c2dEndpoint) receive(l *amqp.Link) {
	ctx, cancel := l.Context()
	defer cancel()
	for {
		d, err := l.Receive(ctx)
		if err != nil {
			return
		}
		err = e.send(l.Conn(), d.Message)
		if d.Settled() { // pre-settled: the sender asked for no outcome
			continue
		}
		if err != nil {
			e.log.Info("c2d message refused", "error", err)
			_ = d.Reject(amqpErrorOf(err))
			continue
		}
		_ = d.Accept()
	}
}

// send checks one message as the hub does and queues it.
func (e *c2dEndpoint) send(c *amqp.Conn, msg *amqp.Message) error {
	if claims, _ := c.Identity().(*ehClaims); claims == nil || !claims.validService(e.now()) {
		return errUnauthorized("the claim for %s has expired: put a new token on $cbs", addrDeviceBound)
	}
	m, err := e.parse(msg)
	if err != nil {
		return err
	}
	if m.generationID, err = e.registry.deviceGeneration(m.deviceID); err != nil {
		return err
	}
	return e.queues.enqueue(m)
}

// parse reads the device, ids, ack, expiry and body of a service message.
func (e *c2dEndpoint) parse(msg *amqp.Message) (*c2dMessage, error) {
	p := msg.Properties
	if p == nil {
		p = &amqp.Properties{}
	}
	deviceID, err := deviceOfTo(p.To)
	if err != nil {
		return nil, err
	}
	body, err := c2dBody(msg)
	if err != nil {
		return nil, err
	}
	ack := ackNone
	if v, ok := msg.ApplicationProperties["iothub-ack"]; ok {
		s, _ := v.(string)
		switch a := c2dAck(strings.ToLower(s)); a {
		case ackNone, ackPositive, ackNegative, ackFull:
			ack = a
		default:
			return nil, hub.ErrArgumentInvalid.WithMessage("iothub-ack %q is not none, positive, negative or full", s)
		}
	}
	m := &c2dMessage{deviceID: deviceID, messageID: idText(p.MessageID), ack: ack, body: body, expiry: e.expiryOf(deviceID, msg)}
	m.topic = c2dTopic(deviceID, msg, m.expiry)
	return m, nil
}

// expiryOf is the message's absolute-expiry-time, else its header's TTL,
// else the hub's default TTL, counted from now on its device's clock.
func (e *c2dEndpoint) expiryOf(deviceID string, msg *amqp.Message) time.Time {
	now := e.queues.clocks.now(deviceID)
	if msg.Properties != nil && !msg.Properties.AbsoluteExpiryTime.IsZero() {
		return msg.Properties.AbsoluteExpiryTime
	}
	if msg.Header != nil && msg.Header.TTL != nil && *msg.Header.TTL > 0 {
		return now.Add(time.Duration(*msg.Header.TTL) * time.Millisecond)
	}
	return now.Add(c2dDefaultTTL)
}

// deviceOfTo reads /devices/{id}/messages/devicebound; modules have no
// cloud-to-device messages on IoT Hub, so a module's address is refused.
func deviceOfTo(to string) (string, error) {
	parts := strings.Split(to, "/")
	if len(parts) != 5 || parts[0] != "" || !strings.EqualFold(parts[1], "devices") ||
		!strings.EqualFold(parts[3], "messages") || !strings.EqualFold(parts[4], "devicebound") || parts[2] == "" {
		return "", hub.ErrArgumentInvalid.WithMessage("the message's to %q is not /devices/{deviceId}/messages/devicebound", to)
	}
	id, err := url.PathUnescape(parts[2])
	if err != nil {
		return "", hub.ErrArgumentInvalid.WithMessage("the message's to %q: %v", to, err)
	}
	return id, nil
}

// c2dBody is the message body: its data sections, or an amqp-value string
// or binary; 64 KB at most.
func c2dBody(msg *amqp.Message) ([]byte, error) {
	var body []byte
	switch v := msg.Value.(type) {
	case nil:
		for _, d := range msg.Data {
			body = append(body, d...)
		}
	case string:
		body = []byte(v)
	case []byte:
		body = v
	default:
		return nil, hub.ErrArgumentInvalid.WithMessage("the message body must be data, or an amqp-value string or binary")
	}
	if msg.Sequence != nil {
		return nil, hub.ErrArgumentInvalid.WithMessage("the message body must be data, not an amqp-sequence")
	}
	if len(body) > c2dMaxBody {
		return nil, hub.ErrMessageTooLarge.WithMessage("Message size %d exceeds the cloud-to-device limit of %d bytes", len(body), c2dMaxBody)
	}
	return body, nil
}

// idText is a message or correlation id as text.
func idText(id any) string {
	switch v := id.(type) {
	case nil:
		return ""
	case string:
		return v
	case []byte:
		return string(v)
	}
	return fmt.Sprint(id)
}

// amqpErrorOf is the AMQP error the hub rejects a message with: the
// condition the service SDKs map to the hub's exception (the C# SDK's
// AmqpErrorMapper, the Node SDK's translateError) and the hub's message as
// the description, its tracking id in the info.
func amqpErrorOf(err error) *amqp.Error {
	cond := amqp.ErrInternal
	var he *hub.Error
	if errors.As(err, &he) {
		switch he.Code {
		case hub.ErrDeviceNotFound.Code:
			cond = amqp.ErrNotFound
		case hub.ErrDeviceMaximumQueueDepthExceeded.Code:
			cond = amqp.ErrResourceLimit
		case hub.ErrMessageTooLarge.Code:
			cond = amqp.ErrMessageSizeExceeded
		case hub.ErrArgumentInvalid.Code:
			cond = condArgumentError
		case hub.ErrUnauthorized.Code:
			cond = amqp.ErrUnauthorizedAccess
		}
	}
	desc := err.Error()
	if he != nil {
		desc = he.Message
	}
	return &amqp.Error{Condition: cond, Description: desc, Info: map[amqp.Symbol]any{
		"com.microsoft:tracking-id": strings.ReplaceAll(newMessageID(), "-", ""),
	}}
}

// condArgumentError is IoT Hub's condition for a malformed request
// (IotHubAmqpErrorCode.ArgumentError in the C# SDK).
const condArgumentError amqp.Symbol = "com.microsoft:argument-error"

// route serves the endpoint's nodes and passes every other link to next:
// the AMQP listener is shared with the built-in endpoint, as on IoT Hub's
// port 5671.
func (e *c2dEndpoint) route(next func(*amqp.Link) error) func(*amqp.Link) error {
	return func(l *amqp.Link) error {
		if e.handles(l.Address()) {
			return e.attach(l)
		}
		return next(l)
	}
}
