package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/steps/internal/vocab"

	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/internal/mqtttest"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// bareVocabulary speak MQTT to the hub without the twin client
// (mqtttest.DialRaw): what the SDKs never send (QoS 2, foreign topics), a
// second connection of one identity, and subscriptions the twin client
// always holds.
var bareVocabulary = []vocab.Def{
	step(mqtt, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) opens (?:a|another) bare MQTT connection$`, openBare,
		"The device or module opens an MQTT connection of its own with no twin client on it: no subscriptions, no reconnects."),
	step(mqtt, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) (subscribes to|unsubscribes from) (twin responses|desired property changes|direct method calls|every topic|another device's messages)$`, subscribeBare,
		"The device or module subscribes to, or unsubscribes from, a topic filter on its latest bare connection; a filter the hub does not allow closes the connection, which a later step checks."),
	step(mqtt, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) publishes (.+) on (the reported properties topic|its telemetry topic|another device's telemetry topic|an unknown topic)(?: with (QoS 0|QoS 1|QoS 2|the retain flag))?$`, publishBare,
		"The device or module publishes a payload on a topic named in business terms on its latest bare connection (QoS 1 unless asked otherwise).",
		"", "", "<payload> the message's bytes exactly as written: JSON, or any text"),
	step(mqtt, `^the hub closes the (first|latest) bare connection of (device|module) ("[^"]+"(?: on device "[^"]+")?)$`, bareClosed,
		"Waits for the hub to close the identity's first or latest bare connection."),
	step(mqtt, `^the (first|latest) bare connection of (device|module) ("[^"]+"(?: on device "[^"]+")?) stays open$`, bareOpen,
		"Checks that the hub kept the bare connection open after everything sent on it, with a subscribe and its answer."),
	step(mqtt, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) gets the answer (\d{3})(?: with version (\d+))? on its bare connection$`, bareAnswer,
		"Waits for the next twin response on the latest bare connection and checks its status and, if given, its $version.",
		"", "", "", "<version> the $version the answer carries"),
}

// bareConn is a bare connection and what arrived on it.
type bareConn struct {
	pc       paho.Client
	msgs     chan paho.Message
	lost     chan struct{} // closed when the hub closes the connection
	lostOnce sync.Once
	tap      *connTap // picks out the delivery barrier's markers (quiet.go)
}

func openBare(ctx context.Context, kind, alias string) error {
	w := worldFrom(ctx)
	i, err := w.who(kind, alias)
	if err != nil {
		return err
	}
	cs, err := w.connectionString(i, "")
	if err != nil {
		return err
	}
	b := &bareConn{msgs: make(chan paho.Message, 100), lost: make(chan struct{}), tap: newConnTap()}
	onLost := func(error) { b.lostOnce.Do(func() { close(b.lost) }) }
	// Retried like connect: a live hub may not know a new identity yet.
	var dialErr error
	err = Eventually(ctx, waitFor, func(ctx context.Context) error {
		// What the session delivers before a SUBSCRIBE reaches msgs too.
		b.pc, dialErr = mqtttest.DialRaw(ctx, cs, onLost, append(w.dialOptions(i), mqtttest.WithOnMessage(b.receive))...)
		var refused *device.ConnectRefusedError
		if errors.As(dialErr, &refused) {
			return dialErr
		}
		return nil
	})
	if err = errors.Join(err, dialErr); err != nil {
		return err
	}
	s := w.state(i)
	s.bare = append(s.bare, b)
	return nil
}

// receive keeps a message for the checks that read msgs; a delivery
// barrier's marker only tells the tap it was handled.
func (b *bareConn) receive(m paho.Message) {
	if b.tap.note(m.Topic()) {
		return
	}
	select {
	case b.msgs <- m:
	default: // a full buffer fails the scenario's next check anyway
	}
}

// bareOf is the identity's first or latest bare connection.
func (w *world) bareOf(i ident, which string) (*bareConn, error) {
	conns := w.state(i).bare
	if len(conns) == 0 {
		return nil, fmt.Errorf("%s has no bare connection", i)
	}
	if which == "first" {
		return conns[0], nil
	}
	return conns[len(conns)-1], nil
}

// await waits for a paho token, the connection's loss, or waitFor.
func (b *bareConn) await(ctx context.Context, tok paho.Token, what string) error {
	dctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-b.lost:
		return fmt.Errorf("%s: the hub closed the connection", what)
	case <-dctx.Done():
		return fmt.Errorf("%s: no answer within %s", what, waitFor)
	}
}

func subscribeBare(ctx context.Context, kind, alias, verb, topics string) error {
	w := worldFrom(ctx)
	i, err := w.who(kind, alias)
	if err != nil {
		return err
	}
	b, err := w.bareOf(i, "latest")
	if err != nil {
		return err
	}
	d, _, err := w.ids(i)
	if err != nil {
		return err
	}
	filter := map[string]string{
		"twin responses":            "$iothub/twin/res/#",
		"desired property changes":  "$iothub/twin/PATCH/properties/desired/#",
		"direct method calls":       "$iothub/methods/POST/#",
		"every topic":               "#",
		"another device's messages": "devices/" + d + "-other/messages/devicebound/#",
	}[topics]
	if verb == "unsubscribes from" {
		return b.awaitOrLoss(ctx, b.pc.Unsubscribe(filter), "unsubscribe "+filter)
	}
	return b.awaitOrLoss(ctx, b.pc.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) { b.receive(m) }), "subscribe "+filter)
}

// awaitOrLoss is await, except that the hub closing the connection is no
// failure: the hub answers a SUBSCRIBE it does not allow that way (SUBACK
// never reports a failure), and a later step checks the connection.
func (b *bareConn) awaitOrLoss(ctx context.Context, tok paho.Token, what string) error {
	err := b.await(ctx, tok, what)
	if err == nil {
		return nil
	}
	// paho may fail the token before it reports the loss: wait for that.
	dctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	select {
	case <-b.lost:
		return nil
	case <-dctx.Done():
		return err
	}
}

// publishBare publishes a payload (JSON as written, or text) on a topic
// named in business terms, and waits for the PUBACK or for the hub to close
// the connection (which a later step checks). A QoS 2 publish is only sent:
// what matters is what the hub then does with the connection.
func publishBare(ctx context.Context, kind, alias, payload, topicName, flag string) error {
	w := worldFrom(ctx)
	i, err := w.who(kind, alias)
	if err != nil {
		return err
	}
	b, err := w.bareOf(i, "latest")
	if err != nil {
		return err
	}
	d, m, err := w.ids(i)
	if err != nil {
		return err
	}
	own := "devices/" + d
	if m != "" {
		own += "/modules/" + m
	}
	topic := map[string]string{
		"the reported properties topic":    "$iothub/twin/PATCH/properties/reported/?$rid=1",
		"its telemetry topic":              own + "/messages/events/",
		"another device's telemetry topic": "devices/" + d + "x/messages/events/",
		"an unknown topic":                 "hubspec/unknown/" + d,
	}[topicName]
	qos := byte(1)
	if q, ok := strings.CutPrefix(flag, "QoS "); ok {
		qos = q[0] - '0'
	}
	tok := b.pc.Publish(topic, qos, flag == "the retain flag", []byte(payload))
	if qos == 2 {
		return nil
	}
	err = b.await(ctx, tok, "publish on "+topicName)
	select {
	case <-b.lost:
		return nil // the hub's answer: a later step checks it
	default:
		return err
	}
}

func bareClosed(ctx context.Context, which, kind, alias string) error {
	w, i, err := whoIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	b, err := w.bareOf(i, which)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	select {
	case <-b.lost:
		return nil
	case <-dctx.Done():
		return fmt.Errorf("the %s bare connection of %s %q: expected the hub to close it within %s, it is still open", which, kind, alias, waitFor)
	}
}

// bareOpen proves the connection still works with a round trip: the hub
// handles one connection's packets in order, so a SUBACK means it kept
// the connection after everything sent before.
func bareOpen(ctx context.Context, which, kind, alias string) error {
	w, i, err := whoIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	b, err := w.bareOf(i, which)
	if err != nil {
		return err
	}
	if err := b.await(ctx, b.pc.Subscribe("$iothub/twin/res/#", 1, nil), "a round trip"); err != nil {
		return fmt.Errorf("the %s bare connection of %s %q: expected it open, got %w", which, kind, alias, err)
	}
	return nil
}

// next is the next message on the connection, within waitFor.
func (b *bareConn) next(ctx context.Context, what string) (paho.Message, error) {
	dctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	select {
	case m := <-b.msgs:
		return m, nil
	case <-dctx.Done():
		return nil, fmt.Errorf("%s: expected a message within %s, got none", what, waitFor)
	}
}

// nextOnLatestBare is the next message on an identity's latest bare
// connection, waited for with the step deadline.
func nextOnLatestBare(ctx context.Context, kind, alias string) (ident, paho.Message, error) {
	w, i, err := whoIn(ctx, kind, alias)
	if err != nil {
		return i, nil, err
	}
	b, err := w.bareOf(i, "latest")
	if err != nil {
		return i, nil, err
	}
	m, err := b.next(ctx, i.String())
	return i, m, err
}

// bareAnswer checks the next twin response: $iothub/twin/res/{status}/?$rid=…[&$version=…].
func bareAnswer(ctx context.Context, kind, alias, status, version string) error {
	i, m, err := nextOnLatestBare(ctx, kind, alias)
	if err != nil {
		return err
	}
	rest, ok := strings.CutPrefix(m.Topic(), "$iothub/twin/res/")
	gotStatus, query, _ := strings.Cut(rest, "/?")
	q, _ := url.ParseQuery(query)
	if !ok || gotStatus != status || version != "" && q.Get("$version") != version {
		return fmt.Errorf("%s: expected the answer %s with version %q, got topic %s", i, status, version, m.Topic())
	}
	return nil
}

func bareDesired(ctx context.Context, kind, alias, key, value string) error {
	i, m, err := nextOnLatestBare(ctx, kind, alias)
	if err != nil {
		return err
	}
	var patch map[string]any
	if !strings.HasPrefix(m.Topic(), "$iothub/twin/PATCH/properties/desired/") || json.Unmarshal(m.Payload(), &patch) != nil {
		return fmt.Errorf("%s: expected a desired patch, got %s on %s", i, m.Payload(), m.Topic())
	}
	return sameValue(fmt.Sprintf("desired patch to %s, %q", i, key), patch[key], value)
}

// publishEventBare publishes a telemetry message with properties props on
// the identity's latest bare connection and waits for its PUBACK, until
// ctx ends. Only the PUBACK counts: the hub may close the connection right
// after it, which a later step checks.
func (w *world) publishEventBare(ctx context.Context, i ident, props map[string]string, what string) error {
	b, err := w.bareOf(i, "latest")
	if err != nil {
		return err
	}
	d, m, err := w.ids(i)
	if err != nil {
		return err
	}
	tok := b.pc.Publish(hub.EventsTopic(d, m, props), 1, false, []byte{})
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return fmt.Errorf("%s: the hub did not acknowledge %s within %s", i, what, waitFor)
	}
}
