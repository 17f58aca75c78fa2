package steps_test

import (
	"bufio"
	"context"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/steps"
)

// TestFeaturesOnLiveTarget proves the live target without Azure: the
// emulator runs as a separate process, exactly as a hub elsewhere would,
// and the suite reaches it only through what IOTHUB_TARGET=live offers (a
// connection string, a CA file, an MQTT address). Scenarios tagged
// @emulator-only are skipped, since a live target claims no emulator power.
func TestFeaturesOnLiveTarget(t *testing.T) {
	if harness.ConfigFromEnv().Target == "live" {
		t.Skip("IOTHUB_TARGET=live: TestFeatures already runs the suite on the live hub")
	}
	t.Parallel() // with the suite's other runs (see godogOptions)
	cfg := startEmulatorProcess(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	target, err := harness.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Close() })
	if harness.IsEmulator(target) {
		t.Fatal("the live target says it is an emulator")
	}

	start := time.Now()
	opts := godogOptions
	opts.TestingT = t
	status := godog.TestSuite{
		Name:                "hubspec-live",
		ScenarioInitializer: steps.Initialize(harness.NewRun(target)),
		Options:             &opts,
	}.Run()
	t.Logf("feature suite on the live target took %s", time.Since(start).Round(time.Millisecond))
	if status != 0 {
		t.Fatalf("feature suite failed on the live target (status %d)", status)
	}
}

// startEmulatorProcess builds cmd/iothub-emulator, starts it, and returns
// the live-target configuration for it once it prints its connection
// string. HTTPS listens on a port the kernel picks (the connection string
// carries it); MQTT on a port found free just before, since only the log
// says where MQTT listens. Cleanup sends SIGTERM and expects a clean exit.
func startEmulatorProcess(t *testing.T) harness.Config {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "iothub-emulator")
	build := exec.Command("go", "build", "-o", bin, "github.com/hubspec/hubspec/cmd/iothub-emulator")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the emulator: %v\n%s", err, out)
	}
	mqttAddr := freeAddr(t)
	caFile, logFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "emulator.log")
	logs, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close() // the child holds its own descriptor
	cmd := exec.Command(bin, "-https-addr", "127.0.0.1:0", "-mqtt-addr", mqttAddr, "-amqp-addr", "127.0.0.1:0", "-ca-out", caFile)
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		timer := time.NewTimer(15 * time.Second)
		defer timer.Stop()
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("emulator process: %v", err)
			}
		case <-timer.C:
			_ = cmd.Process.Kill()
			t.Errorf("emulator process did not stop within 15s of SIGTERM")
		}
		if t.Failed() {
			out, _ := os.ReadFile(logFile)
			t.Logf("emulator log:\n%s", out)
		}
	})

	lines := make(chan map[string]string, 1)
	go func() { lines <- printedUntilEventHub(stdout) }()
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case printed := <-lines:
		cs, ehcs := printed["IOTHUB_CONNECTION_STRING"], printed["EVENTHUB_CONNECTION_STRING"]
		if cs == "" || ehcs == "" {
			t.Fatalf("emulator printed %v, want IOTHUB_CONNECTION_STRING and EVENTHUB_CONNECTION_STRING", slices.Sorted(maps.Keys(printed)))
		}
		// The endpoint is sb://localhost:{AMQP port}/: AMQP clients dial it.
		amqpAddr := strings.TrimSuffix(strings.TrimPrefix(strings.Split(ehcs, ";")[0], "Endpoint=sb://"), "/")
		return harness.Config{Target: "live", ConnectionString: cs, CAFile: caFile, MQTTAddress: mqttAddr,
			AMQPAddress: amqpAddr, EventHubConnectionString: ehcs}
	case err := <-exited:
		exited <- err // for the cleanup
		t.Fatalf("emulator exited before it served: %v", err)
	case <-timer.C:
		t.Fatal("emulator printed no connection string within 30s")
	}
	return harness.Config{}
}

// printedUntilEventHub reads the emulator's NAME=value lines up to the
// EVENTHUB_CONNECTION_STRING one, which it prints last.
func printedUntilEventHub(r io.Reader) map[string]string {
	printed := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, value, _ := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		printed[name] = value
		if name == "EVENTHUB_CONNECTION_STRING" {
			break
		}
	}
	return printed
}

// freeAddr is a loopback address no one listened on a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
