package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/hubspec/hubspec/hub"
)

// Direct methods (Microsoft's "Understand and invoke direct methods from IoT
// Hub" and the MQTT doc's "Respond to a direct method"; the fidelity
// table's "Direct methods" section): a service's POST
// /twins/{d}[/modules/{m}]/methods waits while the hub hands the call to
// the identity's live MQTT connection on $iothub/methods/POST/{name}/?$rid=
// and the identity answers on $iothub/methods/res/{status}/?$rid=. methods
// is the part in between: the calls waiting for an answer, each under the
// identity it was sent to and the request id the hub gave it, so that only
// that identity's answer with that id completes it.
type methods struct {
	registry *registry
	conns    *connections
	log      *slog.Logger

	mu      sync.Mutex
	lastRID uint64                          // request ids are a hub-wide counter
	waiting map[methodKey]chan methodAnswer // each buffered for one answer
	// stopped ends every wait when the emulator closes, so Close does not
	// sit out a call's timeout.
	stopped context.Context
	stop    context.CancelFunc
}

type methodKey struct {
	id  identity
	rid string
}

// methodCall is a validated invocation (methods_request.go).
type methodCall struct {
	name string
	// payload is the request's payload as the service sent it; nil when it
	// sent none or null, which reaches the device as an empty body.
	payload         json.RawMessage
	responseTimeout time.Duration
	connectTimeout  time.Duration
}

// methodAnswer is an identity's answer: its status and its JSON payload,
// nil for an empty body.
type methodAnswer struct {
	status  int
	payload json.RawMessage
}

var errHubStopping = errors.New("the emulator is shutting down")

// newMethods serves direct methods; conns nil (a REST handler alone, in
// tests) has no identity online.
func newMethods(reg *registry, conns *connections, log *slog.Logger) *methods {
	m := &methods{registry: reg, conns: conns, log: log, waiting: map[methodKey]chan methodAnswer{}}
	m.stopped, m.stop = context.WithCancel(context.Background())
	return m
}

// close ends every call that waits, with 503 ServiceUnavailable.
func (m *methods) close() { m.stop() }

// invoke delivers call to id and waits for its answer. The hub's refusals
// are *hub.Error: 404 DeviceNotFound or ModuleNotFound for an unknown
// identity (and DeviceNotFound for a disabled device, which cannot be
// online), 404 DeviceNotOnline when the identity has no live connection
// subscribed to $iothub/methods/POST/# within the call's connect timeout,
// 504 GatewayTimeout when it has not answered within the response timeout,
// 503 ServiceUnavailable when the emulator closes meanwhile. Both waits are
// on the clock of id's device (device_clocks.go): real seconds whatever
// Options.Now says, cut short when a test moves that clock past them.
func (m *methods) invoke(ctx context.Context, id identity, call methodCall) (methodAnswer, error) {
	_, _, enabled, err := m.registry.identityKeys(id.deviceID, id.moduleID)
	if err != nil {
		return methodAnswer{}, err
	}
	if !enabled {
		// DOC-ERR's 404001: "The device either isn't registered or is disabled."
		return methodAnswer{}, errDeviceNotFound(id.deviceID)
	}
	clk, err := m.registry.deviceClock(id.deviceID)
	if err != nil {
		return methodAnswer{}, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer context.AfterFunc(m.stopped, func() { cancel(errHubStopping) })()

	rid, answer := m.open(id)
	defer m.forget(id, rid)
	topic := "$iothub/methods/POST/" + call.name + "/?$rid=" + rid
	// The response timeout starts as the request is handed to the
	// connection, before the device can see it (and a test move its clock).
	var timedOut <-chan struct{}
	stopResponse := func() bool { return false }
	defer func() { stopResponse() }()
	sending := func() {
		stopResponse() // an attempt whose write could not be queued
		timedOut, stopResponse = clk.After(call.responseTimeout)
	}
	err = errNotConnected // without an MQTT side (REST tests) nothing is ever online
	if m.conns != nil {
		cctx, ccancel := context.WithCancel(ctx)
		stopConnect := clk.AfterFunc(call.connectTimeout, ccancel)
		if call.connectTimeout > 0 {
			m.log.Debug("direct method: delivering within the connect timeout", "client", id, "method", call.name, "connectTimeout", call.connectTimeout)
		}
		err = m.conns.deliverWhenSubscribed(cctx, id, topic, call.payload, sending)
		stopConnect()
		ccancel()
	}
	if err != nil {
		if ctx.Err() != nil {
			return methodAnswer{}, m.ended(ctx)
		}
		m.log.Debug("direct method: identity not online", "client", id, "method", call.name, "reason", err)
		return methodAnswer{}, hub.ErrDeviceNotOnline.WithMessage("Timed out waiting for device to connect.").
			WithInfo(timeoutInfo(call.connectTimeout))
	}
	select {
	case a := <-answer:
		return a, nil
	case <-timedOut:
		return methodAnswer{}, hub.ErrGatewayTimeout.WithMessage("Timed out waiting for the response from device.").
			WithInfo(timeoutInfo(call.responseTimeout))
	case <-ctx.Done():
		return methodAnswer{}, m.ended(ctx)
	}
}

// ended is why a call's wait ended early: the emulator closing (503), or
// the service giving up (its request's context), whose answer nobody reads.
func (m *methods) ended(ctx context.Context) error {
	if errors.Is(context.Cause(ctx), errHubStopping) {
		return hub.ErrServiceUnavailable.WithMessage("The IoT hub is shutting down.")
	}
	return fmt.Errorf("direct method call abandoned: %w", context.Cause(ctx))
}

// timeoutInfo is the info object real hubs put in these errors, the
// timeout as a .NET TimeSpan: {"timeout":"00:00:30"} (Azure/iotedge#98,
// Azure/azure-iot-arduino-protocol-mqtt#15).
func timeoutInfo(d time.Duration) json.RawMessage {
	s := int64(d / time.Second)
	return json.RawMessage(fmt.Sprintf(`{"timeout":"%02d:%02d:%02d"}`, s/3600, s/60%60, s%60))
}

// open registers a call to id under a new request id.
func (m *methods) open(id identity) (rid string, answer <-chan methodAnswer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastRID++
	rid = strconv.FormatUint(m.lastRID, 10)
	ch := make(chan methodAnswer, 1)
	m.waiting[methodKey{id, rid}] = ch
	return rid, ch
}

// forget drops a call that has ended, answered or not, so a late answer
// finds nothing to complete.
func (m *methods) forget(id identity, rid string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.waiting, methodKey{id, rid})
}

// answer completes the call id has been sent under rid, and reports
// whether one was waiting: an answer that comes late, for a request id the
// hub never gave, a second time, or from another identity than the one
// called is dropped.
func (m *methods) answer(id identity, rid string, a methodAnswer) bool {
	m.mu.Lock()
	ch, ok := m.waiting[methodKey{id, rid}]
	delete(m.waiting, methodKey{id, rid})
	m.mu.Unlock()
	if ok {
		ch <- a // buffered for one, and removed above: never blocks
	}
	return ok
}

// pending is how many calls wait for an answer.
func (m *methods) pending() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.waiting)
}

// resultJSON is the service's answer, {"status": ..., "payload": ...},
// with the identity's payload as it sent it (null for an empty body).
func (a methodAnswer) resultJSON() ([]byte, error) {
	payload := a.payload
	if payload == nil {
		payload = json.RawMessage("null")
	}
	return marshalJSON(struct {
		Status  int             `json:"status"`
		Payload json.RawMessage `json:"payload"`
	}{a.status, payload})
}
