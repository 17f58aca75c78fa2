package device

import (
	"context"
	"errors"
	"fmt"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/internal/mqttconn"
)

// SendEvent sends a telemetry message (device-to-cloud) with application
// properties, at QoS 1 as the SDKs do, and returns once the hub has
// acknowledged it (PUBACK) or ctx ends. Over a lost connection the message
// waits in the persistent session and goes out after the reconnect. The
// official SDK test suites send their fault-injection requests this way.
func (c *Client) SendEvent(ctx context.Context, payload []byte, properties map[string]string) error {
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
	topic := hub.EventsTopic(c.cs.DeviceID, c.cs.ModuleID, properties)
	if err := mqttconn.WaitToken(ctx, pc.Publish(topic, 1, false, payload)); err != nil {
		return fmt.Errorf("send event %s: %w", c.clientID(), err)
	}
	return nil
}
