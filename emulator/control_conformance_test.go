package emulator_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"

	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/internal/certtest"
)

// TestControlsConformance runs one body against both implementations of
// emulator.Controls: the Server itself and a ControlClient that reaches
// the same kind of Server over its HTTPS control plane. Whatever a test
// (or the harness's embedded and container targets) gets from one, it
// gets from the other.
func TestControlsConformance(t *testing.T) {
	for _, impl := range []struct {
		name     string
		controls func(*emulator.Server) (emulator.Controls, error)
	}{
		{"Server", func(s *emulator.Server) (emulator.Controls, error) { return s, nil }},
		{"ControlClient", func(s *emulator.Server) (emulator.Controls, error) {
			return emulator.NewControlClient(s.ConnectionString(), s.TLSConfig())
		}},
	} {
		t.Run(impl.name, func(t *testing.T) {
			s, _ := startHub(t)
			c, err := impl.controls(s)
			if err != nil {
				t.Fatal(err)
			}
			t.Run("FailRegistryCalls", func(t *testing.T) { conformRegistryFaults(t, s, c) })
			t.Run("AwaitAndDropConnections", func(t *testing.T) { conformConnections(t, s, c) })
			t.Run("DropDesiredPushes", func(t *testing.T) { conformDesiredDrops(t, s, c) })
			t.Run("RegisterDeviceCA", func(t *testing.T) { conformDeviceCAs(t, s, c) })
			t.Run("AwaitDeliveries", func(t *testing.T) { conformDeliveries(t, s, c) })
			t.Run("AwaitRegistryChange", func(t *testing.T) { conformRegistryChanges(t, s, c) })
			t.Run("AdvanceDeviceClock", func(t *testing.T) { conformDeviceClocks(t, s, c) })
		})
	}
}

// conformRegistryFaults: faults are per device, shaped like the hub's
// error, used up one call at a time, cleared by 0; bad arguments are
// refused with the same reason.
func conformRegistryFaults(t *testing.T, s *emulator.Server, c emulator.Controls) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	once, err := service.NewRegistryClient(s.ConnectionString(), service.WithTLSConfig(s.TLSConfig()), service.WithRetry(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	createModule(t, once, "faulty", "mod1")
	createModule(t, once, "other", "mod1")

	if err := c.FailRegistryCalls(ctx, "faulty", 2, "ThrottlingException"); err != nil {
		t.Fatal(err)
	}
	if _, err := once.GetModuleTwin(ctx, "other", "mod1"); err != nil {
		t.Fatalf("another device's call: %v", err)
	}
	for i := range 2 {
		if _, err := once.GetModuleTwin(ctx, "faulty", "mod1"); !errors.Is(err, hub.ErrThrottled) {
			t.Fatalf("call %d: %v, want 429 ThrottlingException", i, err)
		}
	}
	if _, err := once.GetModuleTwin(ctx, "faulty", "mod1"); err != nil {
		t.Fatalf("call after the faults were used up: %v", err)
	}

	if err := c.FailRegistryCalls(ctx, "faulty", 3, "ServiceUnavailable"); err != nil {
		t.Fatal(err)
	}
	if _, err := once.GetModule(ctx, "faulty", "mod1"); !errors.Is(err, hub.ErrServiceUnavailable) {
		t.Fatalf("GetModule with faults set: %v, want 503 ServiceUnavailable", err)
	}
	if err := c.FailRegistryCalls(ctx, "faulty", 0, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := once.GetModule(ctx, "faulty", "mod1"); err != nil {
		t.Fatalf("GetModule after clearing: %v", err)
	}

	for _, bad := range []struct {
		d, name string
		n       int
		reason  string
	}{
		{"", "ThrottlingException", 1, "no device id"},
		{"d", "ThrottlingException", -1, "count -1 is negative"},
		{"d", "NoSuchError", 1, `no IoT Hub error is named "NoSuchError"`},
	} {
		if err := c.FailRegistryCalls(ctx, bad.d, bad.n, bad.name); err == nil || !strings.Contains(err.Error(), bad.reason) {
			t.Errorf("FailRegistryCalls(%q, %d, %q) = %v, want an error saying %q", bad.d, bad.n, bad.name, err, bad.reason)
		}
	}
}

// conformConnections: the await sees a connection and, after a drop, the
// client's reconnect; an await that cannot be met ends with its context;
// dropping no connection reports false.
func conformConnections(t *testing.T, s *emulator.Server, c emulator.Controls) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reg, err := service.NewRegistryClient(s.ConnectionString(), service.WithTLSConfig(s.TLSConfig()))
	if err != nil {
		t.Fatal(err)
	}
	m := createModule(t, reg, "conn", "mod1")
	if err := c.AwaitConnections(ctx, "conn", "mod1", 0); err != nil {
		t.Fatalf("await 0 connections: %v", err)
	}
	if dropped, err := c.DropConnection(ctx, "conn", "mod1"); dropped || err != nil {
		t.Fatalf("DropConnection before any connection = %v, %v; want false, nil", dropped, err)
	}

	dev := ctlDial(t, s, m)
	defer dev.Close()
	if err := c.AwaitConnections(ctx, "conn", "mod1", 1); err != nil {
		t.Fatal(err)
	}
	if dropped, err := c.DropConnection(ctx, "conn", "mod1"); !dropped || err != nil {
		t.Fatalf("DropConnection = %v, %v; want true, nil", dropped, err)
	}
	if err := c.AwaitConnections(ctx, "conn", "mod1", 2); err != nil {
		t.Fatalf("the client's reconnect: %v", err)
	}
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancelShort()
	if err := c.AwaitConnections(short, "conn", "mod1", 3); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "conn/mod1") {
		t.Fatalf("an await that cannot be met: %v, want the identity and context.DeadlineExceeded", err)
	}
	if dropped, err := c.DropConnection(ctx, "nobody", ""); dropped || err != nil {
		t.Fatalf("DropConnection of an unknown device = %v, %v; want false, nil", dropped, err)
	}
}

