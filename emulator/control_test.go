package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub/service"

	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub"
)

// post sends a request signed with a policy's connection string ("" sends
// no Authorization) and returns the status, header and body.
func post(s *emulator.Server, policy, method, path, body string) (int, http.Header, string, error) {
	req, err := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, "", err
	}
	if policy != "" {
		pcs, err := s.PolicyConnectionString(policy)
		if err != nil {
			return 0, nil, "", err
		}
		cs, _ := hub.ParseConnectionString(pcs)
		token, err := cs.SASToken(time.Hour, time.Now())
		if err != nil {
			return 0, nil, "", err
		}
		req.Header.Set("Authorization", token)
	}
	resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: s.TLSConfig()}}).Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b), err
}

// control is post for the test's own goroutine.
func control(t *testing.T, s *emulator.Server, policy, method, path, body string) (int, http.Header, string) {
	t.Helper()
	status, h, b, err := post(s, policy, method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	return status, h, b
}

func TestControlPlaneAuthorizesLikeARegistryWrite(t *testing.T) {
	s, _ := startHub(t)
	body := `{"deviceId":"dev1","moduleId":"","atLeast":0,"waitSeconds":0}`
	for _, tc := range []struct {
		policy string
		status int
	}{
		{"iothubowner", 200}, {"registryReadWrite", 200},
		{"registryRead", 401}, {"service", 401}, {"device", 401}, {"", 401},
	} {
		status, h, got := control(t, s, tc.policy, http.MethodPost, "/$hubspec/connections/await", body)
		if status != tc.status || status == 401 && h.Get("iothub-errorcode") != "IotHubUnauthorizedAccess" {
			t.Errorf("policy %q: %d %s %s, want %d", tc.policy, status, h.Get("iothub-errorcode"), got, tc.status)
		}
	}
}

func TestControlPlaneErrorsInTheHubsShape(t *testing.T) {
	s, _ := startHub(t)
	for _, tc := range []struct {
		method, path, body string
		status             int
		name               string
	}{
		{"POST", "/$hubspec/nothing", `{}`, 404, "GenericNotFound"},
		{"GET", "/$hubspec/registry-faults", ``, 405, "GenericMethodNotAllowed"},
		{"POST", "/$hubspec/registry-faults", `{"deviceId":"d"`, 400, "IotHubFormatError"},
		{"POST", "/$hubspec/registry-faults", `{"deviceId":"d","count":1,"errorName":"ThrottlingException","extra":1}`, 400, "IotHubFormatError"},
		{"POST", "/$hubspec/registry-faults", `{"deviceId":"d","count":1,"errorName":"NoSuchError"}`, 400, "ArgumentInvalid"},
		{"POST", "/$hubspec/registry-faults", `{"deviceId":"d","count":-1,"errorName":"ThrottlingException"}`, 400, "ArgumentInvalid"},
		{"POST", "/$hubspec/connections/await", `{"deviceId":"","atLeast":1}`, 400, "ArgumentInvalid"},
		{"POST", "/$hubspec/connections/await", `{"deviceId":"d","waitSeconds":-1}`, 400, "ArgumentInvalid"},
		{"POST", "/$hubspec/connections/drop", `{"moduleId":"m"}`, 400, "ArgumentInvalid"},
		{"POST", "/$hubspec/desired-pushes/drop", `{"count":1,"deviceId":"d"}`, 400, "IotHubFormatError"},
	} {
		status, h, body := control(t, s, "iothubowner", tc.method, tc.path, tc.body)
		e := hub.ParseError(status, h.Get("iothub-errorcode"), []byte(body))
		if status != tc.status || e.Name != tc.name || h.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("%s %s %s: %d %s %s, want %d %s", tc.method, tc.path, tc.body, status, e.Name, body, tc.status, tc.name)
		}
	}
}

