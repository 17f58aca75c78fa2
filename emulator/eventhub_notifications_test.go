package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/device"
	builtin "github.com/hubspec/hubspec/hub/events"
)

// openReader reads the emulator's built-in endpoint from its end, keeping
// the events of the given devices only.
func openReader(t testing.TB, s *emulator.Server, devices ...string) *builtin.Reader {
	t.Helper()
	tlsConfig := s.TLSConfig()
	tlsConfig.ServerName = "localhost" // go-amqp verifies host:port otherwise
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := builtin.Open(ctx, s.EventHubConnectionString(), builtin.WithTLSConfig(tlsConfig),
		builtin.WithFilter(func(deviceID, _ string) bool {
			for _, d := range devices {
				if d == deviceID {
					return true
				}
			}
			return false
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// awaitOp waits for the next event with the given opType.
func awaitOp(ctx context.Context, t *testing.T, r *builtin.Reader, opType string) builtin.Event {
	t.Helper()
	ev, err := r.Await(ctx, func(e builtin.Event) bool { return e.Properties["opType"] == opType })
	if err != nil {
		t.Fatalf("awaiting %s: %v (received %d events)", opType, err, len(r.Received()))
	}
	return ev
}

// checkEvent checks the properties every twin-change and lifecycle event
// carries, for the identity dev1 (moduleID "" for the device's own).
func checkEvent(t *testing.T, ev builtin.Event, kind builtin.Kind, moduleID, source, schema string) {
	t.Helper()
	sp, ap := ev.SystemProperties, ev.Properties
	if ev.Kind != kind || ev.DeviceID != "dev1" || ev.ModuleID != moduleID {
		t.Errorf("%s: kind %s identity %s/%s, want %s dev1/%s", ap["opType"], ev.Kind, ev.DeviceID, ev.ModuleID, kind, moduleID)
	}
	if sp["iothub-message-source"] != source || sp["content-type"] != "application/json" || sp["content-encoding"] != "utf-8" ||
		sp["user-id"] != "localhost" || sp["correlation-id"] == nil || sp["iothub-enqueuedtime"] == nil {
		t.Errorf("%s: system properties %v", ap["opType"], sp)
	}
	if ap["hubName"] != "localhost" || ap["deviceId"] != "dev1" || ap["iothub-message-schema"] != schema {
		t.Errorf("%s: application properties %v", ap["opType"], ap)
	}
	if _, err := time.Parse(time.RFC3339Nano, ap["operationTimestamp"].(string)); err != nil {
		t.Errorf("%s: operationTimestamp: %v", ap["opType"], err)
	}
	if m, ok := ap["moduleId"]; (moduleID == "" && ok) || (moduleID != "" && m != moduleID) {
		t.Errorf("%s: moduleId property %v, want %q", ap["opType"], m, moduleID)
	}
}

// body decodes an event's JSON body.
func body(t *testing.T, ev builtin.Event) map[string]any {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(ev.Body, &b); err != nil {
		t.Fatalf("%s body %q: %v", ev.Properties["opType"], ev.Body, err)
	}
	return b
}

// TestTwinAndLifecycleEvents: every committed registry and twin change,
// from REST and from a device's reported patch over MQTT alike, puts one
// event on the built-in endpoint with the properties and body the hub
// writes; a refused write puts none.
func TestTwinAndLifecycleEvents(t *testing.T) {
	s, reg := startHub(t)
	r := openReader(t, s, "dev1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if _, err := reg.CreateDevice(ctx, &hub.Device{DeviceID: "dev1"}); err != nil {
		t.Fatal(err)
	}
	ev := awaitOp(ctx, t, r, "createDeviceIdentity")
	checkEvent(t, ev, builtin.KindLifecycle, "", "deviceLifecycleEvents", "deviceLifecycleNotification")
	if b := body(t, ev); b["deviceId"] != "dev1" || b["etag"] != "AAAAAAAAAAE=" || b["version"] != 2.0 || b["properties"] == nil {
		t.Errorf("createDeviceIdentity body %s", ev.Body)
	}

	m, err := reg.CreateModule(ctx, &hub.Module{DeviceID: "dev1", ModuleID: "mod1"})
	if err != nil {
		t.Fatal(err)
	}
	ev = awaitOp(ctx, t, r, "createModuleIdentity")
	checkEvent(t, ev, builtin.KindLifecycle, "mod1", "deviceLifecycleEvents", "deviceLifecycleNotification")
	if b := body(t, ev); b["deviceId"] != "dev1" || b["moduleId"] != "mod1" {
		t.Errorf("createModuleIdentity body %s", ev.Body)
	}

	patch := &hub.Twin{Tags: map[string]any{"site": "a"}, Properties: &hub.TwinProperties{Desired: map[string]any{"interval": 5}}}
	tw, err := reg.UpdateModuleTwin(ctx, "dev1", "mod1", patch, "*")
	if err != nil {
		t.Fatal(err)
	}
	ev = awaitOp(ctx, t, r, "updateTwin")
	checkEvent(t, ev, builtin.KindTwinChange, "mod1", "twinChangeEvents", "twinChangeNotification")
	var up struct {
		Version    int64
		Tags       map[string]any
		Properties map[string]map[string]any
	}
	if err := json.Unmarshal(ev.Body, &up); err != nil {
		t.Fatal(err)
	}
	desired := up.Properties["desired"]
	meta, _ := desired["$metadata"].(map[string]any)
	if up.Version != tw.Version || up.Tags["site"] != "a" || desired["interval"] != 5.0 || desired["$version"] != 2.0 ||
		meta["interval"] == nil || meta["$lastUpdated"] == nil || up.Properties["reported"] != nil {
		t.Errorf("updateTwin (service) body %s, twin version %d", ev.Body, tw.Version)
	}

	cs := hub.ConnectionString{HostName: s.HostName(), DeviceID: "dev1", ModuleID: "mod1", SharedAccessKey: m.Authentication.SymmetricKey.PrimaryKey}
	dev := dialModule(t, cs.String(), []device.Option{device.WithTLSConfig(s.TLSConfig()), device.WithAddress(s.MQTTAddr())})
	if _, err := dev.UpdateReported(ctx, map[string]any{"temp": 21}); err != nil {
		t.Fatal(err)
	}
	ev = awaitOp(ctx, t, r, "updateTwin")
	checkEvent(t, ev, builtin.KindTwinChange, "mod1", "twinChangeEvents", "twinChangeNotification")
	up.Properties = nil
	if err := json.Unmarshal(ev.Body, &up); err != nil {
		t.Fatal(err)
	}
	reported := up.Properties["reported"]
	if up.Version != tw.Version+1 || reported["temp"] != 21.0 || reported["$version"] != 2.0 || up.Properties["desired"] != nil {
		t.Errorf("updateTwin (reported) body %s", ev.Body)
	}

	if _, err := reg.UpdateModuleTwin(ctx, "dev1", "mod1", patch, "AAAAAAAAAAE="); !errors.Is(err, hub.ErrPreconditionFailed) {
		t.Fatalf("a stale etag: %v, want 412", err)
	}
	if _, err := reg.ReplaceModuleTwin(ctx, "dev1", "mod1", &hub.Twin{Properties: &hub.TwinProperties{Desired: map[string]any{"mode": "eco"}}}, "*"); err != nil {
		t.Fatal(err)
	}
	ev = awaitOp(ctx, t, r, "replaceTwin")
	checkEvent(t, ev, builtin.KindTwinChange, "mod1", "twinChangeEvents", "twinChangeNotification")
	if b := body(t, ev); b["moduleId"] != "mod1" || b["etag"] == nil || b["tags"] != nil {
		t.Errorf("replaceTwin body %s", ev.Body)
	}

	if err := reg.DeleteModule(ctx, "dev1", "mod1", "*"); err != nil {
		t.Fatal(err)
	}
	checkEvent(t, awaitOp(ctx, t, r, "deleteModuleIdentity"), builtin.KindLifecycle, "mod1", "deviceLifecycleEvents", "deviceLifecycleNotification")
	if err := reg.DeleteDevice(ctx, "dev1", "*"); err != nil {
		t.Fatal(err)
	}
	checkEvent(t, awaitOp(ctx, t, r, "deleteDeviceIdentity"), builtin.KindLifecycle, "", "deviceLifecycleEvents", "deviceLifecycleNotification")
	// One partition holds dev1's events in order: the refused write would
	// have come before the last one.
	if n := len(r.Received()); n != 7 {
		t.Errorf("%d events, want 7 (one per committed change)", n)
	}
}

// TestTwinAndLifecycleEventsOff: with the option set, the built-in
// endpoint carries telemetry only.
func TestTwinAndLifecycleEventsOff(t *testing.T) {
	s, _, cs, opts := moduleOnEmulatorWith(t, emulator.Options{DisableTwinAndLifecycleEvents: true})
	r := openReader(t, s, "dev1")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dev := dialModule(t, cs, opts)
	if _, err := dev.UpdateReported(ctx, map[string]any{"temp": 21}); err != nil {
		t.Fatal(err)
	}
	if err := dev.SendEvent(ctx, []byte("hello"), nil); err != nil {
		t.Fatal(err)
	}
	ev, err := r.Await(ctx, func(builtin.Event) bool { return true })
	if err != nil || ev.Kind != builtin.KindTelemetry || string(ev.Body) != "hello" {
		t.Fatalf("first event %+v, %v; want the telemetry", ev, err)
	}
	if n := len(r.Received()); n != 1 {
		t.Errorf("%d events, want the telemetry only", n)
	}
}

// TestBulkRegistryRaisesEvents: a bulk call's creates, twin sections and
// deletes put the same events on the built-in endpoint as the single calls.
func TestBulkRegistryRaisesEvents(t *testing.T) {
	s, reg := startHub(t)
	r := openReader(t, s, "dev1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := reg.BulkUpdate(ctx, []hub.ExportImportDevice{{ID: "dev1", ImportMode: hub.ImportCreate, Tags: map[string]any{"site": "x"}}})
	if err != nil || !res.IsSuccessful {
		t.Fatalf("bulk create: %+v, %v", res, err)
	}
	checkEvent(t, awaitOp(ctx, t, r, "createDeviceIdentity"), builtin.KindLifecycle, "", "deviceLifecycleEvents", "deviceLifecycleNotification")
	checkEvent(t, awaitOp(ctx, t, r, "updateTwin"), builtin.KindTwinChange, "", "twinChangeEvents", "twinChangeNotification")
	res, err = reg.BulkUpdate(ctx, []hub.ExportImportDevice{{ID: "dev1", ImportMode: hub.ImportDelete}})
	if err != nil || !res.IsSuccessful {
		t.Fatalf("bulk delete: %+v, %v", res, err)
	}
	checkEvent(t, awaitOp(ctx, t, r, "deleteDeviceIdentity"), builtin.KindLifecycle, "", "deviceLifecycleEvents", "deviceLifecycleNotification")
}
