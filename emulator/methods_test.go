package emulator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/service"
)

// The direct method tests speak both sides on the wire: the service's POST
// as curl would send it, the identity's side with a bare paho client.

const methodsFilter = "$iothub/methods/POST/#"

// methodCallResult is what a POST .../methods answered.
type methodCallResult struct {
	status int
	header map[string][]string
	body   string
	err    error
}

// invokeAsync posts a method call as the service policy and returns at
// once; the answer comes on the channel.
func invokeAsync(s *emulator.Server, path, body string) <-chan methodCallResult {
	out := make(chan methodCallResult, 1)
	go func() {
		status, h, b, err := post(s, "service", "POST", path+"?api-version=2021-04-12", body)
		out <- methodCallResult{status, h, b, err}
	}()
	return out
}

// awaitCall waits for a call's answer, for up to d.
func awaitCall(t *testing.T, calls <-chan methodCallResult, d time.Duration) methodCallResult {
	t.Helper()
	select {
	case r := <-calls:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r
	case <-time.After(d):
		t.Fatalf("the method call did not end within %s", d)
		return methodCallResult{}
	}
}

// methodRequest waits for the next method request on rc and returns its
// name and request id.
func methodRequest(t *testing.T, rc *rawClient) (name, rid string, msg paho.Message) {
	t.Helper()
	msg = rc.next(t)
	rest, ok := strings.CutPrefix(msg.Topic(), "$iothub/methods/POST/")
	name, query, ok2 := strings.Cut(rest, "/?")
	q, err := url.ParseQuery(query)
	if !ok || !ok2 || err != nil || q.Get("$rid") == "" {
		t.Fatalf("not a method request: %s", msg.Topic())
	}
	return name, q.Get("$rid"), msg
}

// methodModule creates a module and connects it with a bare client
// subscribed to method requests.
func methodModule(t *testing.T, s *emulator.Server, reg *service.RegistryClient, deviceID, moduleID string) *rawClient {
	t.Helper()
	rc := mustDial(t, s, moduleCreds(t, s, createModule(t, reg, deviceID, moduleID), "", time.Now().Add(time.Hour)))
	rc.subscribe(t, methodsFilter)
	return rc
}

func assertHubError(t *testing.T, r methodCallResult, want *hub.Error) *hub.Error {
	t.Helper()
	got := hub.ParseError(r.status, r.header["Iothub-Errorcode"][0], []byte(r.body))
	if r.status != want.StatusCode || got.Code != want.Code || got.Name != want.Name {
		t.Fatalf("answer %d %s: want %s", r.status, r.body, want.StatusText())
	}
	return got
}

// TestMethodRoundTrip: the service's call reaches the module alone, at
// QoS 0, with the payload as sent; the module's status and payload come
// back as {"status", "payload"}.
func TestMethodRoundTrip(t *testing.T) {
	s, reg := startHub(t)
	rc := methodModule(t, s, reg, "dev1", "mod1")
	sibling := methodModule(t, s, reg, "dev1", "mod2")
	calls := invokeAsync(s, "/twins/dev1/modules/mod1/methods",
		`{"methodName":"reboot","payload":{"delay": 1.50},"responseTimeoutInSeconds":30,"connectTimeoutInSeconds":0}`)
	name, rid, msg := methodRequest(t, rc)
	if name != "reboot" || msg.Qos() != 0 || string(msg.Payload()) != `{"delay": 1.50}` {
		t.Fatalf("request %s qos %d payload %s; want reboot at QoS 0 with the payload as sent", msg.Topic(), msg.Qos(), msg.Payload())
	}
	rc.publish(t, "$iothub/methods/res/201/?$rid="+rid, 1, `{"rebooted": true, "at": 1.0}`)
	r := awaitCall(t, calls, wait)
	if r.status != 200 || !strings.HasPrefix(r.header["Content-Type"][0], "application/json") {
		t.Fatalf("answer %d %v: %s", r.status, r.header, r.body)
	}
	if want := `{"status":201,"payload":{"rebooted":true,"at":1.0}}`; r.body != want {
		t.Fatalf("answer %s, want %s", r.body, want)
	}
	select {
	case m := <-sibling.msgs:
		t.Fatalf("another module of the device saw the call: %s", m.Topic())
	default:
	}
}

