package hub_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub"
)

// moduleOnEmulator starts an emulator with one module and returns the
// module's connection string and the dial options that reach it.
func moduleOnEmulator(t *testing.T) (*emulator.Server, *hub.RegistryClient, string, []hub.DialOption) {
	t.Helper()
	ctx := context.Background()
	s, err := emulator.Start(ctx, emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	reg, err := hub.NewRegistryClient(s.ConnectionString(), hub.WithTLSConfig(s.TLSConfig()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.CreateDevice(ctx, &hub.Device{DeviceID: "dev1"}); err != nil {
		t.Fatal(err)
	}
	m, err := reg.CreateModule(ctx, &hub.Module{DeviceID: "dev1", ModuleID: "mod1"})
	if err != nil {
		t.Fatal(err)
	}
	cs := hub.ConnectionString{HostName: s.HostName(), DeviceID: "dev1", ModuleID: "mod1", SharedAccessKey: m.Authentication.SymmetricKey.PrimaryKey}
	return s, reg, cs.String(), []hub.DialOption{hub.DialTLSConfig(s.TLSConfig()), hub.DialAddress(s.MQTTAddr())}
}

func dialModule(t *testing.T, cs string, opts []hub.DialOption) *hub.MQTTClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := hub.DialModule(ctx, cs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func setDesired(t *testing.T, reg *hub.RegistryClient, key string, value any) int64 {
	t.Helper()
	twin, err := reg.UpdateModuleTwin(context.Background(), "dev1", "mod1",
		&hub.Twin{Properties: &hub.TwinProperties{Desired: map[string]any{key: value}}}, "*")
	if err != nil {
		t.Fatal(err)
	}
	return twin.DesiredVersion()
}

func nextPatch(t *testing.T, c *hub.MQTTClient) hub.DesiredPatch {
	t.Helper()
	select {
	case p := <-c.DesiredPatches():
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no desired patch within 10s")
		return hub.DesiredPatch{}
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
	v, err := c.UpdateReported(ctx, map[string]any{"telemetryInterval": 122})
	if err != nil || v != 2 {
		t.Fatalf("UpdateReported = %d, %v; want 2", v, err)
	}
	if _, err := c.UpdateReportedJSON(ctx, []byte(`{"a":`)); !errors.Is(err, hub.ErrIotHubFormatError) && !errors.Is(err, hub.ErrArgumentInvalid) {
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

	s.DropDesiredPushes(1)
	missed := setDesired(t, reg, "telemetryInterval", 30)
	if !s.DropConnection("dev1", "mod1") {
		t.Fatal("no connection to drop")
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

// TestMQTTClientRenewsToken: with a short token lifetime the client
// reconnects with a fresh token and keeps working.
func TestMQTTClientRenewsToken(t *testing.T) {
	s, reg, cs, opts := moduleOnEmulator(t)
	c := dialModule(t, cs, append(opts, hub.DialTokenTTL(2*time.Second)))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.AwaitConnections(ctx, "dev1", "mod1", 3); err != nil {
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

func TestDialModuleWithWrongKeyIsRefused(t *testing.T) {
	_, _, cs, opts := moduleOnEmulator(t)
	parsed, err := hub.ParseConnectionString(cs)
	if err != nil {
		t.Fatal(err)
	}
	parsed.SharedAccessKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	_, err = hub.DialModule(context.Background(), parsed.String(), opts...)
	var refused *hub.ConnectRefusedError
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
	_, err = hub.DialModule(ctx, cs, append(opts, hub.DialAddress(addr))...)
	var refused *hub.ConnectRefusedError
	if err == nil || errors.As(err, &refused) {
		t.Fatalf("want a network error, got %v", err)
	}
}
