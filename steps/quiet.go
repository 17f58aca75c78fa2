package steps

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/hub/device"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// A negative check ("receives nothing within N seconds") watches sources:
// places where anything arriving fails it. On a live hub only time can
// prove that nothing will come, so the check watches for its whole window.
// On a target with a harness.DeliveryBarrier it proves it at once, for
// every source:
//
//  1. the barrier returns once every push caused by a change made before
//     it has been written to the identity's live connection or dropped,
//     and then writes a marker PUBLISH to that connection;
//  2. the client's MQTT library hands the connection's messages to the
//     client in the order they came (paho does, OrderMatters), so once the
//     source's connection has handled the marker (connTap), everything
//     written before it has been handled too;
//  3. what the client handled but has not handed to the check yet (patches
//     in the client's queue, messages in a buffered channel) is what held
//     reports: anything there means the proof is void.
//
// If any part fails (no marker: the connection the hub holds is not the
// one watched; the barrier does not pass; something is held), the check
// falls back to its window, so it is never weaker than the window.

// source is one place a negative check watches.
type source struct {
	who ident
	// ch is the receive side of a channel; a value (or its closing) on
	// it fails the check.
	ch reflect.Value
	// held reports whether the source took in something ch has not handed
	// over yet.
	held func() bool
	// tap sees the messages of the connection behind ch; nil: it cannot
	// take part in a proof, and the check waits out its window.
	tap *connTap
	// arrived says what came: v, or ch closed when !open.
	arrived func(v reflect.Value, open bool) string
}

// expectNothing fails with fail(who, what came) at the first arrival on any
// source within window, and passes once the window has passed or the
// target has proved that nothing more can arrive.
func (w *world) expectNothing(ctx context.Context, window time.Duration, sources []source, fail func(who ident, what string) error) error {
	dctx, cancel := context.WithTimeout(ctx, window)
	defer cancel()
	proven := make(chan bool, 1)
	if proofs, ok := w.proofs(sources); ok {
		done := make(chan struct{})
		go func() { defer close(done); proven <- proveQuiet(dctx, proofs) }()
		defer func() { cancel(); <-done }() // the proof touches nothing once the step is over
	}
	cases := []reflect.SelectCase{
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(dctx.Done())},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(proven)},
	}
	for _, s := range sources {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: s.ch})
	}
	for {
		chosen, v, open := reflect.Select(cases)
		switch {
		case chosen == 0:
			return nil
		case chosen == 1 && v.Bool() && !anyHeld(sources):
			return nil
		case chosen == 1: // no proof: the window decides
			cases[1].Chan = reflect.ValueOf((chan bool)(nil))
		default:
			s := sources[chosen-2]
			return fail(s.who, s.arrived(v, open))
		}
	}
}

func anyHeld(sources []source) bool {
	for _, s := range sources {
		if s.held() {
			return true
		}
	}
	return false
}

// proof is one connection to run the delivery barrier for.
type proof struct {
	barrier            harness.DeliveryBarrier
	deviceID, moduleID string
	tap                *connTap
}

// proofs are the barriers that would prove the sources quiet, one per
// connection; false when the target has no barrier or a source cannot
// take part.
func (w *world) proofs(sources []source) ([]proof, bool) {
	barrier, ok := w.target.(harness.DeliveryBarrier)
	if !ok || len(sources) == 0 {
		return nil, false
	}
	var proofs []proof
	seen := map[*connTap]bool{}
	for _, s := range sources {
		d, m, err := w.ids(s.who)
		if s.tap == nil || err != nil {
			return nil, false
		}
		if !seen[s.tap] {
			seen[s.tap] = true
			proofs = append(proofs, proof{barrier, d, m, s.tap})
		}
	}
	return proofs, true
}

// proveQuiet runs every barrier at once and reports whether each
// connection handled its marker before ctx ended.
func proveQuiet(ctx context.Context, proofs []proof) bool {
	results := make(chan bool, len(proofs))
	for _, p := range proofs {
		go func() { results <- p.marked(ctx) }()
	}
	proven := true
	for range proofs {
		proven = <-results && proven
	}
	return proven
}

// marked runs the barrier with a fresh marker and waits until the tap's
// connection has handled it.
func (p proof) marked(ctx context.Context) bool {
	token := newMarkerToken()
	seen, forget := p.tap.expect(token)
	defer forget()
	if marked, err := p.barrier.AwaitDeliveries(ctx, p.deviceID, p.moduleID, token); !marked || err != nil {
		return false
	}
	select {
	case <-seen:
		return true
	case <-ctx.Done():
		return false
	}
}

func newMarkerToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// connTap sees, in order, the messages one MQTT client handles, and picks
// out the delivery barrier's markers among them; for a twin client it also
// counts the connections the client has made (see renewed).
type connTap struct {
	mu    sync.Mutex
	waits map[string]chan struct{}
	// connects counts the connections accepted; connected is closed and
	// replaced at each.
	connects  int
	connected chan struct{}
}

func newConnTap() *connTap {
	return &connTap{waits: map[string]chan struct{}{}, connected: make(chan struct{})}
}

// observe is a twin client's observer: it passes every event on to next
// and notes the messages and accepted connections among them.
func (t *connTap) observe(next func(device.Event)) func(device.Event) {
	return func(e device.Event) {
		next(e)
		switch {
		case e.Kind == device.EventReceived:
			t.note(e.Topic)
		case e.Kind == device.EventConnect && strings.HasPrefix(e.Detail, "CONNACK 0 "):
			t.mu.Lock()
			t.connects++
			close(t.connected)
			t.connected = make(chan struct{})
			t.mu.Unlock()
		}
	}
}

// awaitConnects waits until the client has had n connections accepted.
func (t *connTap) awaitConnects(ctx context.Context, n int) error {
	for {
		t.mu.Lock()
		got, changed := t.connects, t.connected
		t.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// expect returns a channel closed once the connection handles the marker
// of token, and a function that stops expecting it.
func (t *connTap) expect(token string) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	t.mu.Lock()
	t.waits[token] = ch
	t.mu.Unlock()
	return ch, func() {
		t.mu.Lock()
		delete(t.waits, token)
		t.mu.Unlock()
	}
}

// note is called with the topic of every PUBLISH the connection handles,
// in order; it reports whether the topic is a marker's.
func (t *connTap) note(topic string) bool {
	token, ok := strings.CutPrefix(topic, harness.DeliveryMarkerPrefix)
	if !ok {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if ch := t.waits[token]; ch != nil {
		close(ch)
		delete(t.waits, token)
	}
	return true
}

// patchSource watches the desired patches of a twin client.
func (w *world) patchSource(i ident, c *device.Client) source {
	return source{
		who: i, ch: reflect.ValueOf(c.DesiredPatches()), tap: w.state(i).taps[c],
		held: func() bool { return c.PendingPatches() > 0 },
		arrived: func(v reflect.Value, open bool) string {
			if !open {
				return "its connection closed"
			}
			p := v.Interface().(device.DesiredPatch)
			return fmt.Sprintf("a desired patch %v ($version %d)", p.Properties, p.Version)
		},
	}
}

// source watches what reaches a bare connection.
func (b *bareConn) source(i ident) source {
	return source{
		who: i, ch: reflect.ValueOf(b.msgs), tap: b.tap,
		held: func() bool { return len(b.msgs) > 0 },
		arrived: func(v reflect.Value, _ bool) string {
			m := v.Interface().(paho.Message)
			return fmt.Sprintf("%s on %s", m.Payload(), m.Topic())
		},
	}
}