// TestMethodCallWithoutPayloadSendsAnEmptyBody: a payload that is absent
// or null reaches the device as an empty body, and an empty answer is
// payload null; the Python SDK's "" is a JSON string and arrives as one.
func TestMethodCallWithoutPayloadSendsAnEmptyBody(t *testing.T) {
	s, reg := startHub(t)
	rc := methodModule(t, s, reg, "dev1", "mod1")
	for body, want := range map[string]string{
		`{"methodName":"m"}`:                ``,
		`{"methodName":"m","payload":null}`: ``,
		`{"methodName":"m","payload":""}`:   `""`,
	} {
		calls := invokeAsync(s, "/twins/dev1/modules/mod1/methods", body)
		_, rid, msg := methodRequest(t, rc)
		if string(msg.Payload()) != want {
			t.Errorf("%s: the device got %q, want %q", body, msg.Payload(), want)
		}
		rc.publish(t, "$iothub/methods/res/200/?$rid="+rid, 1, "")
		if r := awaitCall(t, calls, wait); r.body != `{"status":200,"payload":null}` {
			t.Errorf("%s: answer %d %s, want payload null", body, r.status, r.body)
		}
	}
}

// TestMethodCallToAnIdentityNotOnline: 404 DeviceNotOnline when the module
// is not connected, or is connected without a subscription to method
// requests; 404 DeviceNotFound/ModuleNotFound when it does not exist, and
// DeviceNotFound for a disabled device.
func TestMethodCallToAnIdentityNotOnline(t *testing.T) {
	s, reg := startHub(t)
	ctx := context.Background()
	m := createModule(t, reg, "dev1", "mod1")
	body := `{"methodName":"reboot"}`
	r := awaitCall(t, invokeAsync(s, "/twins/dev1/modules/mod1/methods", body), wait)
	e := assertHubError(t, r, hub.ErrDeviceNotOnline)
	if e.Message != "Timed out waiting for device to connect." || string(e.Info) != `{"timeout":"00:00:00"}` {
		t.Fatalf("404103 message %q info %s", e.Message, e.Info)
	}

	rc := mustDial(t, s, moduleCreds(t, s, m, "", time.Now().Add(time.Hour)))
	rc.subscribe(t, "$iothub/twin/res/#") // not to methods
	assertHubError(t, awaitCall(t, invokeAsync(s, "/twins/dev1/modules/mod1/methods", body), wait), hub.ErrDeviceNotOnline)

	assertHubError(t, awaitCall(t, invokeAsync(s, "/twins/nodev/methods", body), wait), hub.ErrDeviceNotFound)
	assertHubError(t, awaitCall(t, invokeAsync(s, "/twins/dev1/modules/nomod/methods", body), wait), hub.ErrModuleNotFound)

	d, err := reg.GetDevice(ctx, "dev1")
	if err != nil {
		t.Fatal(err)
	}
	d.Status = hub.StatusDisabled
	if _, err := reg.UpdateDevice(ctx, d, "*"); err != nil {
		t.Fatal(err)
	}
	assertHubError(t, awaitCall(t, invokeAsync(s, "/twins/dev1/methods", body), wait), hub.ErrDeviceNotFound)
}

