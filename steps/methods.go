package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"
	"github.com/hubspec/hubspec/steps/internal/vocab"
)

// methodVocabulary is the service's side of direct methods: it calls a
// method on a device or module and reads the answer. The device's side, its
// own client and its bare connection, is in methods_device.go.
var methodVocabulary = []vocab.Def{
	step(methods, `^the service (invokes|starts invoking) method "([^"]*)" on (device|module) ("[^"]+"(?: on device "[^"]+")?)(?: with a payload of (\d+) bytes| with payload (.+?))?(?: and response timeout (-?\d+))?(?: and connect timeout (-?\d+))?$`, invokeMethod,
		"The service calls a direct method and waits for the answer (a refusal is left for the next step to check), or starts the call and goes on while it waits.",
		"", methodNameDoc, "", "", "<N> the size of the payload: a JSON string of exactly N bytes", "",
		"<seconds> how long the hub waits for the answer (the hub's default: 30)",
		"<seconds> how long the hub waits for the identity to come online (the hub's default: 0)"),
	step(methods, `^the call of method "([^"]*)" on (device|module) ("[^"]+"(?: on device "[^"]+")?) returns status (\d+)(?: and a payload of (\d+) bytes| and payload (.+))?$`, methodCallReturns,
		"Waits for the service's last call of the method to end and checks the identity's answer: its status and, if given, its payload.",
		methodNameDoc, "", "", "<status> the status the identity answered with", "<N> the payload's size in bytes"),
	step(methods, `^the call of method "([^"]*)" on (device|module) ("[^"]+"(?: on device "[^"]+")?) ends$`, methodCallEnds,
		"Waits for a call the service started to end; a refusal is left for the next step to check.",
		methodNameDoc),
}

const methodNameDoc = "<method> the method's name, as the service sends it"

// methodState is what a scenario knows of an identity's direct methods.
// The handlers of its client run on the client's goroutines, hence the
// mutex; everything else belongs to the scenario's goroutine.
type methodState struct {
	calls map[string]*methodCall // the service's last call of each method

	mu       sync.Mutex
	received []device.MethodRequest // what its client's handlers were called with, in order
	arrived  chan struct{}          // closed and replaced when a call arrives

	bareRIDs map[string]string // the request id of the last call of each method on its bare connection
	held     []paho.Message    // method calls its bare connection received that no step has taken yet
}

// methodsOf is the identity's method state, made on first use.
func (s *identityState) methodsOf() *methodState {
	if s.methods == nil {
		s.methods = &methodState{calls: map[string]*methodCall{}, arrived: make(chan struct{}), bareRIDs: map[string]string{}}
	}
	return s.methods
}

// methodCall is a call the service made: done closes when it has ended.
type methodCall struct {
	done  chan struct{}
	until time.Duration // how long it may take: its timeouts and waitFor
	res   *service.MethodResult
	err   error
}

