package emulator_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/service"
)

// The refusals of direct method calls, on the wire: the checks of a call,
// the gateway timeout, and an emulator that closes while calls wait.

// TestMethodGatewayTimeout: no answer within responseTimeoutInSeconds is
// 504 GatewayTimeout; the answer that comes after is dropped and the
// connection stays open.
func TestMethodGatewayTimeout(t *testing.T) {
	s, reg := startHub(t)
	rc := methodModule(t, s, reg, "dev1", "mod1")
	start := time.Now()
	calls := invokeAsync(s, "/twins/dev1/modules/mod1/methods", `{"methodName":"slow","responseTimeoutInSeconds":5}`)
	_, rid, _ := methodRequest(t, rc)
	r := awaitCall(t, calls, 5*time.Second+wait)
	if took := time.Since(start); took < 5*time.Second {
		t.Fatalf("504 after %s, before the 5 s response timeout", took)
	}
	e := assertHubError(t, r, hub.ErrGatewayTimeout)
	if e.Message != "Timed out waiting for the response from device." || string(e.Info) != `{"timeout":"00:00:05"}` {
		t.Fatalf("504101 message %q info %s", e.Message, e.Info)
	}
	rc.publish(t, "$iothub/methods/res/200/?$rid="+rid, 1, `"late"`)
	rc.subscribe(t, "$iothub/twin/res/#")
}

// TestMethodCallRefusals: the hub's checks of a call, each a 400 that sends
// nothing to the module (the next call's request is the next message).
func TestMethodCallRefusals(t *testing.T) {
	s, reg := startHub(t)
	rc := methodModule(t, s, reg, "dev1", "mod1")
	big := `"` + strings.Repeat("x", 128<<10-2) + `"` // 128 KB exactly
	for _, tc := range []struct {
		body string
		want *hub.Error
		msg  string
	}{
		{`{"methodName":"m"`, hub.ErrIotHubFormatError, ""},
		{`[1]`, hub.ErrArgumentInvalid, ""},
		{`{}`, hub.ErrArgumentInvalid, "methodName is null or empty."},
		{`{"methodName":""}`, hub.ErrArgumentInvalid, "methodName is null or empty."},
		{`{"methodName":7}`, hub.ErrArgumentInvalid, ""},
		{`{"methodName":"re boot"}`, hub.ErrArgumentInvalid, ""},
		{`{"methodName":"a/b"}`, hub.ErrArgumentInvalid, ""},
		{`{"methodName":"a#"}`, hub.ErrArgumentInvalid, ""},
		{`{"methodName":"caf\u00e9"}`, hub.ErrArgumentInvalid, ""},
		{`{"methodName":"` + strings.Repeat("m", 1025) + `"}`, hub.ErrArgumentInvalid, ""},
		{`{"methodName":"m","responseTimeoutInSeconds":4}`, hub.ErrArgumentInvalid, "responseTimeoutInSeconds must be within [5; 300]."},
		{`{"methodName":"m","responseTimeoutInSeconds":301}`, hub.ErrArgumentInvalid, "responseTimeoutInSeconds must be within [5; 300]."},
		{`{"methodName":"m","responseTimeoutInSeconds":30.5}`, hub.ErrArgumentInvalid, "responseTimeoutInSeconds must be within [5; 300]."},
		{`{"methodName":"m","responseTimeoutInSeconds":"30"}`, hub.ErrArgumentInvalid, "responseTimeoutInSeconds must be within [5; 300]."},
		{`{"methodName":"m","connectTimeoutInSeconds":-1}`, hub.ErrArgumentInvalid, "connectTimeoutInSeconds must be within [0; 300]."},
		{`{"methodName":"m","connectTimeoutInSeconds":301}`, hub.ErrArgumentInvalid, "connectTimeoutInSeconds must be within [0; 300]."},
		{`{"methodName":"m","payload":` + big + `x}`, hub.ErrIotHubFormatError, ""},
		{`{"methodName":"m","payload":"` + strings.Repeat("x", 128<<10-1) + `"}`, hub.ErrArgumentInvalid, ""},
	} {
		r := awaitCall(t, invokeAsync(s, "/twins/dev1/modules/mod1/methods", tc.body), wait)
		e := assertHubError(t, r, tc.want)
		if tc.msg != "" && e.Message != tc.msg {
			t.Errorf("%.60s: message %q, want %q", tc.body, e.Message, tc.msg)
		}
	}
	// The limits themselves are allowed: a payload of exactly 128 KB, the
	// timeouts' bounds, a name with every allowed kind of character.
	name := "Re-boot_2.x!*%&'~|`^"
	calls := invokeAsync(s, "/twins/dev1/modules/mod1/methods",
		`{"methodName":"`+name+`","payload":`+big+`,"responseTimeoutInSeconds":5,"connectTimeoutInSeconds":300}`)
	got, rid, msg := methodRequest(t, rc)
	if got != name || len(msg.Payload()) != 128<<10 {
		t.Fatalf("request %s with %d payload bytes, want %s with 128 KB", msg.Topic(), len(msg.Payload()), name)
	}
	rc.publish(t, "$iothub/methods/res/200/?$rid="+rid, 1, "")
	if r := awaitCall(t, calls, wait); r.status != 200 {
		t.Fatalf("answer %d %s", r.status, r.body)
	}
	for _, policy := range []string{"registryRead", "registryReadWrite", "device"} {
		status, _, body, err := post(s, policy, "POST", "/twins/dev1/modules/mod1/methods?api-version=2021-04-12", `{"methodName":"m"}`)
		if err != nil || status != 401 {
			t.Errorf("policy %s: %d %s (%v), want 401: methods need ServiceConnect", policy, status, body, err)
		}
	}
}

// TestCloseEndsWaitingMethodCalls: Close does not sit out a call's
// timeout: the call ends with 503 at once.
func TestCloseEndsWaitingMethodCalls(t *testing.T) {
	s, err := emulator.Start(context.Background(), emulator.Options{}) // closed below, not in a cleanup
	if err != nil {
		t.Fatal(err)
	}
	reg, err := service.NewRegistryClient(s.ConnectionString(), service.WithTLSConfig(s.TLSConfig()))
	if err != nil {
		t.Fatal(err)
	}
	rc := methodModule(t, s, reg, "dev1", "mod1")
	calls := invokeAsync(s, "/twins/dev1/modules/mod1/methods", `{"methodName":"m","responseTimeoutInSeconds":300}`)
	methodRequest(t, rc)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	r := awaitCall(t, calls, wait)
	assertHubError(t, r, hub.ErrServiceUnavailable)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}
