package device

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/hubspec/hubspec/internal/mqttconn"
)

// CloudMessage is a cloud-to-device message the device received, with the
// properties the hub wrote in the topic's property bag.
type CloudMessage struct {
	MessageID, CorrelationID, UserID string
	// To is the address the service sent to (the bag's $.to).
	To                           string
	ContentType, ContentEncoding string
	// Expiry is the bag's $.exp as the hub wrote it ("" when none).
	Expiry string
	// Ack is the iothub-ack the service asked for ("" when none).
	Ack string
	// Properties are the application properties.
	Properties map[string]string
	Body       []byte
}

// c2dFilter is a device's cloud-to-device topic filter.
func (c *Client) c2dFilter() string {
	return "devices/" + c.cs.DeviceID + "/messages/devicebound/#"
}

// CloudMessages subscribes to the device's cloud-to-device messages and
// returns the channel they arrive on, in order; the client subscribes
// again after every reconnect. Each message is acknowledged (PUBACK, which
// completes it on the hub) once it is in the client's queue, whether or not
// it has been read from the channel. The channel is closed by Close. Only
// a device has cloud-to-device messages: a module is refused.
func (c *Client) CloudMessages(ctx context.Context) (<-chan CloudMessage, error) {
	if c.cs.ModuleID != "" {
		return nil, fmt.Errorf("cloud messages: %s is a module; only devices receive cloud-to-device messages", c.clientID())
	}
	c.mu.Lock()
	c.listening = true
	out := c.cloud.out
	c.mu.Unlock()
	c.gate.RLock()
	defer c.gate.RUnlock()
	tok := c.client.Subscribe(c.c2dFilter(), 1, c.onMessage)
	err := mqttconn.WaitToken(ctx, tok)
	c.cfg.Emit(mqttconn.EventSubscribe, c.clientID(), c.c2dFilter(), 1, nil, mqttconn.SubackDetail(tok, err))
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", c.c2dFilter(), err)
	}
	return out, nil
}

// PendingCloudMessages is how many cloud-to-device messages the client has
// taken in that CloudMessages has not handed over yet (see PendingPatches).
func (c *Client) PendingCloudMessages() int {
	c.mu.Lock()
	q := c.cloud
	c.mu.Unlock()
	if q == nil {
		return 0
	}
	return q.pending()
}

// onCloudMessage queues a cloud-to-device message for CloudMessages.
func (c *Client) onCloudMessage(m paho.Message) {
	c.mu.Lock()
	q := c.cloud
	c.mu.Unlock()
	if q == nil { // a module: the hub never sends it one
		return
	}
	msg := decodeCloudMessage(m.Topic())
	msg.Body = append([]byte(nil), m.Payload()...)
	q.push(msg)
}

// decodeCloudMessage reads the property bag after
// devices/{id}/messages/devicebound/ as the Python device SDK's
// extract_message_properties_from_topic does: pairs split on '&' and '=',
// each side percent-decoded ('+' stays '+'), a key without a value skipped.
func decodeCloudMessage(topic string) CloudMessage {
	msg := CloudMessage{Properties: map[string]string{}}
	parts := strings.SplitN(topic, "/", 5)
	if len(parts) < 5 || parts[4] == "" {
		return msg
	}
	for _, kv := range strings.Split(parts[4], "&") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		k, v = unescape(k), unescape(v)
		switch k {
		case "$.mid":
			msg.MessageID = v
		case "$.cid":
			msg.CorrelationID = v
		case "$.uid":
			msg.UserID = v
		case "$.to":
			msg.To = v
		case "$.ct":
			msg.ContentType = v
		case "$.ce":
			msg.ContentEncoding = v
		case "$.exp":
			msg.Expiry = v
		case "iothub-ack":
			msg.Ack = v
		default:
			msg.Properties[k] = v
		}
	}
	return msg
}

// unescape percent-decodes s, keeping it as sent when it is malformed.
func unescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}
