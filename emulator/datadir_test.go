package emulator_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"
)

// TestDataDirKeepsTheHubAcrossRestarts: with a data dir, a second emulator
// started on it answers with the identities, keys, twins, versions, etags
// and policy keys the first one acknowledged, and its next etag is new.
func TestDataDirKeepsTheHubAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := func() (*emulator.Server, *service.RegistryClient) {
		t.Helper()
		s, err := emulator.Start(ctx, emulator.Options{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		reg, err := service.NewRegistryClient(s.ConnectionString(), service.WithTLSConfig(s.TLSConfig()))
		if err != nil {
			t.Fatal(err)
		}
		return s, reg
	}

	s1, reg := start()
	if _, err := reg.CreateDevice(ctx, &hub.Device{DeviceID: "dev1"}); err != nil {
		t.Fatal(err)
	}
	mod, err := reg.CreateModule(ctx, &hub.Module{DeviceID: "dev1", ModuleID: "mod1"})
	if err != nil {
		t.Fatal(err)
	}
	tw, err := reg.GetModuleTwin(ctx, "dev1", "mod1")
	if err != nil {
		t.Fatal(err)
	}
	patch := &hub.Twin{Tags: map[string]any{"site": "north"},
		Properties: &hub.TwinProperties{Desired: map[string]any{"telemetryInterval": 5, "nested": map[string]any{"a": 1.5}}}}
	if _, err := reg.UpdateModuleTwin(ctx, "dev1", "mod1", patch, tw.ETag); err != nil {
		t.Fatal(err)
	}
	cs := hub.ConnectionString{HostName: s1.HostName(), DeviceID: "dev1", ModuleID: "mod1", SharedAccessKey: mod.Authentication.SymmetricKey.PrimaryKey}
	c, err := device.DialModule(ctx, cs.String(), device.WithTLSConfig(s1.TLSConfig()), device.WithAddress(s1.MQTTAddr()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateReported(ctx, map[string]any{"firmware": "1.2.3"}); err != nil { // acknowledged: res/204
		t.Fatal(err)
	}
	c.Close()
	dev1, err := reg.GetDevice(ctx, "dev1")
	if err != nil {
		t.Fatal(err)
	}
	want, err := reg.GetModuleTwin(ctx, "dev1", "mod1")
	if err != nil {
		t.Fatal(err)
	}
	ownerKey := policyKey(t, s1, "iothubowner")
	serviceKey := policyKey(t, s1, "service")
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	s2, reg := start()
	defer s2.Close()
	if policyKey(t, s2, "iothubowner") != ownerKey || policyKey(t, s2, "service") != serviceKey {
		t.Fatal("the policies' keys changed across the restart")
	}
	gotDev, err := reg.GetDevice(ctx, "dev1")
	if err != nil {
		t.Fatalf("the device is gone after the restart: %v", err)
	}
	if gotDev.ETag != dev1.ETag || gotDev.GenerationID != dev1.GenerationID ||
		gotDev.Authentication.SymmetricKey.PrimaryKey != dev1.Authentication.SymmetricKey.PrimaryKey {
		t.Fatalf("device after restart %+v, before %+v", gotDev, dev1)
	}
	if gotDev.ConnectionState != "Disconnected" {
		t.Errorf("connection state after a restart: %q", gotDev.ConnectionState)
	}
	got, err := reg.GetModuleTwin(ctx, "dev1", "mod1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ETag != want.ETag || got.Version != want.Version || got.DesiredVersion() != want.DesiredVersion() ||
		got.ReportedVersion() != want.ReportedVersion() || got.Properties.Reported["firmware"] != "1.2.3" ||
		got.Tags["site"] != "north" || got.Properties.Desired["telemetryInterval"] != float64(5) {
		t.Fatalf("twin after restart %+v\nbefore %+v", got, want)
	}
	// The module's key still connects; the next identity etag is one no
	// earlier identity had.
	cs.HostName = s2.HostName()
	c2, err := device.DialModule(ctx, cs.String(), device.WithTLSConfig(s2.TLSConfig()), device.WithAddress(s2.MQTTAddr()))
	if err != nil {
		t.Fatalf("the module's key after the restart: %v", err)
	}
	c2.Close()
	d2, err := reg.CreateDevice(ctx, &hub.Device{DeviceID: "dev2"})
	if err != nil {
		t.Fatal(err)
	}
	for _, old := range []string{dev1.ETag, mod.ETag} {
		if d2.ETag == old {
			t.Fatalf("a new device got etag %s, which an identity of the first run had", old)
		}
	}
}

func policyKey(t *testing.T, s *emulator.Server, name string) string {
	t.Helper()
	cs, err := s.PolicyConnectionString(name)
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := strings.Cut(cs, "SharedAccessKey=")
	return key
}
