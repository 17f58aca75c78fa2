package emulator_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub/service"

	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub"
)

// advance moves a device's clock, failing the test if the emulator refuses.
func advance(t *testing.T, s *emulator.Server, deviceID string, d time.Duration) {
	t.Helper()
	if err := s.AdvanceDeviceClock(context.Background(), deviceID, d); err != nil {
		t.Fatalf("advance the clock of %s by %s: %v", deviceID, d, err)
	}
}

// awaitCallBefore is awaitCall that fails when the answer comes at or after
// deadline: an answer the wall clock alone could have brought proves
// nothing about a move of the device's clock.
func awaitCallBefore(t *testing.T, calls <-chan methodCallResult, deadline time.Time) methodCallResult {
	t.Helper()
	r := awaitCall(t, calls, time.Until(deadline))
	if !time.Now().Before(deadline) {
		t.Fatalf("answered %d %s only once the wall clock had run the timeout out", r.status, r.body)
	}
	return r
}

// TestDeviceClockEndsAMethodCallsResponseTimeout: a call with a 5 s
// response timeout to a module that does not answer is still waiting when
// its device's clock has moved 4 s (its answer then completes it), and is
// answered 504 GatewayTimeout as soon as the clock has moved 5 s; a call to
// another device's module is untouched by either move.
func TestDeviceClockEndsAMethodCallsResponseTimeout(t *testing.T) {
	s, reg := startHub(t)
	rc := methodModule(t, s, reg, "dev1", "mod1")
	other := methodModule(t, s, reg, "dev2", "mod1")
	otherCall := invokeAsync(s, "/twins/dev2/modules/mod1/methods", `{"methodName":"m","responseTimeoutInSeconds":60}`)
	_, otherRID, _ := methodRequest(t, other)

	calls := invokeAsync(s, "/twins/dev1/modules/mod1/methods", `{"methodName":"m","responseTimeoutInSeconds":5}`)
	_, rid, _ := methodRequest(t, rc)
	advance(t, s, "dev1", 4*time.Second)
	rc.publish(t, "$iothub/methods/res/200/?$rid="+rid, 1, `"in time"`)
	if r := awaitCall(t, calls, wait); r.status != 200 || r.body != `{"status":200,"payload":"in time"}` {
		t.Fatalf("the call after a 4 s move: %d %s, want the module's answer", r.status, r.body)
	}

	start := time.Now()
	calls = invokeAsync(s, "/twins/dev1/modules/mod1/methods", `{"methodName":"m","responseTimeoutInSeconds":5}`)
	methodRequest(t, rc)
	advance(t, s, "dev1", 5*time.Second)
	e := assertHubError(t, awaitCallBefore(t, calls, start.Add(5*time.Second)), hub.ErrGatewayTimeout)
	if string(e.Info) != `{"timeout":"00:00:05"}` {
		t.Errorf("504 info %s", e.Info)
	}

	advance(t, s, "dev1", time.Hour)
	other.publish(t, "$iothub/methods/res/201/?$rid="+otherRID, 1, `"still here"`)
	if r := awaitCall(t, otherCall, wait); r.body != `{"status":201,"payload":"still here"}` {
		t.Fatalf("another device's call: %d %s, want its module's answer", r.status, r.body)
	}
}

// TestDeviceClockEndsAMethodCallsConnectTimeout: a call waiting for its
// module to come online is answered 404 DeviceNotOnline as soon as its
// device's clock moves past the connect timeout.
func TestDeviceClockEndsAMethodCallsConnectTimeout(t *testing.T) {
	// The call's connect timeout is armed once this is logged; a move
	// before would move a clock with no timer on it yet.
	armed := make(chan struct{}, 1)
	s, reg := startHubWith(t, emulator.Options{Logger: slog.New(&recordWatch{
		msg: "direct method: delivering within the connect timeout", seen: armed,
	})})
	createModule(t, reg, "dev1", "mod1")
	start := time.Now()
	calls := invokeAsync(s, "/twins/dev1/modules/mod1/methods", `{"methodName":"m","connectTimeoutInSeconds":20}`)
	select {
	case <-armed:
	case <-time.After(wait):
		t.Fatal("the call never started waiting for its module")
	}
	advance(t, s, "dev1", 20*time.Second)
	e := assertHubError(t, awaitCallBefore(t, calls, start.Add(20*time.Second)), hub.ErrDeviceNotOnline)
	if string(e.Info) != `{"timeout":"00:00:20"}` {
		t.Errorf("404103 info %s", e.Info)
	}
}

