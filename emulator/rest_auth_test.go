package emulator

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub"
)

func TestRESTAuthorization(t *testing.T) {
	h := newTestHub(t)
	h.createDevice("dev")
	key := func(p string) string { k, _ := h.pol.primaryKey(p); return k }
	now := h.clock.Now().Unix()
	tests := []struct {
		name, method, path, auth string
		ok                       bool
	}{
		{"no token", "GET", "/devices/dev", "", false},
		{"not a SAS token", "GET", "/devices/dev", "Bearer abc", false},
		{"bad signature", "GET", "/devices/dev", signToken(newKey(), "testhub.azure-devices.net", now+60, "iothubowner", true), false},
		{"expired beyond skew", "GET", "/devices/dev", signToken(key("iothubowner"), "testhub.azure-devices.net", now-301, "iothubowner", true), false},
		{"expired within skew", "GET", "/devices/dev", signToken(key("iothubowner"), "testhub.azure-devices.net", now-299, "iothubowner", true), true},
		{"unknown skn", "GET", "/devices/dev", signToken(key("iothubowner"), "testhub.azure-devices.net", now+60, "admin", true), false},
		{"no skn (device key)", "GET", "/devices/dev", signToken(key("iothubowner"), "testhub.azure-devices.net", now+60, "", true), false},
		{"secondary key", "GET", "/devices/dev", signToken(h.pol.list[0].secondaryKey, "testhub.azure-devices.net", now+60, "iothubowner", true), true},
		{"sr with encoded port (PYHUB quote_plus)", "GET", "/devices/dev", signToken(key("iothubowner"), "testhub.azure-devices.net:8443", now+60, "iothubowner", true), true},
		{"raw sr (Node)", "GET", "/devices/dev", signToken(key("iothubowner"), "TestHub.azure-devices.net", now+60, "iothubowner", false), true},
		{"sr of another hub", "GET", "/devices/dev", signToken(key("iothubowner"), "other.azure-devices.net", now+60, "iothubowner", true), false},
		{"older {host}/devices sr", "GET", "/devices/dev", signToken(key("registryRead"), "testhub.azure-devices.net/devices", now+60, "registryRead", true), true},
		{"{host}/devices sr on twins", "GET", "/twins/dev", signToken(key("service"), "testhub.azure-devices.net/devices", now+60, "service", true), false},
		{"registryRead reads", "GET", "/devices", h.token("registryRead"), true},
		{"registryRead writes", "PUT", "/devices/new", h.token("registryRead"), false},
		{"registryReadWrite reads (write implies read)", "GET", "/statistics/devices", h.token("registryReadWrite"), true},
		{"registryReadWrite writes", "PUT", "/devices/new2", h.token("registryReadWrite"), true},
		{"registryReadWrite on twins", "GET", "/twins/dev", h.token("registryReadWrite"), false},
		{"service on twins", "PATCH", "/twins/dev", h.token("service"), true},
		{"service on devices", "GET", "/devices/dev", h.token("service"), false},
		{"device policy on devices", "GET", "/devices/dev", h.token("device"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(tc.method, tc.path, `{}`, "Authorization", tc.auth)
			if tc.ok {
				if r.status >= 300 {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				return
			}
			h.wantStatus(r, 401, hub.ErrUnauthorized)
			legacy := regexp.MustCompile(`^\{"Message":"ErrorCode:IotHubUnauthorizedAccess;Unauthorized","ExceptionMessage":"Tracking ID:[0-9a-f]{32}-G:0-TimeStamp:01/01/2025 00:00:00"\}$`)
			if !legacy.Match(r.body) {
				t.Errorf("401 body is not the legacy shape: %s", r.body)
			}
		})
	}
	if r := h.do("GET", "/devices/new", ""); r.status != 404 {
		t.Errorf("a 401 PUT created the device: %d", r.status)
	}
}

// FuzzREST sends arbitrary requests straight to the handler: whatever the
// input, the answer is never a 5xx and always JSON (or empty).
func FuzzREST(f *testing.F) {
	f.Add("PUT", "/devices/d", `{"deviceId":"d"}`, "")
	f.Add("PUT", "/devices/d/modules/m", `{}`, "*")
	f.Add("PATCH", "/twins/d", `{"properties":{"desired":{"a":{"b":null}}}}`, `"AAAAAAAAAAE="`)
	f.Add("PUT", "/twins/d/modules/m", `{"tags":{"x":[1,2]}}`, "W/\"x\"")
	f.Add("GET", "/devices/%2F/modules", ``, "")
	f.Add("DELETE", "/devices/d", ``, `"MQ=="`)
	f.Add("GET", "/devices?top=-1", ``, "")
	f.Add("POST", "/twins/d/modules/m/methods", `{"methodName":"m","payload":{},"connectTimeoutInSeconds":300}`, "")
	f.Fuzz(func(t *testing.T, method, path, body, ifMatch string) {
		req, err := http.NewRequest(method, "http://testhub"+path, strings.NewReader(body))
		if err != nil || !strings.HasPrefix(path, "/") {
			return
		}
		reg := newRegistry(func() time.Time { return t0 })
		mustPutDevice(t, reg, "d", `{}`)
		mustPutModule(t, reg, "d", "m", `{}`)
		pol, _ := newPolicies(nil, nil)
		key, _ := pol.primaryKey("iothubowner")
		req.Header.Set("Authorization", signToken(key, "testhub", t0.Unix()+60, "iothubowner", true))
		req.Header.Set("If-Match", ifMatch)
		rec := httptest.NewRecorder()
		newRESTHandler(reg, pol, "testhub", func() time.Time { return t0 }, nil, nil, nil, nil, nil).ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: status %d %s", method, path, body, rec.Code, rec.Body)
		}
		if rec.Body.Len() > 0 && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s: body is not JSON: %s", method, path, rec.Body)
		}
	})
}
