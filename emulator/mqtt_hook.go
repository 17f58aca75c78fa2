package emulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/hubspec/hubspec/hub"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// iothubHook owns every IoT Hub rule of the MQTT side: who may connect, what
// they may subscribe and publish to, the twin request/response exchanges and
// the desired-property pushes. mochi-mqtt supplies the protocol codec,
// sessions and acknowledgements.
type iothubHook struct {
	mqtt.HookBase
	broker   *mqtt.Server
	registry *registry
	policies *policies
	hostName string
	now      func() time.Time
	log      *slog.Logger
	faults   *faults

	mu       sync.Mutex
	current  map[identity]*mqtt.Client    // the live connection of each identity
	expiries map[*mqtt.Client]*time.Timer // closes a connection when its token expires
	writers  map[*mqtt.Client]*eventQueue // each connection's desired pushes, in order
	connects map[identity]int             // accepted CONNECTs per identity, for AwaitConnections
	changed  chan struct{}                // closed and replaced whenever connects changes
}

func (h *iothubHook) ID() string { return "iothub" }

func (h *iothubHook) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnSessionEstablish, mqtt.OnSessionEstablished,
		mqtt.OnDisconnect, mqtt.OnPacketRead, mqtt.OnSubscribe, mqtt.OnPublish, mqtt.OnPublished,
	}, []byte{b})
}

// OnConnect authenticates the CONNECT and answers refusals itself, because
// the hub distinguishes "not authorized" (5) from a disabled device (3) and
// mochi's own refusal path knows only the first (protocol.md §2.5, §4.3).
func (h *iothubHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	var code packets.Code
	err := h.authenticate(cl, pk)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errUnsupportedProtocol):
		code = packets.ErrUnsupportedProtocolVersion
	case errors.Is(err, errIdentityDisabled):
		code = packets.ErrServerUnavailable
	default:
		code = packets.ErrBadUsernameOrPassword // CONNACK 5 on MQTT 3.1.1
	}
	h.log.Info("mqtt connect refused", "client", cl.ID, "remote", cl.Net.Remote, "reason", err)
	// A 3.1.1 server answers every refusal, including of an MQTT 5 CONNECT,
	// with a 3.1.1 CONNACK (return code 1 for an unsupported protocol level).
	cl.Properties.ProtocolVersion = 4
	_ = h.broker.SendConnack(cl, code, false, nil)
	return code
}

var (
	errUnsupportedProtocol = errors.New("IoT Hub speaks MQTT 3.1.1 only")
	errTokenExpired        = errors.New("sas token expired")
	errSlowConsumer        = errors.New("too many desired pushes waiting: the client does not read")
	errIdentityGone        = errors.New("the identity was deleted or disabled")
)

// maxPendingPushes bounds the desired pushes waiting for one connection's
// socket; past it the client is cut off rather than let memory grow.
const maxPendingPushes = 1000

func (h *iothubHook) authenticate(cl *mqtt.Client, pk packets.Packet) error {
	if pk.ProtocolVersion != 4 {
		return errUnsupportedProtocol
	}
	u, err := parseUsername(string(pk.Connect.Username))
	if err != nil {
		return err
	}
	if !sameHost(u.host, h.hostName) {
		return fmt.Errorf("username host %q is not this hub (%s)", u.host, h.hostName)
	}
	if pk.Connect.ClientIdentifier != u.id.clientID() {
		return fmt.Errorf("client id %q does not match username identity %q", pk.Connect.ClientIdentifier, u.id)
	}
	if err := h.registry.authenticateIdentity(h.policies, h.hostName, u.id.deviceID, u.id.moduleID, string(pk.Connect.Password), h.now()); err != nil {
		return err
	}
	return h.refusedByFault(u.id)
}

// OnConnectAuthenticate accepts: OnConnect has already refused what it must.
func (h *iothubHook) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

// OnACLCheck allows what OnSubscribe and OnPublish have let through; those
// two enforce the identity's topics and close the connection on a breach.
func (h *iothubHook) OnACLCheck(*mqtt.Client, string, bool) bool { return true }

