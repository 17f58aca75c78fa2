package emulator

import (
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// willHook sends an accepted will as IoT Hub does (Microsoft's IoT Hub
// MQTT doc, "Will" messages; docs/fidelity.md, "Will"): when a connection
// ends without a DISCONNECT, the will is enqueued on the built-in endpoint
// as telemetry from the connection's identity, with the will topic's
// property bag and iothub-MessageType: Will. The authentication hook has
// already refused a will on any topic but the identity's own telemetry
// topic, and taken the will from the broker, which would publish it to
// subscribers instead.
type willHook struct {
	mqtt.HookBase
	hub *eventHub
	now func() time.Time

	mu    sync.Mutex
	wills map[*mqtt.Client]*will
}

// will is one connection's accepted will; graceful is set by its DISCONNECT.
type will struct {
	topic    string
	payload  []byte
	graceful bool
}

func newWillHook(hub *eventHub, now func() time.Time) *willHook {
	return &willHook{hub: hub, now: now, wills: map[*mqtt.Client]*will{}}
}

func (h *willHook) ID() string { return "iothub-will" }

func (h *willHook) Provides(b byte) bool {
	switch b {
	case mqtt.OnSessionEstablished, mqtt.OnPacketRead, mqtt.OnDisconnect:
		return true
	}
	return false
}

// OnSessionEstablished keeps the will of an accepted connection.
func (h *willHook) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	if !pk.Connect.WillFlag {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.wills[cl] = &will{topic: pk.Connect.WillTopic, payload: append([]byte(nil), pk.Connect.WillPayload...)}
}

// OnPacketRead marks a connection that sends DISCONNECT: its will is
// discarded, as MQTT 3.1.1 requires [MQTT-3.1.2-10].
func (h *willHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type == packets.Disconnect {
		h.mu.Lock()
		if w := h.wills[cl]; w != nil {
			w.graceful = true
		}
		h.mu.Unlock()
	}
	return pk, nil
}

// OnDisconnect sends the will of a connection that ended any other way:
// the network, a keep-alive timeout, the hub closing it.
func (h *willHook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	h.mu.Lock()
	w := h.wills[cl]
	delete(h.wills, cl)
	h.mu.Unlock()
	if w == nil || w.graceful {
		return
	}
	id := identityOf(cl.ID)
	props := eventProperties(w.topic, id)
	if props == nil {
		props = map[string]string{}
	}
	props["iothub-MessageType"] = "Will"
	now := h.now()
	h.hub.enqueue(id.deviceID, telemetryMessage(id, props, w.payload, now), now)
}