// conformDeliveries: the barrier owes a disconnected identity nothing; for
// a connected one its marker follows the push of a change made before it,
// on a topic the client never subscribed to; a marker that could change
// the topic's meaning, or no device, is refused.
func conformDeliveries(t *testing.T, s *emulator.Server, c emulator.Controls) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reg, err := service.NewRegistryClient(s.ConnectionString(), service.WithTLSConfig(s.TLSConfig()))
	if err != nil {
		t.Fatal(err)
	}
	m := createModule(t, reg, "barrier", "mod1")
	if marked, err := c.AwaitDeliveries(ctx, "barrier", "mod1", "none"); marked || err != nil {
		t.Fatalf("AwaitDeliveries of an identity not connected = %v, %v; want false, nil", marked, err)
	}
	rc := mustDial(t, s, moduleCreds(t, s, m, "", time.Now().Add(time.Hour)))
	rc.subscribe(t, "$iothub/twin/PATCH/properties/desired/#")
	if _, err := reg.UpdateModuleTwin(ctx, "barrier", "mod1",
		&hub.Twin{Properties: &hub.TwinProperties{Desired: map[string]any{"k": 1}}}, "*"); err != nil {
		t.Fatal(err)
	}
	if marked, err := c.AwaitDeliveries(ctx, "barrier", "mod1", "tok-1"); !marked || err != nil {
		t.Fatalf("AwaitDeliveries = %v, %v; want true, nil", marked, err)
	}
	for _, want := range []string{"$iothub/twin/PATCH/properties/desired/", emulator.DeliveryMarkerPrefix + "tok-1"} {
		if got := rc.next(t).Topic(); !strings.HasPrefix(got, want) {
			t.Fatalf("received %q, want %s...", got, want)
		}
	}
	for _, bad := range []struct{ deviceID, marker string }{{"barrier", "a/#"}, {"", "m"}} {
		if _, err := c.AwaitDeliveries(ctx, bad.deviceID, "mod1", bad.marker); err == nil {
			t.Errorf("AwaitDeliveries(%q, marker %q) was accepted", bad.deviceID, bad.marker)
		}
	}
}