// faultedPair connects module mod1 of dev1 and of dev2, each with a
// connection that has asked for the same fault.
type faultedPair struct {
	rc1, rc2 *rawClient
	c1, c2   creds
}

func faultBoth(t *testing.T, s *emulator.Server, reg *service.RegistryClient, kind, delay, duration string) faultedPair {
	t.Helper()
	var p faultedPair
	for _, side := range []struct {
		deviceID string
		rc       **rawClient
		c        *creds
	}{{"dev1", &p.rc1, &p.c1}, {"dev2", &p.rc2, &p.c2}} {
		m := createModule(t, reg, side.deviceID, "mod1")
		*side.rc, *side.c = connected(t, s, m)
		(*side.rc).publish(t, faultTopic(m, kind, delay, duration), 1, "")
	}
	return p
}

// TestDeviceClockEndsAThrottlingWindow: an InvokeThrottling window ends
// when its device's clock moves past it, not before; the same window of
// another device stays in force.
func TestDeviceClockEndsAThrottlingWindow(t *testing.T) {
	s, reg := startHub(t)
	p := faultBoth(t, s, reg, "InvokeThrottling", "0", "60")
	if status, _ := p.rc1.answer(t, "$iothub/twin/GET/?$rid=", "1", ""); status != 429 {
		t.Fatalf("GET in the window: %d, want 429", status)
	}
	advance(t, s, "dev1", 30*time.Second)
	if status, _ := p.rc1.answer(t, "$iothub/twin/GET/?$rid=", "2", ""); status != 429 {
		t.Fatalf("GET halfway through the window: %d, want 429", status)
	}
	advance(t, s, "dev1", 30*time.Second)
	if status, _ := p.rc1.answer(t, "$iothub/twin/GET/?$rid=", "3", ""); status != 200 {
		t.Fatalf("GET once the clock moved past the window: %d, want 200", status)
	}
	if status, _ := p.rc2.answer(t, "$iothub/twin/GET/?$rid=", "4", ""); status != 429 {
		t.Fatalf("another device's GET: %d, want 429 (its window is its own)", status)
	}
}

// TestDeviceClockEndsAnAuthErrorWindow: the CONNECTs an InvokeAuthError
// window refuses are accepted once its device's clock moves past it; the
// same window of another device stays in force.
func TestDeviceClockEndsAnAuthErrorWindow(t *testing.T) {
	s, reg := startHub(t)
	p := faultBoth(t, s, reg, "InvokeAuthError", "0", "60")
	p.rc1.closedByHub(t)
	p.rc2.closedByHub(t)
	if _, err := dialRaw(s, p.c1, 4); err == nil || !strings.Contains(err.Error(), "connack 5") {
		t.Fatalf("reconnect in the window: %v, want CONNACK 5", err)
	}
	advance(t, s, "dev1", time.Minute)
	mustDial(t, s, p.c1)
	if _, err := dialRaw(s, p.c2, 4); err == nil || !strings.Contains(err.Error(), "connack 5") {
		t.Fatalf("another device's reconnect: %v, want CONNACK 5 (its window is its own)", err)
	}
}

