package emulator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// connections is the one record of who is connected over MQTT: each
// identity's live connection, each connection's outbox, and how many
// connections each identity has had accepted. It is the mochi hook for the
// events that change that record, and for subscriptions, which waiters on
// an identity's readiness watch. Whatever must reach a connected identity
// (twin answers, desired pushes and direct method calls; cloud-to-device
// messages next) goes through deliver, deliverRequest or reply, and every
// close forced from outside the connection (fault injection, the
// DropConnection control, a deleted identity) through drop, dropIfCurrent
// or forget.
//
// Each connection's outbox is its own writer (an eventQueue, whose goroutine
// runs only while something waits), so a client that stops reading delays
// only itself, and what it is sent leaves in the order it was queued.
type connections struct {
	mqtt.HookBase
	broker *mqtt.Server
	log    *slog.Logger
	// presence records an identity's connection state in the registry. It
	// is called with c.mu held, so a late disconnect of an older connection
	// cannot mark the identity Disconnected after a newer one marked it
	// Connected; it must not call back into connections.
	presence func(id identity, connected bool)
	// registrySettled returns once the registry's events queued before the
	// call have run (the server's event queue), or fails once that queue is
	// closed; OnConnect waits on it.
	registrySettled func() error
	// sessionEpoch is an identity's session epoch in the registry
	// (identityState), and whether the identity exists.
	sessionEpoch func(identity) (uint64, bool)

	mu       sync.Mutex
	live     map[identity]*mqtt.Client    // the live connection of each identity
	outboxes map[*mqtt.Client]*eventQueue // each live connection's writer
	accepted map[identity]int             // accepted CONNECTs per identity
	// epochs are the session epochs each connection's CONNECT was
	// authenticated against (admit), from authentication until it ends.
	epochs map[*mqtt.Client]uint64
	// changed is closed and replaced whenever accepted changes, a
	// connection subscribes or a connection ends, so waiters re-check what
	// they wait for.
	changed chan struct{}
}

var (
	// errNotConnected: the identity has no live connection, or the
	// connection a reply was for has gone. The hub queues nothing for
	// disconnected clients (Microsoft's device twin doc, "Device
	// reconnection flow"; the fidelity table's "Desired changes while
	// disconnected" row).
	errNotConnected = errors.New("not connected")
	// errUndelivered: the connection matched none of its subscriptions
	// against the topic, or closed before the write.
	errUndelivered = errors.New("not delivered: no matching subscription, or the connection closed")
	// errNotSubscribed: the identity's live connection holds no
	// subscription matching the topic, so the request would be dropped.
	errNotSubscribed = errors.New("not subscribed")
	errSlowConsumer  = errors.New("too many messages waiting: the client does not read")
	errIdentityGone  = errors.New("the identity was deleted or disabled")
)

// maxPendingPushes bounds what waits in one connection's outbox; past it the
// client is cut off rather than let memory grow.
const maxPendingPushes = 1000

func newConnections(broker *mqtt.Server, log *slog.Logger, presence func(identity, bool), registrySettled func() error, sessionEpoch func(identity) (uint64, bool)) *connections {
	return &connections{
		broker: broker, log: log, presence: presence, registrySettled: registrySettled, sessionEpoch: sessionEpoch,
		live:     map[identity]*mqtt.Client{},
		outboxes: map[*mqtt.Client]*eventQueue{},
		accepted: map[identity]int{},
		epochs:   map[*mqtt.Client]uint64{},
		changed:  make(chan struct{}),
	}
}

func (c *connections) ID() string { return "iothub-connections" }

func (c *connections) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnect, mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnSubscribed, mqtt.OnDisconnect:
		return true
	}
	return false
}

// OnConnect holds a CONNECT the auth hook accepted until the registry's
// events queued before it have run, among them the clean-up (forget) of an
// identity deleted or disabled before the CONNECT arrived. Without the
// hold, a module deleted and created again, and connected at once, could
// reach mochi's session take-over while the deleted module's session is
// still in mochi's client list, and inherit its subscriptions and the QoS 1
// messages it had in flight (CONNACK with SessionPresent); and the late
// clean-up would then close the new connection. The hold is short: the
// registry's events never wait on a client (they queue writes on outboxes);
// and when no event waits, as when no registry write is in progress, it
// costs one lock taken and released. mochi runs it before
// OnSessionEstablish, so the connection is in no map yet; once the queue
// is closed (the emulator is stopping) the CONNECT is refused.
func (c *connections) OnConnect(*mqtt.Client, packets.Packet) error {
	return c.registrySettled()
}

