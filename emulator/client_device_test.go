package emulator_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"

	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub"
)

// moduleOnEmulator starts an emulator with one module and returns the
// module's connection string and the dial options that reach it.
func moduleOnEmulator(t *testing.T) (*emulator.Server, *service.RegistryClient, string, []device.Option) {
	t.Helper()
	return moduleOnEmulatorWith(t, emulator.Options{})
}

func moduleOnEmulatorWith(t *testing.T, o emulator.Options) (*emulator.Server, *service.RegistryClient, string, []device.Option) {
	t.Helper()
	ctx := context.Background()
	s, reg := startHubWith(t, o)
	if _, err := reg.CreateDevice(ctx, &hub.Device{DeviceID: "dev1"}); err != nil {
		t.Fatal(err)
	}
	m, err := reg.CreateModule(ctx, &hub.Module{DeviceID: "dev1", ModuleID: "mod1"})
	if err != nil {
		t.Fatal(err)
	}
	cs := hub.ConnectionString{HostName: s.HostName(), DeviceID: "dev1", ModuleID: "mod1", SharedAccessKey: m.Authentication.SymmetricKey.PrimaryKey}
	return s, reg, cs.String(), []device.Option{device.WithTLSConfig(s.TLSConfig()), device.WithAddress(s.MQTTAddr())}
}