// await waits for the call to end, for as long as its timeouts allow.
func (c *methodCall) await(ctx context.Context) error {
	t := time.NewTimer(c.until)
	defer t.Stop()
	select {
	case <-c.done:
		return nil
	case <-t.C:
		return fmt.Errorf("the call did not end within %s", c.until)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// methodRequestOf is the service's request as a step words it: a payload
// of N bytes is a JSON string of that size.
func methodRequestOf(name, size, payload, response, connect string) (service.MethodRequest, error) {
	req := service.MethodRequest{MethodName: name}
	switch {
	case size != "":
		n, _ := strconv.Atoi(size)
		if n < 2 {
			return req, fmt.Errorf("a payload of %d bytes: the smallest JSON string has 2", n)
		}
		req.Payload = json.RawMessage(`"` + strings.Repeat("x", n-2) + `"`)
	case payload != "":
		b, err := json.Marshal(parseValue(payload))
		if err != nil {
			return req, err
		}
		req.Payload = b
	}
	req.ResponseTimeout = signedSeconds(response)
	req.ConnectTimeout = signedSeconds(connect)
	return req, nil
}

// signedSeconds is a whole number of seconds, negative ones included.
func signedSeconds(s string) time.Duration {
	n, _ := strconv.Atoi(s)
	return time.Duration(n) * time.Second
}

// invokeMethod calls a method on the identity. "invokes" waits for the
// answer and records a refusal for "the hub refuses with"; "starts
// invoking" returns at once and leaves the call to "the call of method ...".
// A started call that no step waits for ends with the scenario.
func invokeMethod(ctx context.Context, verb, name, kind, alias, size, payload, response, connect string) error {
	w, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	d, m, err := w.ids(s.ident)
	if err != nil {
		return err
	}
	req, err := methodRequestOf(name, size, payload, response, connect)
	if err != nil {
		return err
	}
	// The hub answers within its timeouts (a response timeout of 30 s
	// unless given): a call still running waitFor after them has failed.
	answerIn := req.ResponseTimeout
	if answerIn <= 0 {
		answerIn = 30 * time.Second
	}
	wait := answerIn + max(req.ConnectTimeout, 0) + waitFor
	call := &methodCall{done: make(chan struct{}), until: wait}
	s.methodsOf().calls[name] = call
	run := func(ctx context.Context) {
		defer close(call.done)
		if m == "" {
			call.res, call.err = w.registry.InvokeDeviceMethod(ctx, d, req)
		} else {
			call.res, call.err = w.registry.InvokeModuleMethod(ctx, d, m, req)
		}
	}
	if verb == "invokes" {
		cctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		run(cctx)
		if call.err != nil {
			return w.refused(call.err)
		}
		return nil
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), wait)
	w.sc.Defer("end the call of method "+name, func(context.Context) error { cancel(); <-call.done; return nil })
	go run(cctx)
	return nil
}

// lastCall is the service's last call of a method on the identity, once
// it has ended.
func lastCall(ctx context.Context, name, kind, alias string) (*methodCall, error) {
	_, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return nil, err
	}
	call := s.methodsOf().calls[name]
	if call == nil {
		return nil, fmt.Errorf("the service has not called method %q on %s", name, s.ident)
	}
	if err := call.await(ctx); err != nil {
		return nil, fmt.Errorf("the call of method %q on %s: %w", name, s.ident, err)
	}
	return call, nil
}

// methodCallReturns checks the answer of the last call of the method.
func methodCallReturns(ctx context.Context, name, kind, alias, status, size, payload string) error {
	call, err := lastCall(ctx, name, kind, alias)
	if err != nil {
		return err
	}
	if call.err != nil {
		return fmt.Errorf("the call of method %q on %s %q: expected status %s, got %w", name, kind, alias, status, call.err)
	}
	what := fmt.Sprintf("the answer to method %q of %s %q", name, kind, alias)
	if strconv.Itoa(call.res.Status) != status {
		return fmt.Errorf("%s: want status %s, got %d (payload %s)", what, status, call.res.Status, call.res.Payload)
	}
	return payloadIs(what, call.res.Payload, size, payload)
}

// payloadIs compares a method payload with the one a step gives: of N
// bytes, or a JSON value; "" checks nothing.
func payloadIs(what string, got json.RawMessage, size, want string) error {
	switch {
	case size != "":
		return errorIf(strconv.Itoa(len(got)) != size, "%s: want a payload of %s bytes, got %d", what, size, len(got))
	case want != "":
		var v any
		if err := json.Unmarshal(got, &v); err != nil && len(got) > 0 {
			return fmt.Errorf("%s: the payload is not JSON: %q", what, got)
		}
		return sameValue(what, v, want)
	}
	return nil
}

// methodCallEnds waits for a call to end and records a refusal for "the
// hub refuses with".
func methodCallEnds(ctx context.Context, name, kind, alias string) error {
	call, err := lastCall(ctx, name, kind, alias)
	if err != nil {
		return err
	}
	if call.err != nil {
		return worldFrom(ctx).refused(call.err)
	}
	return nil
}