// OnSessionEstablish records the live connection and opens its outbox. It
// runs before the CONNACK leaves (OnSessionEstablished runs after it), so a
// push made the moment the client sees its CONNACK already finds the
// connection, with the persistent session's subscriptions inherited by then.
func (c *connections) OnSessionEstablish(cl *mqtt.Client, _ packets.Packet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.outboxes[cl] = newEventQueue()
	id := identityOf(cl.ID)
	c.live[id] = cl
	// Connected before the CONNACK leaves: the registry decides, when a
	// desired property changes, whether to push it by this state, and a
	// client may change its twin through REST the moment it has its
	// CONNACK.
	c.presence(id, true)
}

// admit records the session epoch cl's CONNECT was authenticated against
// (the auth hook's OnConnect).
func (c *connections) admit(cl *mqtt.Client, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epochs[cl] = epoch
}

// OnSessionEstablished counts the accepted connection, once the CONNACK
// has gone out, unless its identity was deleted or disabled since its
// CONNECT was authenticated: then it ends it, and the session it holds.
//
// This is the first hook mochi runs once the connection is in its client
// list, and the check closes the race OnConnect's wait leaves: a CONNECT
// that passed the wait just before a delete, and reached the client list
// only after the delete's clean-up (forget) had looked there, inheriting
// the deleted identity's session on the way. The delete renews the
// identity's epoch under the registry lock, before its clean-up is queued:
// either this check reads the renewed epoch and ends the connection, or it
// reads the old one, and then the clean-up, which runs later, finds the
// connection in the client list. mochi sends the CONNACK before this hook
// runs, so such a connection is accepted and closed at once, as a
// connection the hub accepted just before the delete would be.
func (c *connections) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	id := identityOf(cl.ID)
	epoch, exists := c.sessionEpoch(id)
	c.mu.Lock()
	current := exists && c.epochs[cl] == epoch
	if current {
		c.accepted[id]++ // not for a deleted identity, whose count is gone
		c.signal()
	}
	c.mu.Unlock()
	if !current {
		c.log.Info("mqtt closing connection: identity gone", "client", cl.ID)
		c.endSession(cl)
	}
}

// OnSubscribed wakes those waiting for an identity to subscribe
// (deliverWhenSubscribed). mochi calls it once the filters are in the
// connection's state, just before the SUBACK is written.
func (c *connections) OnSubscribed(*mqtt.Client, packets.Packet, []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.signal()
}

// signal wakes every waiter on changed. c.mu is held.
func (c *connections) signal() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// OnDisconnect closes the connection's outbox and marks the identity
// disconnected, unless a newer connection of the identity has already taken
// its place.
func (c *connections) OnDisconnect(cl *mqtt.Client, err error, _ bool) {
	id := identityOf(cl.ID)
	c.mu.Lock()
	defer c.mu.Unlock()
	if out := c.outboxes[cl]; out != nil {
		delete(c.outboxes, cl)
		go out.close() // its writes fail fast now that the socket is closed
	}
	delete(c.epochs, cl)
	if c.live[id] == cl {
		delete(c.live, id)
		c.presence(id, false)
	}
	c.signal()
	c.log.Debug("mqtt disconnected", "client", cl.ID, "error", err)
}

// current is id's live connection and its outbox, or nils.
func (c *connections) current(id identity) (*mqtt.Client, *eventQueue) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl := c.live[id]
	return cl, c.outboxes[cl]
}

// deliver queues a PUBLISH of topic for id's live connection and returns
// without waiting for the write: errNotConnected when id has none. A
// connection that lets more than maxPendingPushes pile up is closed as a
// slow consumer (errSlowConsumer). The write itself sends only if the
// connection holds a matching subscription (publishTo).
func (c *connections) deliver(id identity, topic string, payload []byte) error {
	cl, out := c.current(id)
	if cl == nil || out == nil {
		return fmt.Errorf("%s: %w", id, errNotConnected)
	}
	return c.queue(id, cl, out, func() { publishTo(cl, topic, payload, 1) })
}

// deliverRequest queues a hub-to-device request (a direct method call) for
// id's live connection, at QoS 0 as IoT Hub sends method requests
// (Microsoft's direct methods doc): errNotConnected when id has no live
// connection, errNotSubscribed when that connection holds no subscription
// matching topic. The hub counts either as the identity not being online
// (the fidelity table's direct methods rows). sending is called just
// before the request is queued, so that what the caller starts then (the
// call's response timeout) has started before the device can see it.
func (c *connections) deliverRequest(id identity, topic string, payload []byte, sending func()) error {
	cl, out := c.current(id)
	if cl == nil || out == nil || cl.Closed() {
		return fmt.Errorf("%s: %w", id, errNotConnected)
	}
	if _, ok := subscribedQoS(cl, topic); !ok {
		return fmt.Errorf("%s: %w", id, errNotSubscribed)
	}
	sending()
	return c.queue(id, cl, out, func() { publishTo(cl, topic, payload, 0) })
}

