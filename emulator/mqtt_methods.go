package emulator

import (
	"log/slog"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// methodHook takes identities' answers to direct method calls,
// $iothub/methods/res/{status}/?$rid={rid}, and hands each to the call
// waiting for it (methods.go). The answer counts only from the identity the
// call was sent to: whatever else arrives on that topic (a late answer, a
// request id the hub never gave, another identity's answer, a status that
// is no integer, a body that is not JSON or is over 128 KB) is
// acknowledged like any publish and dropped, and the connection stays open.
type methodHook struct {
	mqtt.HookBase
	methods *methods
	log     *slog.Logger
}

func (h *methodHook) ID() string { return "iothub-methods" }

func (h *methodHook) Provides(b byte) bool { return b == mqtt.OnPublished }

// OnPublished runs once the answer's PUBACK (QoS 1) has left.
func (h *methodHook) OnPublished(cl *mqtt.Client, pk packets.Packet) {
	id := identityOf(cl.ID)
	req, err := parseRequestTopic(pk.TopicName, id)
	if err != nil || req.kind != reqMethodResponse {
		return
	}
	a, err := parseMethodAnswer(pk.TopicName, pk.Payload)
	if err != nil {
		h.log.Info("direct method answer dropped", "client", cl.ID, "topic", pk.TopicName, "reason", err)
		return
	}
	if !h.methods.answer(id, req.rid, a) {
		h.log.Info("direct method answer dropped: no call of this identity waits for it (late, unknown $rid, or not its call)",
			"client", cl.ID, "rid", req.rid)
	}
}
