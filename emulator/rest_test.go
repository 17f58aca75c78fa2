package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/hubspec/hubspec/hub"
)

// testHub is a REST handler on an httptest server with a fixed clock. Its
// host name carries a port, as the embedded emulator's does.
type testHub struct {
	t     *testing.T
	srv   *httptest.Server
	reg   *registry
	pol   *policies
	clock *stepClock
	log   *eventLog
	host  string
}

func newTestHub(t *testing.T) *testHub {
	t.Helper()
	h := &testHub{t: t, clock: &stepClock{now: t0}, log: &eventLog{}, host: "testhub.azure-devices.net:8443"}
	h.reg = newRegistry(h.clock.Now)
	h.reg.setEvents(h.log.events())
	var err error
	if h.pol, err = newPolicies(nil, nil); err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(newRESTHandler(h.reg, h.pol, h.host, h.clock.Now, nil, nil, nil, nil, nil))
	t.Cleanup(h.srv.Close)
	return h
}

// token is a policy token for sr = the host without port, valid for an hour.
func (h *testHub) token(policy string) string {
	key, ok := h.pol.primaryKey(policy)
	if !ok {
		h.t.Fatalf("no policy %s", policy)
	}
	return signToken(key, "testhub.azure-devices.net", h.clock.Now().Unix()+3600, policy, true)
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("response body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// hubError parses the answer the way a client does.
func (r response) hubError() *hub.Error {
	return hub.ParseError(r.status, r.header.Get("iothub-errorcode"), r.body)
}

// do sends a request with the iothubowner token unless headers say
// otherwise; headers are name, value pairs ("Authorization", "" drops it).
func (h *testHub) do(method, path, body string, headers ...string) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", h.token("iothubowner"))
	if body != "" {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	res, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// wantStatus checks status, content type and, for errors, the hub error.
func (h *testHub) wantStatus(r response, status int, want *hub.Error) {
	h.t.Helper()
	if r.status != status {
		h.t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if len(r.body) > 0 && r.header.Get("Content-Type") != jsonContentType {
		h.t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
	}
	if want != nil {
		e := r.hubError()
		if e.Code != want.Code || e.Name != want.Name || r.header.Get("iothub-errorcode") != want.Name {
			h.t.Errorf("error %v (header %q), want %s", e, r.header.Get("iothub-errorcode"), want.StatusText())
		}
	}
}

const pythonDeviceBody = `{"deviceId":"%s","status":"enabled","authentication":{"symmetricKey":{"primaryKey":"","secondaryKey":""},"type":"sas"},"capabilities":{"iotEdge":false}}`
const pythonModuleBody = `{"moduleId":"%s","managedBy":"","deviceId":"%s","authentication":{"symmetricKey":{"primaryKey":"","secondaryKey":""},"type":"sas"}}`

// createDevice creates a device as PYHUB does; id is as it appears in the
// path (percent-encoded where needed), the body carries the decoded id.
func (h *testHub) createDevice(id string) map[string]any {
	h.t.Helper()
	r := h.do("PUT", "/devices/"+id+"?api-version=2021-04-12", strings.Replace(pythonDeviceBody, "%s", unescape(id), 1))
	h.wantStatus(r, 200, nil)
	return r.json(h.t)
}

func (h *testHub) createModule(d, m string) map[string]any {
	h.t.Helper()
	body := strings.Replace(pythonModuleBody, `"deviceId":"%s"`, `"deviceId":"`+unescape(d)+`"`, 1)
	r := h.do("PUT", "/devices/"+d+"/modules/"+m+"?api-version=2021-04-12", strings.Replace(body, "%s", unescape(m), 1))
	h.wantStatus(r, 200, nil)
	return r.json(h.t)
}

func TestRESTCreateDevice(t *testing.T) {
	h := newTestHub(t)
	r := h.do("PUT", "/devices/myFirstDevice?api-version=2021-04-12", strings.Replace(pythonDeviceBody, "%s", "myFirstDevice", 1))
	h.wantStatus(r, 200, nil)
	got := r.json(t)
	if r.header.Get("ETag") != `"`+got["etag"].(string)+`"` {
		t.Errorf("ETag header %q, body etag %q", r.header.Get("ETag"), got["etag"])
	}
	keys := regexp.MustCompile(`^[A-Za-z0-9+/]{43}=$`)
	auth := got["authentication"].(map[string]any)
	sym := auth["symmetricKey"].(map[string]any)
	if !keys.MatchString(sym["primaryKey"].(string)) || !keys.MatchString(sym["secondaryKey"].(string)) {
		t.Errorf("keys are not 44-char base64: %v", sym)
	}
	// The exact shape real hubs answer (field order of the IoT Hub REST
	// reference's Device; the fidelity table's registry rows), keys and
	// generated values aside.
	for _, want := range []string{
		`"deviceId":"myFirstDevice","generationId":"`, `,"connectionState":"Disconnected","status":"enabled","statusReason":null,` +
			`"connectionStateUpdatedTime":"0001-01-01T00:00:00Z","statusUpdatedTime":"0001-01-01T00:00:00Z",` +
			`"lastActivityTime":"0001-01-01T00:00:00Z","cloudToDeviceMessageCount":0,"authentication":{"symmetricKey":{"primaryKey":"`,
		`"x509Thumbprint":{"primaryThumbprint":null,"secondaryThumbprint":null},"type":"sas"},"capabilities":{"iotEdge":false}}`,
	} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("body lacks %s:\n%s", want, r.body)
		}
	}
	g := h.do("GET", "/devices/myFirstDevice?api-version=2020-09-30", "")
	h.wantStatus(g, 200, nil)
	if !bytes.Equal(g.body, r.body) || g.header.Get("ETag") != r.header.Get("ETag") {
		t.Errorf("GET differs from the create answer:\n%s\n%s", g.body, r.body)
	}
}

func TestRESTErrorAnswers(t *testing.T) {
	h := newTestHub(t)
	h.createDevice("dev")
	h.createModule("dev", "mod")
	tests := []struct {
		name, method, path, body string
		status                   int
		want                     *hub.Error
		message                  string
	}{
		{"device exists", "PUT", "/devices/dev", `{"deviceId":"dev"}`, 409, hub.ErrDeviceAlreadyExists, "A device with ID 'dev' is already registered."},
		{"module exists", "PUT", "/devices/dev/modules/mod", `{}`, 409, hub.ErrModuleAlreadyExistsOnDevice, "Device dev in IotHub testhub already contains Module mod."},
		{"module on missing device", "PUT", "/devices/ghost/modules/mod", `{}`, 404, hub.ErrDeviceNotFound, "ghost"},
		{"get missing device", "GET", "/devices/ghost", ``, 404, hub.ErrDeviceNotFound, "ghost"},
		{"get missing module", "GET", "/devices/dev/modules/ghost", ``, 404, hub.ErrModuleNotFound, ""},
		{"delete missing device", "DELETE", "/devices/ghost", ``, 404, hub.ErrDeviceNotFound, ""},
		{"list modules of missing device", "GET", "/devices/ghost/modules", ``, 404, hub.ErrDeviceNotFound, ""},
		{"twin of missing module", "GET", "/twins/dev/modules/ghost", ``, 404, hub.ErrModuleNotFound, ""},
		{"bad device id", "PUT", "/devices/a+b", `{}`, 400, hub.ErrArgumentInvalid, ""},
		{"bad module id", "PUT", "/devices/dev/modules/$edgeAgent", `{}`, 400, hub.ErrArgumentInvalid, ""},
		{"encoded slash stays in the id", "PUT", "/devices/a%2Fb", `{}`, 400, hub.ErrArgumentInvalid, ""},
		{"malformed JSON", "PUT", "/devices/new", `{"deviceId":`, 400, hub.ErrIotHubFormatError, ""},
		{"wrong JSON type", "PUT", "/devices/new", `{"capabilities":{"iotEdge":"yes"}}`, 400, hub.ErrArgumentInvalid, ""},
		{"twin patch not an object", "PATCH", "/twins/dev", `[]`, 400, hub.ErrArgumentInvalid, ""},
		{"twin tags wrong type", "PATCH", "/twins/dev", `{"tags":"x"}`, 400, hub.ErrArgumentInvalid, ""},
		{"twin bad key", "PATCH", "/twins/dev/modules/mod", `{"properties":{"desired":{"a.b":1}}}`, 400, hub.ErrArgumentInvalid, ""},
		{"body over 1 MiB", "PUT", "/devices/new", `{"statusReason":"` + strings.Repeat("x", maxBodyBytes) + `"}`, 413, errBodyTooLarge, ""},
		{"top not a number", "GET", "/devices?top=ten", ``, 400, hub.ErrArgumentInvalid, ""},
		{"unknown route", "GET", "/jobs/v2", ``, 404, errNoRoute, ""},
		{"empty id segment", "GET", "/devices/", ``, 404, errNoRoute, ""},
		{"wrong method", "POST", "/devices/dev", `{}`, 405, errMethodNotAllowed, ""},
		{"wrong method on twins", "DELETE", "/twins/dev", ``, 405, errMethodNotAllowed, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(tc.method, tc.path+"?api-version=2021-04-12", tc.body)
			h.wantStatus(r, tc.status, tc.want)
			e := r.hubError()
			if tc.message != "" && e.Message != tc.message {
				t.Errorf("message %q, want %q", e.Message, tc.message)
			}
			if !errorsIs(e, tc.want) || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(e.TrackingID) {
				t.Errorf("ParseError gave %+v", e)
			}
			var outer struct{ Message, ExceptionMessage string }
			if err := json.Unmarshal(r.body, &outer); err != nil || outer.ExceptionMessage != "" || !strings.HasPrefix(outer.Message, `{"errorCode":`) {
				t.Errorf("not the modern error shape: %s", r.body)
			}
		})
	}
	if r := h.do("POST", "/devices/dev", `{}`); r.header.Get("Allow") != "DELETE, GET, PUT" {
		t.Errorf("405 Allow header %q", r.header.Get("Allow"))
	}
	if r := h.do("GET", "/devices", ""); len(r.json2(t)) != 1 {
		t.Errorf("a rejected request created a device: %s", r.body)
	}
}

func unescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

func errorsIs(e *hub.Error, want *hub.Error) bool { return e.Is(want) }

func (r response) json2(t *testing.T) []any {
	t.Helper()
	var a []any
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("not a JSON array: %s", r.body)
	}
	return a
}