// conformRegistryChanges: after 0 answers the count at once; a wait past
// it ends with the next write, and without one with its context.
func conformRegistryChanges(t *testing.T, s *emulator.Server, c emulator.Controls) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reg, err := service.NewRegistryClient(s.ConnectionString(), service.WithTLSConfig(s.TLSConfig()))
	if err != nil {
		t.Fatal(err)
	}
	now, err := c.AwaitRegistryChange(ctx, 0)
	if err != nil || now == 0 {
		t.Fatalf("AwaitRegistryChange(0) = %d, %v; want the count at once", now, err)
	}
	next := make(chan error, 1)
	go func() {
		n, err := c.AwaitRegistryChange(ctx, now)
		if err == nil && n <= now {
			err = fmt.Errorf("answered %d, not past %d", n, now)
		}
		next <- err
	}()
	createModule(t, reg, "changes", "mod1")
	if err := <-next; err != nil {
		t.Fatalf("a wait for the change a write makes: %v", err)
	}
	after, _ := c.AwaitRegistryChange(ctx, 0)
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	if _, err := c.AwaitRegistryChange(short, after+1000); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a wait no change ends: %v, want context.DeadlineExceeded", err)
	}
}

// conformDesiredDrops: 0 restores delivery, and a dropped push shows as a
// version gap the client heals with one Full patch. (The drop is taken as
// the change is processed, after the call returns, so only counts set
// before the changes are checked: a reset racing a change is not.)
func conformDesiredDrops(t *testing.T, s *emulator.Server, c emulator.Controls) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reg, err := service.NewRegistryClient(s.ConnectionString(), service.WithTLSConfig(s.TLSConfig()))
	if err != nil {
		t.Fatal(err)
	}
	m := createModule(t, reg, "desired", "mod1")
	dev := ctlDial(t, s, m)
	defer dev.Close()
	set := func(key string, value int) int64 {
		t.Helper()
		twin, err := reg.UpdateModuleTwin(ctx, "desired", "mod1",
			&hub.Twin{Properties: &hub.TwinProperties{Desired: map[string]any{key: value}}}, "*")
		if err != nil {
			t.Fatal(err)
		}
		return twin.DesiredVersion()
	}

	if err := c.DropDesiredPushes(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := c.DropDesiredPushes(ctx, 0); err != nil {
		t.Fatal(err)
	}
	v := set("first", 1)
	if p := ctlPatch(t, ctx, dev); p.Full || p.Version != v || p.Properties["first"] != float64(1) {
		t.Fatalf("after DropDesiredPushes(0) got %+v, want the patch at version %d", p, v)
	}

	if err := c.DropDesiredPushes(ctx, 1); err != nil {
		t.Fatal(err)
	}
	set("second", 2)
	v = set("third", 3)
	if p := ctlPatch(t, ctx, dev); !p.Full || p.Version != v || p.Properties["second"] != float64(2) || p.Properties["third"] != float64(3) {
		t.Fatalf("after one dropped push got %+v, want one Full patch at version %d with both changes", p, v)
	}
}

// conformDeviceCAs: a registered CA authenticates the certificates it
// signs from then on; a bundle with a certificate that is no CA is refused
// whole, with 400 ArgumentInvalid, and registers nothing.
func conformDeviceCAs(t *testing.T, s *emulator.Server, c emulator.Controls) {
	ctx := context.Background()
	reg, err := service.NewRegistryClient(s.ConnectionString(), service.WithTLSConfig(s.TLSConfig()))
	if err != nil {
		t.Fatal(err)
	}
	h := &x509Hub{s: s, reg: reg}
	h.create(t, "ca-device", "", caAuth)
	ca := mint(t)(certtest.NewCA("conformance CA"))
	cert := mint(t)(ca.Sign("ca-device"))
	leaf := mint(t)(certtest.SelfSigned("leaf"))
	if err := c.RegisterDeviceCA(ctx, append(ca.CertPEM(), leaf.CertPEM()...)); !errors.Is(err, hub.ErrArgumentInvalid) {
		t.Fatalf("RegisterDeviceCA with a leaf in the bundle: %v, want 400 ArgumentInvalid", err)
	}
	if got := h.connect(t, "ca-device", "", cert); got != 5 {
		t.Fatalf("after a refused bundle: CONNACK %d, want 5", got)
	}
	if err := c.RegisterDeviceCA(ctx, ca.CertPEM()); err != nil {
		t.Fatal(err)
	}
	if got := h.connect(t, "ca-device", "", cert); got != 0 {
		t.Fatalf("after RegisterDeviceCA: CONNACK %d, want 0", got)
	}
}

