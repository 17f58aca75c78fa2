package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"
)

// IoT Plug and Play through Hubspec's own clients: the model a device
// announces, its digital twin, a JSON patch reaching it as a desired patch
// and commands answered as direct methods.

const thermostatModel = "dtmi:com:example:TemperatureController;1"

// pnpDevice starts an emulator with device dev1 connected announcing the
// temperature controller model.
func pnpDevice(t *testing.T) (*service.RegistryClient, *device.Client) {
	t.Helper()
	s, reg, _, opts := moduleOnEmulator(t)
	d, err := reg.GetDevice(t.Context(), "dev1")
	if err != nil {
		t.Fatal(err)
	}
	cs := hub.ConnectionString{HostName: s.HostName(), DeviceID: "dev1", SharedAccessKey: d.Authentication.SymmetricKey.PrimaryKey}.String()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	c, err := device.DialDevice(ctx, cs, append(opts, device.WithModelID(thermostatModel))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return reg, c
}

func digitalTwin(t *testing.T, reg *service.RegistryClient) (map[string]any, string) {
	t.Helper()
	doc, etag, err := reg.GetDigitalTwin(t.Context(), "dev1")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	return m, etag
}

// TestModelIDOnTwinAndDigitalTwin: the announced model is the twin's
// modelId and the digital twin's $metadata.$model; it stays after the
// device disconnects.
func TestModelIDOnTwinAndDigitalTwin(t *testing.T) {
	reg, c := pnpDevice(t)
	twin, err := reg.GetDeviceTwin(t.Context(), "dev1")
	if err != nil {
		t.Fatal(err)
	}
	if twin.ModelID == nil || *twin.ModelID != thermostatModel {
		t.Errorf("twin modelId %v, want %s", twin.ModelID, thermostatModel)
	}
	dt, etag := digitalTwin(t, reg)
	if dt["$dtId"] != "dev1" || dt["$metadata"].(map[string]any)["$model"] != thermostatModel {
		t.Errorf("digital twin %v", dt)
	}
	if want := `W/"` + twin.ETag + `"`; etag != want {
		t.Errorf("digital twin ETag %s, want %s", etag, want)
	}
	c.Close()
	if twin, err = reg.GetDeviceTwin(t.Context(), "dev1"); err != nil || twin.ModelID == nil || *twin.ModelID != thermostatModel {
		t.Errorf("after disconnecting: modelId %v (%v)", twin.ModelID, err)
	}
}

// TestMalformedModelIDIsRefused: a model id that is not a DTMI refuses the
// CONNECT (CONNACK 5) and leaves the twin's modelId empty.
func TestMalformedModelIDIsRefused(t *testing.T) {
	_, reg, modCS, opts := moduleOnEmulator(t)
	for _, id := range []string{"thermostat", "dtmi:com:example:Thermostat", "dtmi:com:example:Thermostat;0", "dtmi:1com:x;1", "dtmi:com_:x;1", "dtmi:com:x;1;2"} {
		ctx, cancel := context.WithTimeout(t.Context(), wait)
		c, err := device.DialModule(ctx, modCS, append(opts, device.WithModelID(id))...)
		cancel()
		var refused *device.ConnectRefusedError
		if !errors.As(err, &refused) || refused.Code != 5 {
			t.Errorf("model %q: want CONNACK 5, got %v", id, err)
		}
		if c != nil {
			c.Close()
		}
	}
	twin, err := reg.GetModuleTwin(t.Context(), "dev1", "mod1")
	if err != nil || twin.ModelID == nil || *twin.ModelID != "" {
		t.Errorf("module twin modelId %v (%v), want \"\"", twin.ModelID, err)
	}
}

// TestDigitalTwinView: components, writable properties with their
// acknowledgement, read-only properties, as the Plug and Play docs show
// them.
func TestDigitalTwinView(t *testing.T) {
	reg, c := pnpDevice(t)
	ctx := t.Context()
	if _, err := reg.UpdateDeviceTwin(ctx, "dev1", &hub.Twin{Properties: &hub.TwinProperties{Desired: map[string]any{
		"fanSpeed":    2.0,
		"thermostat1": map[string]any{"__t": "c", "targetTemperature": 21.8},
	}}}, "*"); err != nil {
		t.Fatal(err)
	}
	nextDevicePatch(t, c)
	if _, err := c.UpdateReported(ctx, map[string]any{
		"serialNumber": "alwinexlepaho8329",
		"fanSpeed":     map[string]any{"value": 3.0, "ac": 200, "av": 1, "ad": "Successfully executed patch version 1"},
		"thermostat1":  map[string]any{"__t": "c", "maxTempSinceLastReboot": 25.3, "targetTemperature": map[string]any{"value": 21.8, "ac": 200, "av": 2, "ad": "done"}},
	}); err != nil {
		t.Fatal(err)
	}
	dt, _ := digitalTwin(t, reg)
	meta := dt["$metadata"].(map[string]any)
	fan := meta["fanSpeed"].(map[string]any)
	th := dt["thermostat1"].(map[string]any)
	thMeta := th["$metadata"].(map[string]any)
	target := thMeta["targetTemperature"].(map[string]any)
	checks := []struct {
		what      string
		got, want any
	}{
		{"serialNumber", dt["serialNumber"], "alwinexlepaho8329"},
		{"fanSpeed", dt["fanSpeed"], 3.0},
		{"fanSpeed desiredValue", fan["desiredValue"], 2.0},
		{"fanSpeed desiredVersion", fan["desiredVersion"], 2.0},
		{"fanSpeed ackVersion", fan["ackVersion"], 1.0},
		{"fanSpeed ackCode", fan["ackCode"], 200.0},
		{"fanSpeed ackDescription", fan["ackDescription"], "Successfully executed patch version 1"},
		{"thermostat1 marker", th["__t"], nil},
		{"thermostat1.maxTempSinceLastReboot", th["maxTempSinceLastReboot"], 25.3},
		{"thermostat1.targetTemperature", th["targetTemperature"], 21.8},
		{"thermostat1 targetTemperature desiredValue", target["desiredValue"], 21.8},
		{"thermostat1 targetTemperature ackCode", target["ackCode"], 200.0},
		{"thermostat1 in the root $metadata", meta["thermostat1"], nil},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v (digital twin %v)", c.what, c.got, c.want, dt)
		}
	}
	if _, ok := meta["serialNumber"].(map[string]any)["lastUpdateTime"].(string); !ok {
		t.Errorf("serialNumber has no lastUpdateTime: %v", meta["serialNumber"])
	}
}