// TestDeviceClockBringsADelayedFault: a fault asked for with a delay starts
// as soon as its device's clock moves past the delay; another device's
// delayed fault waits.
func TestDeviceClockBringsADelayedFault(t *testing.T) {
	s, reg := startHub(t)
	p := faultBoth(t, s, reg, "ShutDownMqtt", "60", "0")
	// The answer to a later request proves the fault request was read.
	p.rc1.answer(t, "$iothub/twin/GET/?$rid=", "1", "")
	p.rc2.answer(t, "$iothub/twin/GET/?$rid=", "1", "")
	advance(t, s, "dev1", time.Minute)
	p.rc1.closedByHub(t)
	if status, _ := p.rc2.answer(t, "$iothub/twin/GET/?$rid=", "2", ""); status != 200 {
		t.Fatalf("another device's connection: %d, want it open and answered", status)
	}
}

// TestDeviceClockExpiresCloudToDeviceMessages: a message whose expiry the
// device's clock moves past is dead-lettered with Expired feedback at
// once and never delivered; another device's message with the same expiry
// is delivered.
func TestDeviceClockExpiresCloudToDeviceMessages(t *testing.T) {
	s, reg := startHub(t)
	cs1 := c2dDevice(t, s, reg, "dev1")
	cs2 := c2dDevice(t, s, reg, "dev2")
	m := dialMessaging(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	expiry := time.Now().Add(time.Hour)
	for _, dev := range []string{"dev1", "dev2"} {
		msg := service.CloudMessage{MessageID: dev + "-old", Ack: service.AckFull, Expiry: expiry, Body: []byte("x")}
		if err := m.Send(ctx, dev, msg); err != nil {
			t.Fatal(err)
		}
	}
	advance(t, s, "dev1", time.Hour)
	if fb := awaitFeedback(ctx, t, m, "dev1-old"); fb.StatusCode != "Expired" || fb.DeviceID != "dev1" || fb.Description != "Message Expired" {
		t.Errorf("feedback %+v, want Expired", fb)
	}
	_, msgs2 := dialC2D(t, s, cs2)
	if got := <-msgs2; got.MessageID != "dev2-old" {
		t.Errorf("dev2 received %q, want its own unexpired message", got.MessageID)
	}
	_, msgs1 := dialC2D(t, s, cs1)
	if err := m.Send(ctx, "dev1", service.CloudMessage{MessageID: "dev1-fresh", Body: []byte("y")}); err != nil {
		t.Fatal(err)
	}
	if got := <-msgs1; got.MessageID != "dev1-fresh" {
		t.Errorf("dev1 received %q first, want only the unexpired message", got.MessageID)
	}
}

// TestDeviceClockExpiresTokens: once a device's clock is past a token's
// expiry and the 5-minute grace, its connection is closed and the same
// token is refused at CONNECT; another device's connection with a token of
// the same expiry stays open.
func TestDeviceClockExpiresTokens(t *testing.T) {
	s, reg := startHub(t)
	m1 := createModule(t, reg, "dev1", "mod1")
	m2 := createModule(t, reg, "dev2", "mod1")
	expiry := time.Now().Add(time.Minute)
	c1 := moduleCreds(t, s, m1, "", expiry)
	rc1 := mustDial(t, s, c1)
	rc2 := mustDial(t, s, moduleCreds(t, s, m2, "", expiry))
	advance(t, s, "dev1", 5*time.Minute)
	rc1.subscribe(t, "$iothub/twin/res/#") // a round trip: within the grace, still open
	advance(t, s, "dev1", 2*time.Minute)
	rc1.closedByHub(t)
	if _, err := dialRaw(s, c1, 4); err == nil || !strings.Contains(err.Error(), "connack 5") {
		t.Fatalf("CONNECT with the expired token: %v, want CONNACK 5", err)
	}
	rc2.subscribe(t, "$iothub/twin/res/#") // a round trip: still open
}

// TestDeviceClockOfADeletedDeviceIsForgotten: a device deleted and created
// again starts on the wall clock, not where the deleted one's clock was
// moved; the deleted device's clock cannot be moved.
func TestDeviceClockOfADeletedDeviceIsForgotten(t *testing.T) {
	s, reg := startHub(t)
	ctx := context.Background()
	createModule(t, reg, "dev1", "mod1")
	advance(t, s, "dev1", time.Hour)
	if err := reg.DeleteDevice(ctx, "dev1", "*"); err != nil {
		t.Fatal(err)
	}
	if err := s.AdvanceDeviceClock(ctx, "dev1", time.Second); !errors.Is(err, hub.ErrDeviceNotFound) {
		t.Fatalf("move the clock of a deleted device: %v, want 404 DeviceNotFound", err)
	}
	m := createModule(t, reg, "dev1", "mod1")
	mustDial(t, s, moduleCreds(t, s, m, "", time.Now().Add(time.Minute))) // refused an hour on
}

// TestDeviceClockRefusesBadMoves: an unknown device is 404 DeviceNotFound,
// a move of no time or back in time 400 ArgumentInvalid, a malformed
// control request 400 in the hub's shape; none of them moves anything.
func TestDeviceClockRefusesBadMoves(t *testing.T) {
	s, reg := startHub(t)
	rc := methodModule(t, s, reg, "dev1", "mod1")
	ctx := context.Background()
	start := time.Now()
	calls := invokeAsync(s, "/twins/dev1/modules/mod1/methods", `{"methodName":"m","responseTimeoutInSeconds":5}`)
	_, rid, _ := methodRequest(t, rc)

	if err := s.AdvanceDeviceClock(ctx, "nobody", time.Hour); !errors.Is(err, hub.ErrDeviceNotFound) {
		t.Errorf("unknown device: %v, want 404 DeviceNotFound", err)
	}
	for _, d := range []time.Duration{0, -time.Hour} {
		if err := s.AdvanceDeviceClock(ctx, "dev1", d); !errors.Is(err, hub.ErrArgumentInvalid) {
			t.Errorf("move by %s: %v, want 400 ArgumentInvalid", d, err)
		}
	}
	for _, tc := range []struct {
		body   string
		status int
		name   string
	}{
		{`{"deviceId":"nobody","seconds":3600}`, 404, "DeviceNotFound"},
		{`{"deviceId":"dev1","seconds":0}`, 400, "ArgumentInvalid"},
		{`{"deviceId":"dev1","seconds":-3600}`, 400, "ArgumentInvalid"},
		{`{"deviceId":"dev1"}`, 400, "ArgumentInvalid"},
		{`{"deviceId":"dev1","seconds":1e-10}`, 400, "ArgumentInvalid"},
		{`{"deviceId":"dev1","seconds":1e300}`, 400, "ArgumentInvalid"},
		{`{"seconds":3600}`, 400, "ArgumentInvalid"},
		{`{"deviceId":"dev1","secs":3600}`, 400, "IotHubFormatError"},
		{`{"deviceId":"dev1","seconds":"3600"}`, 400, "IotHubFormatError"},
		{`{"deviceId":"dev1","seconds":3600}{}`, 400, "IotHubFormatError"},
		{`not json`, 400, "IotHubFormatError"},
	} {
		status, h, body := control(t, s, "iothubowner", http.MethodPost, emulator.ControlAdvanceDeviceClockPath, tc.body)
		e := hub.ParseError(status, h.Get("iothub-errorcode"), []byte(body))
		if status != tc.status || e.Name != tc.name || h.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("%s: %d %s %s, want %d %s", tc.body, status, e.Name, body, tc.status, tc.name)
		}
	}
	rc.publish(t, "$iothub/methods/res/200/?$rid="+rid, 1, `"unmoved"`)
	if r := awaitCallBefore(t, calls, start.Add(5*time.Second)); r.body != `{"status":200,"payload":"unmoved"}` {
		t.Fatalf("the call after refused moves: %d %s, want the module's answer", r.status, r.body)
	}
}
