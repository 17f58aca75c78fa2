package emulator

import (
	"errors"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hubspec/hubspec/hub"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// The official SDKs' end-to-end suites make the hub fail on purpose by
// sending a telemetry message with these application properties (C#
// e2e/test/helpers/templates/FaultInjection.cs ComposeErrorInjectionProperties,
// azure-iot-sdk-c iothubclient_common_e2e.c send_error_injection_message,
// azure-iot-sdk-node e2e injectFault). Delay and duration are decimal
// seconds: C# v2 writes TimeSpan.TotalSeconds, so "1.5" can occur.
const (
	propFaultType     = "AzIoTHub_FaultOperationType"
	propFaultReason   = "AzIoTHub_FaultOperationCloseReason"
	propFaultDelay    = "AzIoTHub_FaultOperationDelayInSecs"
	propFaultDuration = "AzIoTHub_FaultOperationDurationInSecs"

	// The fault types the emulator honours over MQTT (FaultInjectionConstants
	// in the C# and Java suites). The others, AMQP link kills and
	// InvokeMaxMessageQuota, are acknowledged and ignored.
	faultKillTCP      = "KillTcp"
	faultShutDownMQTT = "ShutDownMqtt"
	faultThrottling   = "InvokeThrottling"
	faultAuthError    = "InvokeAuthError"

	// maxFaultSeconds bounds a delay or duration; a larger value is as
	// meaningless as a negative one and counts as 0.
	maxFaultSeconds = 24 * 60 * 60
)

var (
	errFaultKillTCP     = errors.New("closed by fault injection: " + faultKillTCP)
	errFaultShutDown    = errors.New("closed by fault injection: " + faultShutDownMQTT)
	errFaultAuthError   = errors.New("closed by fault injection: " + faultAuthError)
	errThrottledByFault = hub.ErrThrottled.WithMessage("The request has been throttled. Wait and try again.")
)

// faultRequest is a fault a device or module asked for in its telemetry.
type faultRequest struct {
	kind            string
	reason          string // only logged: MQTT 3.1.1 cannot carry it to the client
	delay, duration time.Duration
}

// parseFaultRequest reads the fault properties of a telemetry message; ok is
// false for an ordinary message. Bad numbers never fail anything: they count
// as 0 and are logged, since the hub must survive whatever a client sends.
func parseFaultRequest(props map[string]string, log *slog.Logger, client string) (f faultRequest, ok bool) {
	f.kind, ok = props[propFaultType]
	if !ok {
		return faultRequest{}, false
	}
	f.reason = props[propFaultReason]
	f.delay = faultSeconds(props, propFaultDelay, log, client)
	f.duration = faultSeconds(props, propFaultDuration, log, client)
	return f, true
}

// faultSeconds reads a property of decimal seconds; absent is 0.
func faultSeconds(props map[string]string, name string, log *slog.Logger, client string) time.Duration {
	v, ok := props[name]
	if !ok {
		return 0
	}
	secs, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(secs) || secs < 0 || secs > maxFaultSeconds {
		log.Info("mqtt fault injection: not a number of seconds; using 0", "client", client, "property", name, "value", v)
		return 0
	}
	return time.Duration(secs * float64(time.Second))
}

// faultHook honours the fault-injection telemetry of the SDK suites. It
// closes connections through the connection registry (delivery.go), so a
// fault only ever closes the connection that asked, never one that replaced
// it.
type faultHook struct {
	mqtt.HookBase
	faults *faults
	conns  *connections
	log    *slog.Logger
}

func (h *faultHook) ID() string { return "iothub-faults" }

func (h *faultHook) Provides(b byte) bool { return b == mqtt.OnPublish || b == mqtt.OnPublished }

// A fault takes effect in two parts. Its window (InvokeThrottling's
// throttled requests, InvokeAuthError's refused connects) belongs to the
// identity; without a delay it opens in OnPublish, before the request's
// PUBACK leaves, so a client that has its PUBACK knows the fault is in
// force, and a test that moves the device's clock next (docs/fidelity.md,
// "Device clocks") moves a window already open rather than one opened
// after the move. Closing the connection belongs to the connection that
// asked, never to one that replaced it, and happens in OnPublished, after
// the PUBACK, so a persistent session never sends the request again. A
// fault with a delay does both once the delay has passed on the device's
// clock.

// OnPublish opens the window of a fault requested without delay. Telemetry
// itself goes to the built-in endpoint (telemetryHook, mqtt_telemetry.go);
// the emulator models no other routing.
func (h *faultHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if f, id, ok := h.request(cl, pk); ok && f.delay <= 0 {
		h.openWindow(id, f)
	}
	return pk, nil
}

// OnPublished starts the rest of a requested fault: all of it after its
// delay, or at once the closing of a fault without delay, which is in
// force before the hub reads the client's next packet.
func (h *faultHook) OnPublished(cl *mqtt.Client, pk packets.Packet) {
	f, id, ok := h.request(cl, pk)
	if !ok {
		return
	}
	h.log.Info("mqtt fault injection", "client", cl.ID, "type", f.kind, "reason", f.reason,
		"delay", f.delay, "duration", f.duration)
	delayed := f.delay > 0
	h.faults.after(id.deviceID, f.delay, func() {
		if delayed {
			h.openWindow(id, f)
		}
		h.closeFor(cl, f)
	})
}

// request is the emulated fault a telemetry message of cl asks for, for
// cl's identity only; ok is false for any other publish, and for fault
// types the emulator does not emulate (logged).
func (h *faultHook) request(cl *mqtt.Client, pk packets.Packet) (f faultRequest, id identity, ok bool) {
	id = identityOf(cl.ID)
	if req, err := parseRequestTopic(pk.TopicName, id); err != nil || req.kind != reqTelemetry {
		return faultRequest{}, id, false
	}
	if f, ok = parseFaultRequest(eventProperties(pk.TopicName, id), h.log, cl.ID); !ok {
		return faultRequest{}, id, false
	}
	switch f.kind {
	case faultKillTCP, faultShutDownMQTT, faultThrottling, faultAuthError:
		return f, id, true
	}
	h.log.Debug("mqtt fault injection: fault type not emulated; ignored", "client", cl.ID, "type", f.kind)
	return faultRequest{}, id, false
}

// openWindow opens the identity's window of a throttling or auth-error
// fault; the other faults have none.
func (h *faultHook) openWindow(id identity, f faultRequest) {
	switch f.kind {
	case faultThrottling:
		h.faults.openWindow(h.faults.throttled, id, f.duration)
	case faultAuthError:
		// Open before the close, so the client's reconnect is refused.
		h.faults.openWindow(h.faults.refused, id, f.duration)
	}
}

// closeFor closes the connection that asked for a closing fault.
func (h *faultHook) closeFor(cl *mqtt.Client, f faultRequest) {
	switch f.kind {
	case faultKillTCP:
		h.closeFaulted(cl, errFaultKillTCP)
	case faultShutDownMQTT:
		h.closeFaulted(cl, errFaultShutDown)
	case faultAuthError:
		h.closeFaulted(cl, errFaultAuthError)
	}
}

// closeFaulted closes cl if it is still the identity's live connection. An
// MQTT 3.1.1 server has no DISCONNECT to send, so KillTcp and ShutDownMqtt
// both close the socket; the persistent session stays.
func (h *faultHook) closeFaulted(cl *mqtt.Client, why error) {
	if !h.conns.dropIfCurrent(cl, why) {
		h.log.Debug("mqtt fault injection: the connection that asked is gone; nothing closed", "client", cl.ID, "fault", why)
		return
	}
	h.log.Info("mqtt closing connection", "client", cl.ID, "reason", why)
}