// TestRegistryFaultsFailTheDevicesCalls: the next n calls naming the device
// (itself, its modules, the twins) fail exactly as a throttled hub answers;
// other devices and unauthorized calls do not use them up.
func TestRegistryFaultsFailTheDevicesCalls(t *testing.T) {
	s, reg := startHub(t)
	ctx := context.Background()
	createModule(t, reg, "dev1", "mod1")
	createModule(t, reg, "dev2", "mod1")
	status, _, body := control(t, s, "iothubowner", "POST", "/$hubspec/registry-faults", `{"deviceId":"dev1","count":4,"errorName":"ThrottlingException"}`)
	if status != 200 || body != `{"deviceId":"dev1","count":4,"errorName":"ThrottlingException"}` {
		t.Fatalf("set registry faults: %d %s", status, body)
	}
	once, err := service.NewRegistryClient(s.ConnectionString(), service.WithTLSConfig(s.TLSConfig()), service.WithRetry(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := once.GetDevice(ctx, "dev2"); err != nil {
		t.Fatalf("another device: %v", err)
	}
	if status, _, _ := control(t, s, "", "GET", "/devices/dev1?api-version=2021-04-12", ""); status != 401 {
		t.Fatalf("unauthorized call: %d, want 401 before any fault", status)
	}
	calls := []func() error{
		func() error { _, err := once.GetDevice(ctx, "dev1"); return err },
		func() error { _, err := once.ListModules(ctx, "dev1"); return err },
		func() error { _, err := once.GetModuleTwin(ctx, "dev1", "mod1"); return err },
	}
	for i, call := range calls {
		if err := call(); !errors.Is(err, hub.ErrThrottled) || !strings.Contains(err.Error(), "throttled") {
			t.Fatalf("call %d: %v, want 429 ThrottlingException", i, err)
		}
	}
	status, h, body := control(t, s, "iothubowner", "GET", "/twins/dev1?api-version=2021-04-12", "")
	e := hub.ParseError(status, h.Get("iothub-errorcode"), []byte(body))
	var shape struct{ Message, ExceptionMessage string }
	if status != 429 || h.Get("iothub-errorcode") != "ThrottlingException" || e.Code != 429001 ||
		json.Unmarshal([]byte(body), &shape) != nil || !strings.Contains(shape.Message, `"errorCode":429001`) || h.Get("Retry-After") != "" {
		t.Fatalf("fourth call: %d %v %s", status, h, body)
	}
	if _, err := once.GetDevice(ctx, "dev1"); err != nil {
		t.Fatalf("fifth call: %v, want the faults used up", err)
	}
}

func TestFailRegistryCallsClearsAndRejects(t *testing.T) {
	s, _ := startHub(t)
	once, err := service.NewRegistryClient(s.ConnectionString(), service.WithTLSConfig(s.TLSConfig()), service.WithRetry(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	createModule(t, once, "dev1", "mod1")
	if err := s.FailRegistryCalls(context.Background(), "dev1", 3, "ServiceUnavailable"); err != nil {
		t.Fatal(err)
	}
	if _, err := once.GetModule(context.Background(), "dev1", "mod1"); !errors.Is(err, hub.ErrServiceUnavailable) {
		t.Fatalf("GetModule with faults set: %v, want 503 ServiceUnavailable", err)
	}
	if err := s.FailRegistryCalls(context.Background(), "dev1", 0, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := once.GetModule(context.Background(), "dev1", "mod1"); err != nil {
		t.Fatalf("GetModule after clearing: %v", err)
	}
	for _, bad := range []struct {
		d, name string
		n       int
	}{{"", "ThrottlingException", 1}, {"d", "ThrottlingException", -1}, {"d", "Throttled", 1}} {
		if err := s.FailRegistryCalls(context.Background(), bad.d, bad.n, bad.name); err == nil {
			t.Errorf("FailRegistryCalls(%q, %d, %q) succeeded", bad.d, bad.n, bad.name)
		}
	}
}

// TestControlAwaitAndDropConnections: the long poll answers as soon as the
// connection is accepted, and drop closes it.
func TestControlAwaitAndDropConnections(t *testing.T) {
	s, reg := startHub(t)
	m := createModule(t, reg, "dev1", "mod1")
	if _, _, body := control(t, s, "iothubowner", "POST", "/$hubspec/connections/await", `{"deviceId":"dev1","moduleId":"mod1"}`); body != `{"deviceId":"dev1","moduleId":"mod1","connections":0}` {
		t.Fatalf("await without waiting: %s", body)
	}
	answered := make(chan string, 1)
	go func() {
		_, _, body, err := post(s, "iothubowner", "POST", "/$hubspec/connections/await", `{"deviceId":"dev1","moduleId":"mod1","atLeast":1,"waitSeconds":30}`)
		answered <- body + errString(err)
	}()
	rc := mustDial(t, s, moduleCreds(t, s, m, "", time.Now().Add(time.Hour)))
	select {
	case body := <-answered:
		if body != `{"deviceId":"dev1","moduleId":"mod1","connections":1}` {
			t.Fatalf("await: %s", body)
		}
	case <-time.After(wait):
		t.Fatal("the long poll did not answer the accepted connection")
	}
	if _, _, body := control(t, s, "iothubowner", "POST", "/$hubspec/connections/drop", `{"deviceId":"dev1","moduleId":"mod1"}`); body != `{"deviceId":"dev1","moduleId":"mod1","dropped":true}` {
		t.Fatalf("drop: %s", body)
	}
	rc.closedByHub(t)
	if _, _, body := control(t, s, "iothubowner", "POST", "/$hubspec/connections/drop", `{"deviceId":"dev1","moduleId":"mod1"}`); !strings.Contains(body, `"dropped":false`) {
		t.Fatalf("drop without a connection: %s", body)
	}
}

// TestControlDropDesiredPushesAnswersWhatItSet: the wire shape of the
// desired-push drop (its effect is checked in TestControlsConformance).
func TestControlDropDesiredPushesAnswersWhatItSet(t *testing.T) {
	s, _ := startHub(t)
	for _, body := range []string{`{"count":2}`, `{"count":-1}`, `{"count":0}`} {
		if status, _, got := control(t, s, "iothubowner", "POST", "/$hubspec/desired-pushes/drop", body); status != 200 || got != body {
			t.Errorf("drop desired pushes %s: %d %s", body, status, got)
		}
	}
}

// TestCloseEndsControlLongPolls: net/http's Shutdown waits for requests in
// flight, so Close must end a long poll rather than wait out its 30 s.
func TestCloseEndsControlLongPolls(t *testing.T) {
	waiting := make(chan struct{}, 1)
	s, err := emulator.Start(context.Background(), emulator.Options{Logger: slog.New(&recordWatch{msg: "control: waiting for connections", seen: waiting})})
	if err != nil {
		t.Fatal(err)
	}
	answered := make(chan string, 1)
	go func() {
		status, _, body, err := post(s, "iothubowner", "POST", "/$hubspec/connections/await", `{"deviceId":"dev1","atLeast":1,"waitSeconds":30}`)
		answered <- strconv.Itoa(status) + " " + body + errString(err)
	}()
	select {
	case <-waiting:
	case <-time.After(wait):
		t.Fatal("the long poll never started")
	}
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Close took %s: it waited for the long poll", took)
	}
	if got := <-answered; got != `200 {"deviceId":"dev1","moduleId":"","connections":0}` {
		t.Fatalf("the interrupted poll answered %s", got)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return " " + err.Error()
}
