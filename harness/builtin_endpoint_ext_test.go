package harness_test

import (
	"context"
	"testing"
	"time"

	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/events"
	"github.com/hubspec/hubspec/hub/service"
)

// checkTelemetryOverBothTransports proves a target's built-in endpoint
// serves telemetry over both of its transports: a device sends a message
// over MQTT and two readers, given the target's AMQP endpoint, receive it,
// one over AMQP over TLS (Address), one over AMQP over WebSockets on the
// hub's HTTPS host:port, where a real hub serves it on 443.
func checkTelemetryOverBothTransports(t *testing.T, tg harness.Target) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	svc, err := hub.ParseConnectionString(tg.ServiceConnectionString())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := service.NewRegistryClient(tg.ServiceConnectionString(), tg.RegistryOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	const id = "transports1"
	d, err := reg.CreateDevice(ctx, &hub.Device{DeviceID: id})
	if err != nil {
		t.Fatal(err)
	}
	ep := tg.AMQP()
	mine := events.WithFilter(func(deviceID, _ string) bool { return deviceID == id })
	readers := map[string][]events.Option{
		"AMQP over TLS":        {events.WithTLSConfig(ep.TLS), events.WithAddress(ep.Address), mine},
		"AMQP over WebSockets": {events.WithTLSConfig(ep.TLS), events.WithWebSockets(svc.HostName), mine},
	}
	opened := map[string]*events.Reader{}
	for name, opts := range readers {
		r, err := events.Open(ctx, ep.EventHubConnectionString, opts...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Cleanup(func() { r.Close() })
		opened[name] = r
	}

	dcs := hub.ConnectionString{HostName: svc.HostName, DeviceID: id, SharedAccessKey: d.Authentication.SymmetricKey.PrimaryKey}
	c, err := device.DialDevice(ctx, dcs.String(), tg.DialOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendEvent(ctx, []byte(`{"transport":"both"}`), map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	for name, r := range opened {
		ev, err := r.Await(ctx, func(e events.Event) bool { return e.Kind == events.KindTelemetry })
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(ev.Body) != `{"transport":"both"}` || ev.Properties["k"] != "v" || ev.DeviceID != id {
			t.Errorf("%s: event %+v", name, ev)
		}
	}
}

// TestEmbeddedTelemetryOverBothTransports: the embedded emulator's
// built-in endpoint, over AMQP over TLS and over WebSockets.
func TestEmbeddedTelemetryOverBothTransports(t *testing.T) {
	tg, err := harness.Open(context.Background(), harness.Config{Target: "embedded"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	checkTelemetryOverBothTransports(t, tg)
}

// TestContainerTelemetryOverBothTransports: the image's built-in
// endpoint, over its published AMQP port and over WebSockets on its
// published HTTPS port.
func TestContainerTelemetryOverBothTransports(t *testing.T) {
	tg := openContainer(t)
	checkTelemetryOverBothTransports(t, tg)
}
