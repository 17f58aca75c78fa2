package service

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub"
)

// TestInvokeMethodRequests: the body is the SDKs' CloudToDeviceMethod,
// timeouts in whole seconds and left out when 0, the payload as given
// (null when none), on /twins/{d}[/modules/{m}]/methods.
func TestInvokeMethodRequests(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		name       string
		call       func(*RegistryClient) (*MethodResult, error)
		path, body string
	}{
		{"device, defaults", func(c *RegistryClient) (*MethodResult, error) {
			return c.InvokeDeviceMethod(ctx, "dev 1", MethodRequest{MethodName: "reboot"})
		}, "/twins/dev%201/methods", `{"methodName":"reboot","payload":null}`},
		{"module, everything", func(c *RegistryClient) (*MethodResult, error) {
			return c.InvokeModuleMethod(ctx, "d", "m/1", MethodRequest{MethodName: "reboot", Payload: []byte(`{"in": 1.50}`),
				ResponseTimeout: 4500 * time.Millisecond, ConnectTimeout: -time.Second})
		}, "/twins/d/modules/m%2F1/methods", `{"methodName":"reboot","payload":{"in":1.50},"responseTimeoutInSeconds":5,"connectTimeoutInSeconds":-1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, c := newFakeHub(t, answer{200, nil, `{"status":201,"payload":{"done":true}}`})
			res, err := tc.call(c)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != 201 || string(res.Payload) != `{"done":true}` {
				t.Errorf("result %d %s", res.Status, res.Payload)
			}
			reqs, bodies := f.requests()
			r := reqs[0]
			checkCommon(t, f.host(), r)
			if path, _, _ := strings.Cut(r.RequestURI, "?"); r.Method != "POST" || path != tc.path {
				t.Errorf("request %s %s, want POST %s", r.Method, path, tc.path)
			}
			if bodies[0] != tc.body {
				t.Errorf("body\n got %s\nwant %s", bodies[0], tc.body)
			}
		})
	}
}

// TestInvokeMethodRefusals: the hub's refusal is a *hub.Error carrying the
// error's info; an answer without payload has payload null; a payload
// that is not JSON is never sent.
func TestInvokeMethodRefusals(t *testing.T) {
	_, c := newFakeHub(t, answer{504, map[string]string{"iothub-errorcode": "GatewayTimeout"},
		`{"Message":"{\"errorCode\":504101,\"trackingId\":\"t\",\"message\":\"Timed out waiting for the response from device.\",\"info\":{\"timeout\":\"00:00:30\"},\"timestampUtc\":\"x\"}","ExceptionMessage":""}`})
	_, err := c.InvokeDeviceMethod(t.Context(), "d", MethodRequest{MethodName: "m"})
	e, ok := hub.AsError(err)
	if !ok || !errors.Is(err, hub.ErrGatewayTimeout) || string(e.Info) != `{"timeout":"00:00:30"}` {
		t.Fatalf("err %v (info %s), want 504 GatewayTimeout with its info", err, e.Info)
	}

	f, c := newFakeHub(t, answer{200, nil, `{"status":200,"payload":null}`})
	res, err := c.InvokeModuleMethod(t.Context(), "d", "m", MethodRequest{MethodName: "m"})
	if err != nil || res.Status != 200 || string(res.Payload) != "null" {
		t.Fatalf("result %+v, %v", res, err)
	}
	if _, err := c.InvokeModuleMethod(t.Context(), "d", "m", MethodRequest{MethodName: "m", Payload: []byte("{")}); err == nil {
		t.Fatal("a payload that is not JSON was accepted")
	}
	if _, err := c.InvokeModuleMethod(t.Context(), "d", "", MethodRequest{MethodName: "m"}); err == nil {
		t.Fatal("an empty module id was accepted")
	}
	if reqs, _ := f.requests(); len(reqs) != 1 {
		t.Fatalf("%d requests, want only the first call's", len(reqs))
	}
}