func nextDevicePatch(t *testing.T, c *device.Client) device.DesiredPatch {
	t.Helper()
	select {
	case p := <-c.DesiredPatches():
		return p
	case <-time.After(wait):
		t.Fatal("no desired patch")
		return device.DesiredPatch{}
	}
}

// TestDigitalTwinPatchReachesTheDevice: a JSON patch is one desired write,
// components marked, pushed to the device; the ETag guards it.
func TestDigitalTwinPatchReachesTheDevice(t *testing.T) {
	reg, c := pnpDevice(t)
	ctx := t.Context()
	_, etag := digitalTwin(t, reg)
	newETag, err := reg.UpdateDigitalTwin(ctx, "dev1", []service.DigitalTwinPatchOp{
		{Op: "add", Path: "/thermostat1/targetTemperature", Value: 21.4},
		{Op: "replace", Path: "/fanSpeed", Value: 2},
	}, etag)
	if err != nil {
		t.Fatal(err)
	}
	p := nextDevicePatch(t, c)
	want := map[string]any{"fanSpeed": 2.0, "thermostat1": map[string]any{"__t": "c", "targetTemperature": 21.4}}
	if !reflect.DeepEqual(p.Properties, want) || p.Version != 2 {
		t.Errorf("the device got %v (version %d), want %v (version 2)", p.Properties, p.Version, want)
	}
	if newETag == etag || newETag == "" {
		t.Errorf("the ETag after the patch is %q, before %q", newETag, etag)
	}
	_, err = reg.UpdateDigitalTwin(ctx, "dev1", []service.DigitalTwinPatchOp{{Op: "remove", Path: "/fanSpeed"}}, etag)
	if !errors.Is(err, hub.ErrPreconditionFailed) {
		t.Errorf("a patch with the old ETag: want 412, got %v", err)
	}
	if _, err := reg.UpdateDigitalTwin(ctx, "dev1", []service.DigitalTwinPatchOp{
		{Op: "add", Path: "/thermostat1", Value: map[string]any{"maxTemp": 30, "$metadata": map[string]any{}}},
	}, newETag); err != nil {
		t.Fatal(err)
	}
	p = nextDevicePatch(t, c)
	want = map[string]any{"thermostat1": map[string]any{"__t": "c", "targetTemperature": nil, "maxTemp": 30.0}}
	if !reflect.DeepEqual(p.Properties, want) {
		t.Errorf("a whole component: the device got %v, want %v", p.Properties, want)
	}
}