// OnSessionEstablish records the live connection and arms its expiry. It
// runs before the CONNACK leaves (OnSessionEstablished runs after it), so a
// push made the moment the client sees its CONNACK already finds the
// connection, with the persistent session's subscriptions inherited by then.
// The hub severs a connection when its token expires (DOC-SAS), after the
// same 5-minute skew it allows at CONNECT.
func (h *iothubHook) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	id := identityOf(cl.ID)
	var expiry *time.Timer
	if t, err := parseToken(string(pk.Connect.Password)); err == nil {
		left := time.Unix(t.expiry+sasClockSkew, 0).Sub(h.now())
		expiry = time.AfterFunc(left, func() {
			h.log.Info("mqtt closing connection: sas token expired", "client", cl.ID)
			cl.Stop(errTokenExpired)
			h.mu.Lock()
			delete(h.expiries, cl)
			h.mu.Unlock()
		})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if expiry != nil {
		h.expiries[cl] = expiry
	}
	h.writers[cl] = newEventQueue()
	h.current[id] = cl
}

// OnSessionEstablished counts the accepted connection and marks the
// identity connected, once the CONNACK has gone out.
func (h *iothubHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	id := identityOf(cl.ID)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.connects[id]++
	close(h.changed)
	h.changed = make(chan struct{})
	// Under h.mu, so a late disconnect of an older connection cannot mark
	// the identity Disconnected after this one marked it Connected. Lock
	// order h.mu then the registry's: the registry never calls the hook
	// while holding its lock (its events go through the event queue).
	if h.current[id] == cl {
		h.registry.setConnected(id.deviceID, id.moduleID, true)
	}
}

// OnDisconnect marks the identity disconnected unless a newer connection of
// the same identity has already taken its place.
func (h *iothubHook) OnDisconnect(cl *mqtt.Client, err error, _ bool) {
	id := identityOf(cl.ID)
	h.mu.Lock()
	defer h.mu.Unlock()
	if t := h.expiries[cl]; t != nil {
		t.Stop()
		delete(h.expiries, cl)
	}
	if w := h.writers[cl]; w != nil {
		delete(h.writers, cl)
		go w.close() // its writes fail fast now that the socket is closed
	}
	if h.current[id] == cl {
		delete(h.current, id)
		h.registry.setConnected(id.deviceID, id.moduleID, false)
	}
	h.log.Debug("mqtt disconnected", "client", cl.ID, "error", err)
}

// OnPacketRead closes the connection on a QoS 2 PUBLISH, before mochi would
// quietly downgrade it (IoT Hub does not support QoS 2, protocol.md §4.1),
// and on a PUBLISH to a topic outside the identity's own.
func (h *iothubHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type != packets.Publish {
		return pk, nil
	}
	var reason error
	if pk.FixedHeader.Qos == 2 {
		reason = packets.ErrQosNotSupported
	} else if _, err := parseRequestTopic(pk.TopicName, identityOf(cl.ID)); err != nil {
		// Checked here too because mochi silently drops, without PUBACK or
		// disconnect, a topic it finds invalid ('+', '#', $SYS) before
		// OnPublish would see it.
		reason = err
	}
	if reason == nil {
		return pk, nil
	}
	h.log.Info("mqtt closing connection", "client", cl.ID, "topic", pk.TopicName, "reason", reason)
	// mochi ignores any error from this hook but ErrRejectPacket.
	cl.Stop(reason)
	return pk, packets.ErrRejectPacket
}

// OnSubscribe lets through only the documented filters of the client's own
// identity; on any other the hub disconnects (protocol.md §4.1).
func (h *iothubHook) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	id := identityOf(cl.ID)
	allowed := pk.Filters[:0:0]
	for _, f := range pk.Filters {
		if subscriptionAllowed(f.Filter, id) {
			allowed = append(allowed, f)
			continue
		}
		h.log.Info("mqtt closing connection: subscription not allowed", "client", cl.ID, "filter", f.Filter)
		cl.Stop(packets.ErrNotAuthorized)
	}
	pk.Filters = allowed
	return pk
}