func dialModule(t *testing.T, cs string, opts []device.Option) *device.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := device.DialModule(ctx, cs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func setDesired(t *testing.T, reg *service.RegistryClient, key string, value any) int64 {
	t.Helper()
	twin, err := reg.UpdateModuleTwin(context.Background(), "dev1", "mod1",
		&hub.Twin{Properties: &hub.TwinProperties{Desired: map[string]any{key: value}}}, "*")
	if err != nil {
		t.Fatal(err)
	}
	return twin.DesiredVersion()
}

func nextPatch(t *testing.T, c *device.Client) device.DesiredPatch {
	t.Helper()
	select {
	case p := <-c.DesiredPatches():
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no desired patch within 10s")
		return device.DesiredPatch{}
	}
}

func TestMQTTClientTwinRoundTrip(t *testing.T) {
	_, reg, cs, opts := moduleOnEmulator(t)
	c := dialModule(t, cs, opts)
	ctx := context.Background()

	props, err := c.GetTwin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if hub.SectionVersion(props.Desired) != 1 || hub.SectionVersion(props.Reported) != 1 {
		t.Fatalf("fresh twin versions: %v %v", props.Desired, props.Reported)
	}
	raw, err := c.GetTwinJSON(ctx)
	if err != nil || !strings.Contains(string(raw), `"desired"`) || strings.Contains(string(raw), `"tags"`) {
		t.Fatalf("GetTwinJSON = %s, %v; want desired and reported only", raw, err)
	}
	v, err := c.UpdateReported(ctx, map[string]any{"telemetryInterval": 122})
	if err != nil || v != 2 {
		t.Fatalf("UpdateReported = %d, %v; want 2", v, err)
	}
	if _, err := c.UpdateReportedJSON(ctx, []byte(`{"a":`)); !errors.Is(err, hub.ErrIotHubFormatError) {
		t.Fatalf("malformed reported patch: %v", err)
	}

	version := setDesired(t, reg, "telemetryInterval", 122)
	p := nextPatch(t, c)
	if p.Version != version || p.Full || p.Properties["telemetryInterval"] != float64(122) {
		t.Fatalf("patch %+v, want version %d with telemetryInterval 122", p, version)
	}
}

// TestMQTTClientResyncsAfterReconnect: a patch the client missed (the push
// was lost, then the connection dropped) arrives as one Full patch after
// the reconnect, and later patches follow without duplicates.
func TestMQTTClientResyncsAfterReconnect(t *testing.T) {
	s, reg, cs, opts := moduleOnEmulator(t)
	c := dialModule(t, cs, opts)

	if err := s.DropDesiredPushes(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	missed := setDesired(t, reg, "telemetryInterval", 30)
	if dropped, err := s.DropConnection(context.Background(), "dev1", "mod1"); !dropped || err != nil {
		t.Fatalf("DropConnection = %v, %v; want a connection dropped", dropped, err)
	}
	p := nextPatch(t, c)
	if !p.Full || p.Version != missed || p.Properties["telemetryInterval"] != float64(30) {
		t.Fatalf("after reconnect got %+v, want a Full patch at version %d", p, missed)
	}
	next := setDesired(t, reg, "telemetryInterval", 60)
	p = nextPatch(t, c)
	if p.Full || p.Version != next || p.Properties["telemetryInterval"] != float64(60) {
		t.Fatalf("got %+v, want the patch at version %d", p, next)
	}
	// A duplicate of either patch would arrive before this one.
	last := setDesired(t, reg, "telemetryInterval", 90)
	if p = nextPatch(t, c); p.Version != last {
		t.Fatalf("got %+v, want the patch at version %d", p, last)
	}
}

// TestMQTTClientRenewsToken: the hub's clock runs past the first token's
// expiry and its 5-minute grace, so the renewal reconnect is accepted only
// with a fresh token; the client keeps working on the new connection.
func TestMQTTClientRenewsToken(t *testing.T) {
	clock := &fakeClock{at: time.Now()}
	s, reg, cs, opts := moduleOnEmulatorWith(t, emulator.Options{Now: clock.now})
	c := dialModule(t, cs, append(opts, device.WithTokenTTL(2*time.Second), device.WithTokenTime(clock.now)))
	clock.advance(10 * time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.AwaitConnections(ctx, "dev1", "mod1", 2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateReported(ctx, map[string]any{"alive": true}); err != nil {
		t.Fatal(err)
	}
	version := setDesired(t, reg, "after", "renewal")
	if p := nextPatch(t, c); p.Version != version {
		t.Fatalf("got patch %+v, want version %d", p, version)
	}
}

// TestMQTTClientReadsTheTwinAfterAVersionGap: a lost push shows as a
// skipped $version; the client reads the twin and delivers one Full patch
// holding both changes instead of the incomplete later one.
func TestMQTTClientReadsTheTwinAfterAVersionGap(t *testing.T) {
	s, reg, cs, opts := moduleOnEmulator(t)
	c := dialModule(t, cs, opts)
	if err := s.DropDesiredPushes(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	setDesired(t, reg, "first", 1)
	version := setDesired(t, reg, "second", 2)
	p := nextPatch(t, c)
	if !p.Full || p.Version != version || p.Properties["first"] != float64(1) || p.Properties["second"] != float64(2) {
		t.Fatalf("got %+v, want a Full patch at version %d with both properties", p, version)
	}
}

type fakeClock struct {
	mu sync.Mutex
	at time.Time
}

func (f *fakeClock) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.at
}

func (f *fakeClock) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.at = f.at.Add(d)
}

func TestDialModuleWithWrongKeyIsRefused(t *testing.T) {
	_, _, cs, opts := moduleOnEmulator(t)
	parsed, err := hub.ParseConnectionString(cs)
	if err != nil {
		t.Fatal(err)
	}
	parsed.SharedAccessKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	_, err = device.DialModule(context.Background(), parsed.String(), opts...)
	var refused *device.ConnectRefusedError
	if !errors.As(err, &refused) || refused.Code != 5 {
		t.Fatalf("want CONNACK 5, got %v", err)
	}
}

// TestDialModuleUnreachableIsNotARefusal: nothing listening is a network
// error, not a CONNACK refusal.
func TestDialModuleUnreachableIsNotARefusal(t *testing.T) {
	_, _, cs, opts := moduleOnEmulator(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = device.DialModule(ctx, cs, append(opts, device.WithAddress(addr))...)
	var refused *device.ConnectRefusedError
	if err == nil || errors.As(err, &refused) {
		t.Fatalf("want a network error, got %v", err)
	}
}
