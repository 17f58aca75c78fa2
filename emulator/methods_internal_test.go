package emulator

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub"
	"github.com/mochi-mqtt/server/v2/packets"
)

// TestWaitingOperationsOutliveTheServerTimeouts: an operation marked waits
// (a direct method call) keeps its context and writes its answer after the
// server's read and write timeouts have passed; without the mark the write
// deadline cuts the answer off. The timeouts here are 100 ms instead of
// the emulator's 20 s and 60 s.
func TestWaitingOperationsOutliveTheServerTimeouts(t *testing.T) {
	for _, waits := range []bool{true, false} {
		pol, err := newPolicies(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		key, _ := pol.primaryKey("service")
		h := &restHandler{now: time.Now, log: slog.New(slog.DiscardHandler), pol: pol, hostName: "testhub"}
		h.routes = []route{{[]string{"slow"}, map[string]operation{http.MethodPost: {perm: permServiceConnect, waits: waits,
			serve: func(r *http.Request, _ []string) (restResult, error) {
				if _, err := readBody(r); err != nil {
					return restResult{}, err
				}
				select {
				case <-r.Context().Done():
					return restResult{}, hub.ErrServerError.WithMessage("context ended: %v", context.Cause(r.Context()))
				case <-time.After(400 * time.Millisecond): // the device thinking
				}
				return restResult{status: http.StatusOK, body: []byte(`{"status":200,"payload":null}`)}, nil
			}}}}}
		srv := httptest.NewUnstartedServer(http.HandlerFunc(h.serve))
		srv.Config.ReadTimeout, srv.Config.WriteTimeout = 100*time.Millisecond, 100*time.Millisecond
		srv.Start()
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/slow", strings.NewReader(`{"methodName":"m"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", signToken(key, "testhub", time.Now().Unix()+3600, "service", true))
		resp, err := srv.Client().Do(req)
		var status int
		var body []byte
		if err == nil {
			status = resp.StatusCode
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		srv.Close()
		ok := err == nil && status == http.StatusOK
		if ok != waits {
			t.Errorf("waits=%v: answer %d %s (%v); want the answer exactly when the operation waits", waits, status, body, err)
		}
	}
}

// TestMethodCallsAreForgotten: every call that ends, answered, timed out or
// not delivered, leaves nothing behind for a late answer to find.
func TestMethodCallsAreForgotten(t *testing.T) {
	broker, conns, _ := newTestConnections()
	defer broker.Close()
	reg := newRegistry(time.Now)
	mustPutDevice(t, reg, "dev1", `{}`)
	m := newMethods(reg, conns, slog.New(slog.DiscardHandler))
	id := identity{deviceID: "dev1"}
	call := methodCall{name: "m", responseTimeout: 50 * time.Millisecond}

	if _, err := m.invoke(context.Background(), id, call); !hubErrorIs(err, hub.ErrDeviceNotOnline) {
		t.Fatalf("offline: %v, want DeviceNotOnline", err)
	}
	p := connect(t, broker, conns, "dev1")
	p.cl.State.Subscriptions.Add("$iothub/methods/POST/#", packets.Subscription{Filter: "$iothub/methods/POST/#", Qos: 1})
	done := make(chan error, 1)
	go func() {
		_, err := m.invoke(context.Background(), id, call)
		done <- err
	}()
	topic, _ := p.next(t)
	if err := <-done; !hubErrorIs(err, hub.ErrGatewayTimeout) {
		t.Fatalf("unanswered: %v, want GatewayTimeout", err)
	}
	rid := topic[strings.LastIndex(topic, "=")+1:]
	if m.answer(id, rid, methodAnswer{status: 200}) {
		t.Fatal("a late answer found its call")
	}
	if n := m.pending(); n != 0 {
		t.Fatalf("%d calls still pending", n)
	}
}

func hubErrorIs(err error, want *hub.Error) bool {
	e, ok := hub.AsError(err)
	return ok && e.Code == want.Code
}

// FuzzParseMethodCall: whatever the body, parseMethodCall never panics,
// refuses with a 400, or accepts a call that keeps every rule.
func FuzzParseMethodCall(f *testing.F) {
	f.Add(`{"methodName":"reboot","payload":{"a":1},"responseTimeoutInSeconds":30,"connectTimeoutInSeconds":0}`)
	f.Add(`{"methodName":"m","payload":""}`)
	f.Add(`{"methodName":"a b"}`)
	f.Add(`{"methodName":"m","responseTimeoutInSeconds":1e1}`)
	f.Add(`{"methodName":"m","connectTimeoutInSeconds":-0}`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, body string) {
		call, err := parseMethodCall([]byte(body))
		if err != nil {
			if e, ok := hub.AsError(err); !ok || e.StatusCode != 400 {
				t.Fatalf("%q: %v, want a 400", body, err)
			}
			return
		}
		if checkMethodName(call.name) != nil || len(call.payload) > maxMethodPayload ||
			(call.payload != nil && !json.Valid(call.payload)) ||
			call.responseTimeout < 5*time.Second || call.responseTimeout > 300*time.Second ||
			call.connectTimeout < 0 || call.connectTimeout > 300*time.Second {
			t.Fatalf("%q accepted as %+v", body, call)
		}
	})
}

// FuzzParseMethodAnswer: an accepted answer has an integer status and an
// empty or JSON payload of at most 128 KB.
func FuzzParseMethodAnswer(f *testing.F) {
	f.Add("$iothub/methods/res/200/?$rid=1", `{"a":1}`)
	f.Add("$iothub/methods/res/-1/?$rid=1", ``)
	f.Add("$iothub/methods/res/2x/?$rid=1", `1`)
	f.Add("$iothub/methods/res//?$rid=1", `"x"`)
	f.Fuzz(func(t *testing.T, topic, body string) {
		a, err := parseMethodAnswer(topic, []byte(body))
		if err != nil {
			return
		}
		if len(a.payload) > maxMethodPayload || (a.payload != nil && !json.Valid(a.payload)) || (a.payload == nil && body != "") {
			t.Fatalf("%q %q accepted as %+v", topic, body, a)
		}
		if _, err := a.resultJSON(); err != nil {
			t.Fatalf("%q %q: %v", topic, body, err)
		}
	})
}
