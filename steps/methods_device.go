package steps

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/steps/internal/vocab"
)

// methodDeviceVocabulary is the identity's side of direct methods: its
// own client's handlers, and its bare connection, which answers however a
// step says, for the rules the SDKs never break.
var methodDeviceVocabulary = []vocab.Def{
	step(methods, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) answers method "([^"]*)" with status (\d+)(?: and payload (.+))?$`, answersMethod,
		"The identity's app answers every call of the method with this status and payload (none if not given), from now on.",
		"", "", methodNameDoc, "<status> the status it answers with"),
	step(methods, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) does not answer method "([^"]*)"$`, ignoresMethod,
		"The identity's app takes calls of the method and never answers them.",
		"", "", methodNameDoc),
	step(methods, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) received method "([^"]*)"(?: with (no payload)| with a payload of (\d+) bytes| with payload (.+))?$`, receivedMethod,
		"Waits for the identity's app to have been called with the method and checks the payload of its last call, if one is given.",
		"", "", methodNameDoc, "", "<N> the payload's size in bytes"),
	step(methods, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) received no method call$`, receivedNoMethod,
		"Checks that no call reached the identity's app: the hub sends a call to the identity called and to no other."),
	step(methods, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) receives method "([^"]*)"(?: with (no payload)| with a payload of (\d+) bytes| with payload (.+?))? on its bare connection$`, bareReceivesMethod,
		"Waits for a call of the method on the identity's latest bare connection (sent at QoS 0, as the hub sends calls), checks its payload if one is given and keeps its request id for the answer.",
		"", "", methodNameDoc, "", "<N> the payload's size in bytes"),
	step(methods, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) answers method "([^"]*)" on its bare connection with status (\d+)(?: and a payload of (\d+) bytes| and payload (.+?))?(?: under (an unknown request id)| under the request id (device|module) ("[^"]+"(?: on device "[^"]+")?) got)?$`, bareAnswersMethod,
		"The identity answers the last call of the method its bare connection received, or sends an answer under a request id it was never given, or under the one another identity got.",
		"", "", methodNameDoc, "<status> the status it answers with", "<N> the payload's size in bytes: a JSON string"),
}

// handle makes the identity's client answer the method with fn, recording
// every call it gets.
func (w *world) handle(i ident, name string, fn func(ctx context.Context) (int, any)) error {
	s := w.state(i)
	c, err := s.connection()
	if err != nil {
		return err
	}
	ms := s.methodsOf()
	c.HandleMethod(name, func(ctx context.Context, req device.MethodRequest) (int, any) {
		ms.mu.Lock()
		ms.received = append(ms.received, req)
		close(ms.arrived)
		ms.arrived = make(chan struct{})
		ms.mu.Unlock()
		return fn(ctx)
	})
	return nil
}

func answersMethod(ctx context.Context, kind, alias, name, status, payload string) error {
	code, err := statusCode(status)
	if err != nil {
		return err
	}
	var response any
	if payload != "" {
		response = parseValue(payload)
	}
	w, i, err := whoIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	return w.handle(i, name, func(context.Context) (int, any) { return code, response })
}

// ignoresMethod holds each call until the client closes or loses its
// connection, so the hub never gets an answer.
func ignoresMethod(ctx context.Context, kind, alias, name string) error {
	w, i, err := whoIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	return w.handle(i, name, func(ctx context.Context) (int, any) {
		<-ctx.Done()
		return 0, nil
	})
}

func statusCode(s string) (int, error) {
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		return 0, fmt.Errorf("status %q is not a number", s)
	}
	return n, nil
}

// receivedMethod waits for the method to reach the identity's handler.
func receivedMethod(ctx context.Context, kind, alias, name, none, size, payload string) error {
	_, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	ms := s.methodsOf()
	dctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	for {
		ms.mu.Lock()
		var last *device.MethodRequest
		for i := range ms.received {
			if ms.received[i].Name == name {
				last = &ms.received[i]
			}
		}
		arrived := ms.arrived
		ms.mu.Unlock()
		if last != nil {
			what := fmt.Sprintf("the call of method %q that %s received", name, s.ident)
			if none != "" {
				return errorIf(last.Payload != nil, "%s: want no payload, got %s", what, last.Payload)
			}
			return payloadIs(what, last.Payload, size, payload)
		}
		select {
		case <-arrived:
		case <-dctx.Done():
			return fmt.Errorf("%s received no call of method %q within %s", s.ident, name, waitFor)
		}
	}
}