func ctlDial(t *testing.T, s *emulator.Server, m *hub.Module) *device.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	cs := hub.ConnectionString{HostName: s.HostName(), DeviceID: m.DeviceID, ModuleID: m.ModuleID,
		SharedAccessKey: m.Authentication.SymmetricKey.PrimaryKey}
	c, err := device.DialModule(ctx, cs.String(), device.WithTLSConfig(s.TLSConfig()), device.WithAddress(s.MQTTAddr()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctlPatch(t *testing.T, ctx context.Context, c *device.Client) device.DesiredPatch {
	t.Helper()
	select {
	case p := <-c.DesiredPatches():
		return p
	case <-ctx.Done():
		t.Fatal("no desired patch before the test's deadline")
		return device.DesiredPatch{}
	}
}

// TestControlClientNeedsRegistryWrite: the client signs with its
// connection string's policy, and the control plane refuses a policy
// without RegistryWrite with the hub's 401; a device's connection string
// is no client at all.
func TestControlClientNeedsRegistryWrite(t *testing.T) {
	s, _ := startHub(t)
	svc, err := s.PolicyConnectionString("service") // ServiceConnect only
	if err != nil {
		t.Fatal(err)
	}
	weak, err := emulator.NewControlClient(svc, s.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := weak.DropConnection(context.Background(), "dev1", ""); !errors.Is(err, hub.ErrUnauthorized) {
		t.Fatalf("control with a policy without RegistryWrite: %v, want 401", err)
	}
	devCS := hub.ConnectionString{HostName: s.HostName(), DeviceID: "dev1", SharedAccessKey: "a2V5"}
	if _, err := emulator.NewControlClient(devCS.String(), s.TLSConfig()); err == nil {
		t.Fatal("a device connection string made a control client")
	}
}

// conformDeviceClocks: a move of a device's clock brings a pending direct
// method call's response timeout at once; an unknown device and a move by
// no time are refused with the hub's errors.
func conformDeviceClocks(t *testing.T, s *emulator.Server, c emulator.Controls) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reg, err := service.NewRegistryClient(s.ConnectionString(), service.WithTLSConfig(s.TLSConfig()))
	if err != nil {
		t.Fatal(err)
	}
	rc := methodModule(t, s, reg, "clocked", "mod1")
	start := time.Now()
	calls := invokeAsync(s, "/twins/clocked/modules/mod1/methods", `{"methodName":"m","responseTimeoutInSeconds":60}`)
	methodRequest(t, rc)
	if err := c.AdvanceDeviceClock(ctx, "clocked", 59500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := c.AdvanceDeviceClock(ctx, "clocked", 500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	assertHubError(t, awaitCallBefore(t, calls, start.Add(time.Minute)), hub.ErrGatewayTimeout)
	if err := c.AdvanceDeviceClock(ctx, "nobody", time.Second); !errors.Is(err, hub.ErrDeviceNotFound) {
		t.Errorf("unknown device: %v, want 404 DeviceNotFound", err)
	}
	if err := c.AdvanceDeviceClock(ctx, "clocked", 0); !errors.Is(err, hub.ErrArgumentInvalid) {
		t.Errorf("a move by no time: %v, want 400 ArgumentInvalid", err)
	}
}
