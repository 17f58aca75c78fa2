package emulator

import (
	"log/slog"
	"strconv"
	"time"

	"github.com/hubspec/hubspec/hub"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// twinHook serves the device side of twins over MQTT: GET and reported
// PATCH requests on $iothub/twin/..., answered on the asking connection,
// and the desired-property pushes to an identity's live connection. Both go
// out through the connection registry (delivery.go).
type twinHook struct {
	mqtt.HookBase
	registry *registry
	conns    *connections
	faults   *faults // InvokeThrottling windows and DropDesiredPushes
	now      func() time.Time
	log      *slog.Logger
}

func (h *twinHook) ID() string { return "iothub-twin" }

func (h *twinHook) Provides(b byte) bool { return b == mqtt.OnPublished }

// OnPublished answers a twin request once its PUBACK has left.
func (h *twinHook) OnPublished(cl *mqtt.Client, pk packets.Packet) {
	id := identityOf(cl.ID)
	req, err := parseRequestTopic(pk.TopicName, id)
	if err != nil || (req.kind != reqTwinGet && req.kind != reqTwinPatchReported) {
		return
	}
	if h.faults.throttledTwin(id) {
		h.respond(cl, req.rid, 0, nil, "", errThrottledByFault)
		return
	}
	switch req.kind {
	case reqTwinGet:
		body, err := h.registry.twinSections(id.deviceID, id.moduleID)
		h.respond(cl, req.rid, 200, body, "", err)
	case reqTwinPatchReported:
		v, err := h.registry.patchReported(id.deviceID, id.moduleID, pk.Payload)
		h.respond(cl, req.rid, 204, nil, "&$version="+strconv.FormatInt(v, 10), err)
	}
}

// respond answers a twin request on $iothub/twin/res/{status}/?$rid={rid},
// to this connection only. Errors carry the hub's {errorCode, trackingId,
// message, timestampUtc, info} body (Microsoft's IoT Hub MQTT doc; the
// fidelity table's "Reported PATCH answer" row).
func (h *twinHook) respond(cl *mqtt.Client, rid string, status int, body []byte, extra string, err error) {
	if err != nil {
		e, ok := hub.AsError(err)
		if !ok {
			e = hub.ErrServerError.WithMessage("%v", err)
		}
		status, extra = e.StatusCode, ""
		body = hub.ErrorDetailJSON(e, newTrackingID(), h.now().UTC().Format(time.RFC3339Nano))
	}
	topic := "$iothub/twin/res/" + strconv.Itoa(status) + "/?$rid=" + rid + extra
	if err := h.conns.reply(cl, topic, body); err != nil {
		h.log.Debug("mqtt response dropped", "client", cl.ID, "topic", topic, "reason", err)
	}
}

// pushDesired hands a desired-properties patch to the identity's live
// connection, if any: the hub queues nothing for disconnected clients
// (Microsoft's device twin doc, "Device reconnection flow"; the fidelity
// table's "Desired changes while disconnected" row).
func (h *twinHook) pushDesired(deviceID, moduleID string, patch []byte, version int64) {
	// The drop is taken first: DropDesiredPushes counts desired changes,
	// connected or not, since notifications go out asynchronously and a
	// test cannot know whether a connection was up when one went.
	if h.faults.takeDesiredDrop() {
		return
	}
	id := identity{deviceID: deviceID, moduleID: moduleID}
	topic := "$iothub/twin/PATCH/properties/desired/?$version=" + strconv.FormatInt(version, 10)
	if err := h.conns.deliver(id, topic, patch); err != nil {
		h.log.Debug("mqtt desired push not sent", "client", id, "version", version, "reason", err)
	}
}