// deliverWhenSubscribed is deliverRequest, retried whenever an identity
// connects or a connection subscribes, until it succeeds or ctx ends: the
// hub waits up to a direct method's connectTimeoutInSeconds for the device
// to come online. It returns deliverRequest's last error when ctx ends.
func (c *connections) deliverWhenSubscribed(ctx context.Context, id identity, topic string, payload []byte, sending func()) error {
	for {
		c.mu.Lock()
		changed := c.changed // taken before trying, so no wake-up is missed
		c.mu.Unlock()
		err := c.deliverRequest(id, topic, payload, sending)
		if !errors.Is(err, errNotConnected) && !errors.Is(err, errNotSubscribed) {
			return err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return err
		}
	}
}

// queue pushes a write to cl's outbox, closing cl as a slow consumer when
// too much waits there.
func (c *connections) queue(id identity, cl *mqtt.Client, out *eventQueue, write func()) error {
	waiting, queued := out.push(write)
	if !queued {
		return fmt.Errorf("%s: %w", id, errNotConnected)
	}
	if waiting > maxPendingPushes {
		c.log.Warn("mqtt closing connection: slow consumer", "client", cl.ID, "pending", maxPendingPushes)
		cl.Stop(errSlowConsumer)
		return fmt.Errorf("%s: %w", id, errSlowConsumer)
	}
	return nil
}

// reply sends an answer to cl, the connection that asked, never to one
// that replaced it, and returns once it was written: queued behind what cl's
// outbox already holds (written at once, on cl's read path, when it holds
// nothing), but holding cl's own read path meanwhile, so a client that
// stops reading stops being read (and delays no one else).
// errNotConnected when cl's outbox is gone, errUndelivered when the write
// did not happen.
func (c *connections) reply(cl *mqtt.Client, topic string, payload []byte) error {
	c.mu.Lock()
	out := c.outboxes[cl]
	c.mu.Unlock()
	if out == nil {
		return fmt.Errorf("%s: %w", cl.ID, errNotConnected)
	}
	sent := make(chan bool, 1)
	if queued := out.runOrPush(func() { sent <- publishTo(cl, topic, payload, 1) }); !queued {
		return fmt.Errorf("%s: %w", cl.ID, errNotConnected)
	}
	if !<-sent {
		return fmt.Errorf("%s: %w", cl.ID, errUndelivered)
	}
	return nil
}

// drop closes id's live connection, as a network failure would; the
// persistent session stays. It reports whether there was one.
func (c *connections) drop(id identity, why error) bool {
	cl, _ := c.current(id)
	if cl == nil {
		return false
	}
	cl.Stop(why)
	return true
}

// dropIfCurrent closes cl if it is still its identity's live connection,
// and reports whether it did.
func (c *connections) dropIfCurrent(cl *mqtt.Client, why error) bool {
	if live, _ := c.current(identityOf(cl.ID)); live != cl || cl.Closed() {
		return false
	}
	cl.Stop(why)
	return true
}

// forget closes the connection of a deleted or disabled identity and
// forgets its persistent session, so a new identity of the same name starts
// clean. It leaves alone a connection authenticated against the identity's
// current epoch, made after the change it cleans up after: a CONNECT waits
// for the clean-ups queued before it (OnConnect), so none should be there,
// but a late clean-up must never end what it was not for.
func (c *connections) forget(id identity) {
	cl, ok := c.broker.Clients.Get(id.clientID())
	if !ok {
		return
	}
	if epoch, exists := c.sessionEpoch(id); exists {
		c.mu.Lock()
		authenticated, live := c.epochs[cl]
		c.mu.Unlock()
		if live && authenticated == epoch {
			return
		}
	}
	c.endSession(cl)
}

// endSession forgets cl's persistent session (its subscriptions, its
// messages in flight, its place in mochi's client list unless a newer
// connection took it) and then closes cl, so that nothing is left for a
// take-over to inherit once the client sees the close.
func (c *connections) endSession(cl *mqtt.Client) {
	c.broker.UnsubscribeClient(cl)
	cl.ClearInflights()
	if kept, ok := c.broker.Clients.Get(cl.ID); ok && kept == cl {
		c.broker.Clients.Delete(cl.ID)
	}
	cl.Stop(errIdentityGone) // closes the socket; never waits on a write
}

// forgetCount drops a deleted identity's count of accepted connections, so
// what the registry holds shrinks when identities go; a new identity of the
// same name counts from zero.
func (c *connections) forgetCount(id identity) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.accepted, id)
}

// awaitConnections blocks until the identity has had at least n accepted
// connections since the emulator started (since it was created, if deleted
// and created again), or ctx ends.
func (c *connections) awaitConnections(ctx context.Context, id identity, n int) error {
	for {
		c.mu.Lock()
		got, changed := c.accepted[id], c.changed
		c.mu.Unlock()
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

// connectionCount is how many MQTT connections of id the hub has accepted.
func (c *connections) connectionCount(id identity) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.accepted[id]
}
