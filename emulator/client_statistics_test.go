package emulator_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"
)

// TestStatisticsFollowTheRegistryAndConnections: the registry statistics
// count devices by status, and the service statistics count the devices
// that have a connection of their own (a module's does not count), both
// kept in step with creates, status changes, connects, disconnects and
// deletes.
func TestStatisticsFollowTheRegistryAndConnections(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, reg := startHub(t)
	opts := []device.Option{device.WithTLSConfig(s.TLSConfig()), device.WithAddress(s.MQTTAddr())}
	keys := map[string]string{}
	for _, id := range []string{"s1", "s2", "s3"} {
		d, err := reg.CreateDevice(ctx, &hub.Device{DeviceID: id})
		if err != nil {
			t.Fatal(err)
		}
		keys[id] = d.Authentication.SymmetricKey.PrimaryKey
	}
	m := createModule(t, reg, "s2", "m")
	d3, _ := reg.GetDevice(ctx, "s3")
	d3.Status = hub.StatusDisabled
	if _, err := reg.UpdateDevice(ctx, d3, "*"); err != nil {
		t.Fatal(err)
	}
	wantStats(ctx, t, reg, hub.RegistryStatistics{TotalDeviceCount: 3, EnabledDeviceCount: 2, DisabledDeviceCount: 1}, 0)

	dev, err := device.DialDevice(ctx, hub.ConnectionString{HostName: s.HostName(), DeviceID: "s1", SharedAccessKey: keys["s1"]}.String(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := device.DialModule(ctx, hub.ConnectionString{HostName: s.HostName(), DeviceID: "s2", ModuleID: "m",
		SharedAccessKey: m.Authentication.SymmetricKey.PrimaryKey}.String(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	wantStats(ctx, t, reg, hub.RegistryStatistics{TotalDeviceCount: 3, EnabledDeviceCount: 2, DisabledDeviceCount: 1}, 1)

	dev.Close()
	wantStats(ctx, t, reg, hub.RegistryStatistics{TotalDeviceCount: 3, EnabledDeviceCount: 2, DisabledDeviceCount: 1}, 0)

	dev, err = device.DialDevice(ctx, hub.ConnectionString{HostName: s.HostName(), DeviceID: "s1", SharedAccessKey: keys["s1"]}.String(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	wantStats(ctx, t, reg, hub.RegistryStatistics{TotalDeviceCount: 3, EnabledDeviceCount: 2, DisabledDeviceCount: 1}, 1)
	if err := reg.DeleteDevice(ctx, "s1", ""); err != nil {
		t.Fatal(err)
	}
	wantStats(ctx, t, reg, hub.RegistryStatistics{TotalDeviceCount: 2, EnabledDeviceCount: 1, DisabledDeviceCount: 1}, 0)
}

// wantStats waits, until ctx ends, for both statistics to say what is
// wanted: a connection's end reaches the hub a moment after the client's
// Close returns.
func wantStats(ctx context.Context, t *testing.T, reg *service.RegistryClient, want hub.RegistryStatistics, connected int64) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		rs, err := reg.RegistryStatistics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ss, err := reg.ServiceStatistics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if *rs == want && ss.ConnectedDeviceCount == connected {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("statistics %+v, %d connected; want %+v, %d connected", *rs, ss.ConnectedDeviceCount, want, connected)
		case <-tick.C:
		}
	}
}

// TestUnemulatedRouteIsLoggedAndAnsweredInTheHubsShape: a route the
// emulator does not have gets the hub's 404 and one WARN line naming the
// method, the path and that it is not emulated.
func TestUnemulatedRouteIsLoggedAndAnsweredInTheHubsShape(t *testing.T) {
	var logs syncBuffer
	s, _ := startHubWith(t, emulator.Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	req, err := http.NewRequest(http.MethodGet, "https://"+s.HTTPSAddr()+"/jobs?api-version=2021-04-12", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = s.HostName()
	res, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: s.TLSConfig()}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	e := hub.ParseError(res.StatusCode, res.Header.Get("iothub-errorcode"), body)
	if res.StatusCode != 404 || e.Name != "GenericNotFound" {
		t.Fatalf("answer %d %s", res.StatusCode, body)
	}
	line := logs.String()
	if strings.Count(line, "\n") != 1 || !strings.Contains(line, "level=WARN") || !strings.Contains(line, "not emulated") ||
		!strings.Contains(line, "method=GET") || !strings.Contains(line, "path=/jobs\n") {
		t.Fatalf("log %q, want one WARN line naming GET, the path and not emulated", line)
	}
}