// OnPublish vets the topic: an allowed request is acknowledged but never
// routed to other clients (CodeSuccessIgnore); anything else closes the
// connection. The request itself is answered in OnPublished, after the
// PUBACK, as the hub does.
func (h *iothubHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if _, err := parseRequestTopic(pk.TopicName, identityOf(cl.ID)); err != nil {
		h.log.Info("mqtt closing connection", "client", cl.ID, "reason", err)
		cl.Stop(err)
		return pk, packets.ErrRejectPacket
	}
	return pk, packets.CodeSuccessIgnore
}

func (h *iothubHook) OnPublished(cl *mqtt.Client, pk packets.Packet) {
	id := identityOf(cl.ID)
	req, err := parseRequestTopic(pk.TopicName, id)
	if err != nil {
		return
	}
	if (req.kind == reqTwinGet || req.kind == reqTwinPatchReported) && h.throttledByFault(id) {
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
	case reqTelemetry:
		// Acknowledged and not routed (the emulator models no routing);
		// only a fault-injection request among them has an effect.
		h.injectFault(cl, id, pk.TopicName)
	case reqMethodResponse:
		// Acknowledged; direct methods are not emulated yet.
	}
}

// respond answers a twin request on $iothub/twin/res/{status}/?$rid={rid},
// to this connection only. Errors carry the hub's {errorCode, message, ...}
// body (protocol.md §4.5).
func (h *iothubHook) respond(cl *mqtt.Client, rid string, status int, body []byte, extra string, err error) {
	topic := ""
	if err != nil {
		e, ok := hub.AsError(err)
		if !ok {
			e = hub.ErrServerError.WithMessage("%v", err)
		}
		status, extra = e.StatusCode, ""
		body = hub.ErrorDetailJSON(e, newTrackingID(), h.now().UTC().Format(time.RFC3339Nano))
	}
	topic = "$iothub/twin/res/" + strconv.Itoa(status) + "/?$rid=" + rid + extra
	if !deliver(cl, topic, body) {
		h.log.Debug("mqtt response dropped: no matching subscription", "client", cl.ID, "topic", topic)
	}
}

// pushDesired hands a desired-properties patch to the identity's live
// connection, if any; the hub queues nothing for disconnected clients
// (protocol.md §3.10). The write happens on the connection's own writer, so
// a client that stops reading holds up only its own pushes; one that lets
// maxPendingPushes pile up is disconnected as a slow consumer.
func (h *iothubHook) pushDesired(deviceID, moduleID string, patch []byte, version int64) {
	id := identity{deviceID: deviceID, moduleID: moduleID}
	h.mu.Lock()
	cl := h.current[id]
	w := h.writers[cl]
	h.mu.Unlock()
	// The drop is taken first: DropDesiredPushes counts desired changes,
	// connected or not, since notifications go out asynchronously and a
	// test cannot know whether a connection was up when one went.
	if h.faults.takeDesiredDrop() || cl == nil || w == nil {
		return
	}
	topic := "$iothub/twin/PATCH/properties/desired/?$version=" + strconv.FormatInt(version, 10)
	if w.push(func() { deliver(cl, topic, patch) }) > maxPendingPushes {
		h.log.Warn("mqtt closing connection: slow consumer", "client", cl.ID, "pending", maxPendingPushes)
		cl.Stop(errSlowConsumer)
	}
}

// dropIdentity closes the connection of a deleted or disabled identity and
// forgets its persistent session, so a new identity of the same name starts
// clean.
func (h *iothubHook) dropIdentity(deviceID, moduleID string) {
	id := identity{deviceID: deviceID, moduleID: moduleID}
	if cl, ok := h.broker.Clients.Get(id.clientID()); ok {
		cl.Stop(errIdentityGone) // closes the socket; never waits on a write
		h.broker.UnsubscribeClient(cl)
		cl.ClearInflights()
		h.broker.Clients.Delete(id.clientID())
	}
}

// awaitConnections blocks until the identity has had at least n accepted
// connections since the emulator started, or ctx ends.
func (h *iothubHook) awaitConnections(ctx context.Context, id identity, n int) error {
	for {
		h.mu.Lock()
		got, changed := h.connects[id], h.changed
		h.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("await %d connections of %s (have %d): %w", n, id, got, ctx.Err())
		}
	}
}