func TestRESTIfMatch(t *testing.T) {
	h := newTestHub(t)
	dev := h.createDevice("dev")
	etag := dev["etag"].(string)
	key := dev["authentication"].(map[string]any)["symmetricKey"].(map[string]any)["primaryKey"]
	update := `{"deviceId":"dev","status":"disabled","authentication":{"symmetricKey":{"primaryKey":"` + newKey() + `","secondaryKey":""},"type":"sas"}}`

	r := h.do("PUT", "/devices/dev", update, "If-Match", `"MTIzNDU2Nzg5"`)
	h.wantStatus(r, 412, hub.ErrPreconditionFailed)
	if msg := r.hubError().Message; !strings.HasPrefix(msg, "Precondition failed: Device version did not match, existingVersion:") || !strings.HasSuffix(msg, " newVersion:123456789") {
		t.Errorf("412 message %q", msg)
	}
	g := h.do("GET", "/devices/dev", "").json(t)
	if g["etag"] != etag || g["status"] != "enabled" || g["authentication"].(map[string]any)["symmetricKey"].(map[string]any)["primaryKey"] != key {
		t.Errorf("a 412 PUT changed the device: %v", g)
	}
	h.wantStatus(h.do("PUT", "/devices/dev", update, "If-Match", etag), 409, hub.ErrDeviceAlreadyExists) // unquoted: ignored
	for _, wildcard := range []string{"*", `"*"`} {
		r = h.do("PUT", "/devices/dev", `{"deviceId":"dev"}`, "If-Match", wildcard)
		h.wantStatus(r, 200, nil)
		if r.json(t)["etag"] == etag {
			t.Errorf("If-Match %s: etag unchanged", wildcard)
		}
	}
	h.wantStatus(h.do("PUT", "/devices/ghost", `{}`, "If-Match", "*"), 404, hub.ErrDeviceNotFound)
	cur := h.do("GET", "/devices/dev", "").json(t)["etag"].(string)
	r = h.do("PUT", "/devices/dev", update, "If-Match", `"`+cur+`"`)
	h.wantStatus(r, 200, nil)
	if r.json(t)["status"] != "disabled" {
		t.Errorf("matching etag did not update: %s", r.body)
	}
	h.wantStatus(h.do("DELETE", "/devices/dev", "", "If-Match", `"`+cur+`"`), 412, hub.ErrPreconditionFailed)
	r = h.do("DELETE", "/devices/dev", "", "If-Match", `"`+r.json(t)["etag"].(string)+`"`)
	h.wantStatus(r, 204, nil)
	if len(r.body) != 0 {
		t.Errorf("204 with a body: %s", r.body)
	}
}