// TestMethodCallWaitsForTheConnectTimeout: with connectTimeoutInSeconds the
// hub waits for the module to connect and subscribe, then delivers.
func TestMethodCallWaitsForTheConnectTimeout(t *testing.T) {
	s, reg := startHub(t)
	m := createModule(t, reg, "dev1", "mod1")
	calls := invokeAsync(s, "/twins/dev1/modules/mod1/methods", `{"methodName":"late","connectTimeoutInSeconds":20}`)
	rc := mustDial(t, s, moduleCreds(t, s, m, "", time.Now().Add(time.Hour)))
	select {
	case r := <-calls:
		t.Fatalf("the call ended before the module subscribed: %d %s", r.status, r.body)
	default:
	}
	rc.subscribe(t, methodsFilter)
	_, rid, _ := methodRequest(t, rc)
	rc.publish(t, "$iothub/methods/res/200/?$rid="+rid, 1, `"ok"`)
	if r := awaitCall(t, calls, wait); r.body != `{"status":200,"payload":"ok"}` {
		t.Fatalf("answer %d %s", r.status, r.body)
	}
}

// TestMethodAnswersThatDoNotCount: an answer with a request id the hub
// never gave, one from another identity, one whose status is not an
// integer, whose body is not JSON or is over 128 KB, are all dropped and
// leave the connection open; the call then takes its own answer.
func TestMethodAnswersThatDoNotCount(t *testing.T) {
	s, reg := startHub(t)
	rc := methodModule(t, s, reg, "dev1", "mod1")
	other := methodModule(t, s, reg, "dev1", "mod2")
	calls := invokeAsync(s, "/twins/dev1/modules/mod1/methods", `{"methodName":"reboot"}`)
	_, rid, _ := methodRequest(t, rc)
	other.publish(t, "$iothub/methods/res/500/?$rid="+rid, 1, `"from mod2"`)
	rc.publish(t, "$iothub/methods/res/501/?$rid=no-such-rid", 1, `"unknown rid"`)
	rc.publish(t, "$iothub/methods/res/2x/?$rid="+rid, 1, `"bad status"`)
	rc.publish(t, "$iothub/methods/res/502/?$rid="+rid, 1, `not json`)
	rc.publish(t, "$iothub/methods/res/503/?$rid="+rid, 1, `"`+strings.Repeat("x", 128<<10-1)+`"`)
	rc.publish(t, "$iothub/methods/res/200/?$rid="+rid, 1, `"`+strings.Repeat("y", 128<<10-2)+`"`)
	r := awaitCall(t, calls, wait)
	var got struct {
		Status  int    `json:"status"`
		Payload string `json:"payload"`
	}
	if err := json.Unmarshal([]byte(r.body), &got); err != nil || got.Status != 200 || len(got.Payload) != 128<<10-2 {
		t.Fatalf("answer %d (status %d, %d payload characters), want the module's own 200 with 128 KB", r.status, got.Status, len(got.Payload))
	}
	for _, c := range []*rawClient{rc, other} {
		c.subscribe(t, "$iothub/twin/res/#") // a round trip: the connection is open
	}
}

// TestMethodManyCallsInFlight: calls to one module are matched to their
// answers by request id, whatever order the answers come in.
func TestMethodManyCallsInFlight(t *testing.T) {
	s, reg := startHub(t)
	rc := methodModule(t, s, reg, "dev1", "mod1")
	const n = 5
	calls := map[string]<-chan methodCallResult{}
	for i := range n {
		name := fmt.Sprintf("m%d", i)
		calls[name] = invokeAsync(s, "/twins/dev1/modules/mod1/methods", `{"methodName":"`+name+`"}`)
	}
	rids := map[string]string{}
	for range n {
		name, rid, _ := methodRequest(t, rc)
		rids[name] = rid
	}
	for i := n - 1; i >= 0; i-- {
		name := fmt.Sprintf("m%d", i)
		rc.publish(t, fmt.Sprintf("$iothub/methods/res/%d/?$rid=%s", 200+i, rids[name]), 1, `"`+name+`"`)
	}
	for i := range n {
		name := fmt.Sprintf("m%d", i)
		if r, want := awaitCall(t, calls[name], wait), fmt.Sprintf(`{"status":%d,"payload":"%s"}`, 200+i, name); r.body != want {
			t.Errorf("%s answered %s, want %s", name, r.body, want)
		}
	}
}