// TestCommandsAreDirectMethods: a root command is the method {command}, a
// component's {component}*{command}; the answer's status is in
// x-ms-command-statuscode and its payload is the body; a device that is not
// connected is 404 DeviceNotOnline.
func TestCommandsAreDirectMethods(t *testing.T) {
	reg, c := pnpDevice(t)
	ctx := t.Context()
	got := make(chan device.MethodRequest, 2)
	answer := func(_ context.Context, req device.MethodRequest) (int, any) {
		got <- req
		return 201, map[string]any{"maxTemp": 25.3}
	}
	c.HandleMethod("reboot", answer)
	c.HandleMethod("thermostat1*getMaxMinReport", answer)
	res, err := reg.InvokeCommand(ctx, "dev1", "reboot", service.CommandRequest{Payload: json.RawMessage(`{"delay":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if r := <-got; r.Name != "reboot" || string(r.Payload) != `{"delay":1}` {
		t.Errorf("the device got %s %s", r.Name, r.Payload)
	}
	if res.Status != 201 || string(res.Payload) != `{"maxTemp":25.3}` || len(res.RequestID) != 36 {
		t.Errorf("root command answered %+v", res)
	}
	res, err = reg.InvokeComponentCommand(ctx, "dev1", "thermostat1", "getMaxMinReport", service.CommandRequest{Payload: json.RawMessage(`"2020-07-17T06:11:04Z"`), ResponseTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r := <-got; r.Name != "thermostat1*getMaxMinReport" || string(r.Payload) != `"2020-07-17T06:11:04Z"` {
		t.Errorf("the device got %s %s", r.Name, r.Payload)
	}
	if res.Status != 201 {
		t.Errorf("component command answered %+v", res)
	}
	if _, err := reg.CreateDevice(ctx, &hub.Device{DeviceID: "offline"}); err != nil {
		t.Fatal(err)
	}
	_, err = reg.InvokeCommand(ctx, "offline", "reboot", service.CommandRequest{})
	if !errors.Is(err, hub.ErrDeviceNotOnline) {
		t.Errorf("offline: want 404 DeviceNotOnline, got %v", err)
	}
	_, err = reg.InvokeCommand(ctx, "dev1", "reboot", service.CommandRequest{ResponseTimeout: time.Second})
	if !errors.Is(err, hub.ErrArgumentInvalid) {
		t.Errorf("response timeout 1 s: want 400 ArgumentInvalid, got %v", err)
	}
	_, _, err = reg.GetDigitalTwin(ctx, "nobody")
	if !errors.Is(err, hub.ErrDeviceNotFound) {
		t.Errorf("digital twin of no device: want 404 DeviceNotFound, got %v", err)
	}
}
