package harness_test

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"

	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/internal/containertest"
)

// testLogger writes the harness's log lines into the test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// openContainer opens the container target on this checkout's image,
// closed (and its Close checked) when the test ends.
func openContainer(t *testing.T) harness.Target {
	t.Helper()
	image := containertest.Image(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tg, err := harness.Open(ctx, harness.Config{Target: "container", Image: image}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tg.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return tg
}

func isLoopback(host string) bool {
	ip, err := netip.ParseAddr(host)
	return host == "localhost" || err == nil && ip.IsLoopback()
}

// TestContainerTarget: the image of this checkout starts, the
// registry answers over the container's CA, and a module connected over
// the published MQTT port receives a desired patch.
func TestContainerTarget(t *testing.T) {
	start := time.Now()
	tg := openContainer(t)
	t.Logf("container target open in %s", time.Since(start).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	if tg.Name() != "container" || !harness.IsEmulator(tg) {
		t.Errorf("Name = %q, IsEmulator = %v", tg.Name(), harness.IsEmulator(tg))
	}
	svc, err := hub.ParseConnectionString(tg.ServiceConnectionString())
	if err != nil {
		t.Fatal(err)
	}
	wantHost := "localhost" // a local engine publishes on loopback
	if h, ok := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); ok && !isLoopback(h) {
		wantHost = h
	}
	if host, _, err := net.SplitHostPort(svc.HostName); err != nil || host != wantHost || svc.SharedAccessKeyName != "iothubowner" {
		t.Errorf("service connection string HostName %q (want %s:port), policy %q", svc.HostName, wantHost, svc.SharedAccessKeyName)
	}
	if wantHost == "localhost" {
		ins, err := tg.(*harness.Container).Emulator().Inspect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, port := range []string{harness.EmulatorHTTPSPort, harness.EmulatorMQTTPort, harness.EmulatorAMQPPort} {
			bs := ins.NetworkSettings.Ports[network.MustParsePort(port)]
			if len(bs) == 0 || !bs[0].HostIP.IsLoopback() {
				t.Errorf("port %s published as %+v, want on loopback only", port, bs)
			}
		}
	}

	harness.CheckAMQPEndpoint(t, tg)

	reg, err := service.NewRegistryClient(tg.ServiceConnectionString(), tg.RegistryOptions()...)
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
	if got, err := reg.GetModule(ctx, "dev1", "mod1"); err != nil || got.Authentication.SymmetricKey.PrimaryKey != m.Authentication.SymmetricKey.PrimaryKey {
		t.Fatalf("GetModule = %+v, %v", got, err)
	}

	cs := hub.ConnectionString{HostName: svc.HostName, DeviceID: "dev1", ModuleID: "mod1",
		SharedAccessKey: m.Authentication.SymmetricKey.PrimaryKey}
	c, err := device.DialModule(ctx, cs.String(), tg.DialOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })

	twin, err := reg.GetModuleTwin(ctx, "dev1", "mod1")
	if err != nil {
		t.Fatal(err)
	}
	twin, err = reg.UpdateModuleTwin(ctx, "dev1", "mod1",
		&hub.Twin{Properties: &hub.TwinProperties{Desired: map[string]any{"telemetryInterval": 122}}}, twin.ETag)
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	select {
	case p := <-c.DesiredPatches():
		if p.Version != twin.DesiredVersion() || p.Properties["telemetryInterval"] != float64(122) {
			t.Fatalf("patch %+v, want telemetryInterval 122 at $version %d", p, twin.DesiredVersion())
		}
	case <-wctx.Done():
		t.Fatal("the module received no desired patch within 10s")
	}
}

// TestRunEmulatorReturnsTheContainerOnFailure: an emulator that exits at
// once (a flag it does not know) fails the wait fast, and the container
// comes back with the error so the cleanup registered first removes it.
func TestRunEmulatorReturnsTheContainerOnFailure(t *testing.T) {
	image := containertest.Image(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	start := time.Now()
	emu, err := harness.RunEmulator(ctx, image, testcontainers.WithCmdArgs("-no-such-flag"),
		testcontainers.WithLogger(tclog.TestLogger(t)))
	testcontainers.CleanupContainer(t, emu)
	if err == nil {
		t.Fatal("RunEmulator succeeded with an emulator that cannot start")
	}
	// The usage text names IOTHUB_CONNECTION_STRING: a wait fooled by it
	// would poll for /ca.pem until the one-minute deadline.
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("RunEmulator took %s to notice the emulator exited", took)
	}
	if emu == nil || emu.GetContainerID() == "" {
		t.Fatalf("RunEmulator returned no container with its error %v", err)
	}
}
