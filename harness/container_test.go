package harness

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"

	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/hubspec/hubspec/hub"
)

// TestMain turns testcontainers' Ryuk reaper off unless the caller chose:
// its image cannot be pulled where there is no registry, and testcontainers
// reads the setting once, at its first call.
func TestMain(m *testing.M) {
	if _, ok := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !ok {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	os.Exit(m.Run())
}

// requireDocker skips the test when no Docker engine answers, unless
// HUBSPEC_REQUIRE_DOCKER is set (CI), where that is a failure.
func requireDocker(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := PingDocker(ctx); err != nil {
		if os.Getenv("HUBSPEC_REQUIRE_DOCKER") != "" {
			t.Fatalf("HUBSPEC_REQUIRE_DOCKER is set and no Docker engine answered: %v", err)
		}
		t.Skipf("container target not tested: no Docker engine answered: %v", err)
	}
}

// testLogger writes the harness's log lines into the test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// TestContainerTarget: the image starts (built first if absent), the
// registry answers over the container's CA, and a module connected over
// the published MQTT port receives a desired patch.
func TestContainerTarget(t *testing.T) {
	requireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	start := time.Now()
	tg, err := Open(ctx, Config{Target: "container", Image: os.Getenv("IOTHUB_EMULATOR_IMAGE")}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tg.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	t.Logf("container target open in %s", time.Since(start).Round(time.Millisecond))

	if tg.Name() != "container" || !IsEmulator(tg) {
		t.Errorf("Name = %q, IsEmulator = %v", tg.Name(), IsEmulator(tg))
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
		ins, err := tg.(*Container).Emulator().Inspect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, port := range []string{EmulatorHTTPSPort, EmulatorMQTTPort} {
			bs := ins.NetworkSettings.Ports[network.MustParsePort(port)]
			if len(bs) == 0 || !bs[0].HostIP.IsLoopback() {
				t.Errorf("port %s published as %+v, want on loopback only", port, bs)
			}
		}
	}

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
	requireDocker(t)
	image := os.Getenv("IOTHUB_EMULATOR_IMAGE")
	build := image == ""
	if build {
		image = DefaultEmulatorImage
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := ensureImage(ctx, p, image, build, testLogger(t)); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	emu, err := RunEmulator(ctx, image, testcontainers.WithCmdArgs("-no-such-flag"),
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

func TestImageNamesAndHosts(t *testing.T) {
	for image, want := range map[string][2]string{
		"hubspec/iothub-emulator:dev":        {"hubspec/iothub-emulator", "dev"},
		"hubspec/iothub-emulator":            {"hubspec/iothub-emulator", "latest"},
		"registry:5000/hubspec/emulator":     {"registry:5000/hubspec/emulator", "latest"},
		"registry:5000/hubspec/emulator:1.2": {"registry:5000/hubspec/emulator", "1.2"},
	} {
		if repo, tag := splitImage(image); repo != want[0] || tag != want[1] {
			t.Errorf("splitImage(%q) = %q, %q; want %q", image, repo, tag, want)
		}
	}
	for host, want := range map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true, "172.17.0.1": false, "docker": false} {
		if isLoopback(host) != want {
			t.Errorf("isLoopback(%q) = %v", host, !want)
		}
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "harness", "container.go")); err != nil {
		t.Errorf("moduleRoot = %s: %v", root, err)
	}
}
