package emulator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"time"

	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"
)

// The README's snippet, compiled and run: an emulator on loopback, a device
// and a module with hub-assigned keys, the module connected over MQTT, and a
// desired change made by the service arriving on the module's channel, and
// a direct method the service calls and the module answers.
func ExampleStart() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	s, err := emulator.Start(ctx, emulator.Options{}) // loopback, random ports, a fresh CA
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	reg, err := service.NewRegistryClient(s.ConnectionString(), service.WithTLSConfig(s.TLSConfig()))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := reg.CreateDevice(ctx, &hub.Device{DeviceID: "myFirstDevice"}); err != nil { // hub-assigned keys
		log.Fatal(err)
	}
	mod, err := reg.CreateModule(ctx, &hub.Module{DeviceID: "myFirstDevice", ModuleID: "myFirstModule"})
	if err != nil {
		log.Fatal(err)
	}

	cs := hub.ConnectionString{HostName: s.HostName(), DeviceID: "myFirstDevice",
		ModuleID: "myFirstModule", SharedAccessKey: mod.Authentication.SymmetricKey.PrimaryKey}
	c, err := device.DialModule(ctx, cs.String(), device.WithTLSConfig(s.TLSConfig()), device.WithAddress(s.MQTTAddr()))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	twin, err := reg.GetModuleTwin(ctx, "myFirstDevice", "myFirstModule")
	if err != nil {
		log.Fatal(err)
	}
	patch := &hub.Twin{Properties: &hub.TwinProperties{Desired: map[string]any{"telemetryInterval": 5}}}
	if _, err := reg.UpdateModuleTwin(ctx, "myFirstDevice", "myFirstModule", patch, twin.ETag); err != nil {
		log.Fatal(err)
	}

	select {
	case p := <-c.DesiredPatches():
		fmt.Println("telemetryInterval:", p.Properties["telemetryInterval"], "version:", p.Version)
	case <-ctx.Done():
		log.Fatal("no desired patch")
	}

	// Direct methods: the module answers, the service's call waits for it.
	c.HandleMethod("reboot", func(ctx context.Context, req device.MethodRequest) (int, any) {
		return 200, map[string]any{"rebooted": true}
	})
	res, err := reg.InvokeModuleMethod(ctx, "myFirstDevice", "myFirstModule",
		service.MethodRequest{MethodName: "reboot", Payload: json.RawMessage(`{"delay":5}`), ResponseTimeout: 30 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("reboot:", res.Status, string(res.Payload))
	// Output:
	// telemetryInterval: 5 version: 2
	// reboot: 200 {"rebooted":true}
}
