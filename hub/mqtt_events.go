package hub

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// EventsTopic is the MQTT topic a device (moduleID "") or module sends
// telemetry on, with the message's application properties in the topic's
// property bag: devices/{d}[/modules/{m}]/messages/events/{k}={v}&...
// Keys and values are percent-encoded as the Python SDK encodes them
// (urllib.parse.quote with nothing safe, DOC-MQTT's "RFC 2396-encoded"),
// and sorted by key, so the same message always makes the same topic. Ids
// are not encoded: the hub does not decode them (Python SDK wiki, "URL
// Encoding (MQTT)").
func EventsTopic(deviceID, moduleID string, properties map[string]string) string {
	var b strings.Builder
	b.WriteString("devices/" + deviceID)
	if moduleID != "" {
		b.WriteString("/modules/" + moduleID)
	}
	b.WriteString("/messages/events/")
	for i, k := range slices.Sorted(maps.Keys(properties)) {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(quoteAll(k) + "=" + quoteAll(properties[k]))
	}
	return b.String()
}

// SendEvent sends a telemetry message (device-to-cloud) with application
// properties, at QoS 1 as the SDKs do, and returns once the hub has
// acknowledged it (PUBACK) or ctx ends. Over a lost connection the message
// waits in the persistent session and goes out after the reconnect. The
// official SDK test suites send their fault-injection requests this way.
func (c *MQTTClient) SendEvent(ctx context.Context, payload []byte, properties map[string]string) error {
	c.gate.RLock()
	defer c.gate.RUnlock()
	c.mu.Lock()
	closed, pc := c.closed, c.client
	c.mu.Unlock()
	switch {
	case closed:
		return fmt.Errorf("send event %s: %w", c.clientID(), errors.New("client closed"))
	case ctx.Err() != nil:
		return fmt.Errorf("send event %s: %w", c.clientID(), ctx.Err())
	}
	if payload == nil {
		payload = []byte{}
	}
	topic := EventsTopic(c.cs.DeviceID, c.cs.ModuleID, properties)
	if err := waitToken(ctx, pc.Publish(topic, 1, false, payload)); err != nil {
		return fmt.Errorf("send event %s: %w", c.clientID(), err)
	}
	return nil
}