func TestRESTListsAndIDs(t *testing.T) {
	h := newTestHub(t)
	for _, id := range []string{"b", "a:1", "it's", "c%25d"} {
		h.createDevice(id)
	}
	r := h.do("GET", "/devices/it's", "")
	h.wantStatus(r, 200, nil)
	if r.json(t)["deviceId"] != "it's" {
		t.Errorf("GET /devices/it's: %s", r.body)
	}
	r = h.do("GET", "/devices/c%25d", "")
	h.wantStatus(r, 200, nil)
	if r.json(t)["deviceId"] != "c%d" {
		t.Errorf("percent-encoded id: %s", r.body)
	}
	h.createModule("a%3A1", "m'x") // Python encodes ':' as %3A
	if r := h.do("GET", "/devices/a:1/modules", ""); len(r.json2(t)) != 1 {
		t.Errorf("modules of a:1: %s", r.body)
	}
	if r := h.do("GET", "/twins/a:1/modules/m'x", ""); r.status != 200 || r.json(t)["moduleId"] != "m'x" {
		t.Errorf("module twin: %d %s", r.status, r.body)
	}
	for q, n := range map[string]int{"": 4, "?top=2": 2, "?top=0": 4, "?top=5000": 4} {
		if got := len(h.do("GET", "/devices"+q, "").json2(t)); got != n {
			t.Errorf("GET /devices%s: %d devices, want %d", q, got, n)
		}
	}
	h.wantStatus(h.do("PUT", "/devices/b", `{}`, "If-Match", "*"), 200, nil)
	h.do("PUT", "/devices/b", `{"status":"disabled"}`, "If-Match", "*")
	r = h.do("GET", "/statistics/devices", "")
	h.wantStatus(r, 200, nil)
	if string(r.body) != `{"totalDeviceCount":4,"enabledDeviceCount":3,"disabledDeviceCount":1}` {
		t.Errorf("statistics: %s", r.body)
	}
}