func receivedNoMethod(ctx context.Context, kind, alias string) error {
	_, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	ms := s.methodsOf()
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if len(ms.received) > 0 {
		return fmt.Errorf("%s received a call of method %q", s.ident, ms.received[0].Name)
	}
	return nil
}

// methodTopic reads $iothub/methods/POST/{name}/?$rid={rid}.
func methodTopic(topic string) (name, rid string, ok bool) {
	rest, isMethod := strings.CutPrefix(topic, "$iothub/methods/POST/")
	name, query, _ := strings.Cut(rest, "/?")
	q, err := url.ParseQuery(query)
	if !isMethod || err != nil || q.Get("$rid") == "" {
		return "", "", false
	}
	return name, q.Get("$rid"), true
}

// bareReceivesMethod takes the next call of the method from the latest
// bare connection. Calls of other methods that come first are kept for the
// steps that wait for them, since calls started together may arrive in
// any order.
func bareReceivesMethod(ctx context.Context, kind, alias, name, none, size, payload string) error {
	w, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	b, err := w.bareOf(s.ident, "latest")
	if err != nil {
		return err
	}
	ms := s.methodsOf()
	var m paho.Message
	for i, h := range ms.held {
		if n, _, _ := methodTopic(h.Topic()); n == name {
			m = h
			ms.held = append(ms.held[:i:i], ms.held[i+1:]...)
			break
		}
	}
	for m == nil {
		next, err := b.next(ctx, s.ident.String())
		if err != nil {
			return fmt.Errorf("%s: no call of method %q on its bare connection: %w", s.ident, name, err)
		}
		n, _, ok := methodTopic(next.Topic())
		switch {
		case !ok:
			return fmt.Errorf("%s: expected a call of method %q, got %s on %s", s.ident, name, next.Payload(), next.Topic())
		case n == name:
			m = next
		default:
			ms.held = append(ms.held, next)
		}
	}
	_, rid, _ := methodTopic(m.Topic())
	ms.bareRIDs[name] = rid
	what := fmt.Sprintf("the call of method %q on the bare connection of %s", name, s.ident)
	if m.Qos() != 0 {
		// The subscription asked for QoS 1; the hub sends calls at QoS 0
		// (Microsoft's direct methods doc: "Method requests are QoS 0").
		return fmt.Errorf("%s: sent at QoS %d, want 0", what, m.Qos())
	}
	if none != "" {
		return errorIf(len(m.Payload()) > 0, "%s: want no payload, got %s", what, m.Payload())
	}
	return payloadIs(what, m.Payload(), size, payload)
}

// bareAnswersMethod publishes $iothub/methods/res/{status}/?$rid= on the
// latest bare connection, under the request id of the last call of the
// method it received, a request id the hub never gave, or the one another
// identity got for the method; it waits for the PUBACK.
func bareAnswersMethod(ctx context.Context, kind, alias, name, status, size, payload, unknown, otherKind, otherAlias string) error {
	w, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	b, err := w.bareOf(s.ident, "latest")
	if err != nil {
		return err
	}
	from := s
	if otherAlias != "" {
		o, err := w.who(otherKind, otherAlias)
		if err != nil {
			return err
		}
		from = w.state(o)
	}
	rid, ok := from.methodsOf().bareRIDs[name]
	switch {
	case unknown != "":
		rid = "hubspec-unknown-" + rid
	case !ok:
		return fmt.Errorf("%s has received no call of method %q on its bare connection", from.ident, name)
	}
	var body []byte
	switch {
	case size != "":
		req, err := methodRequestOf(name, size, "", "", "")
		if err != nil {
			return err
		}
		body = req.Payload
	case payload != "":
		body = []byte(payload)
	}
	topic := "$iothub/methods/res/" + status + "/?$rid=" + url.QueryEscape(rid)
	return b.await(ctx, b.pc.Publish(topic, 1, false, body), "answer "+topic)
}
