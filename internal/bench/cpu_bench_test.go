package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"
)

// The benchmarks here measure what `make bench` times, as CPU time per
// operation of the broker process and of this process (the clients), so
// that a change's effect shows on a machine other work shares: there
// `make bench`'s latencies move by tens of percent from run to run, while
// CPU per operation moves by a few. At `make bench`'s concurrency both
// processes keep the two cores busy, so a latency ratio follows the ratio
// of broker-µs/op + client-µs/op.
//
//	go test -run '^$' -bench . -benchtime 16000x ./internal/bench
//
// They build cmd/iothub-emulator with the go command and need Mosquitto
// (make setup installs it).

// cpuConcurrency is make bench's default: operations in flight at once.
const cpuConcurrency = 8

// BenchmarkMQTTPathCPU: the MQTT path round trip (roundtrip.go) on the
// emulator binary and on Mosquitto.
func BenchmarkMQTTPathCPU(b *testing.B) {
	ctx := context.Background()
	cfg := Config{Concurrency: cpuConcurrency, MessageBytes: 128}
	b.Run("emulator", func(b *testing.B) {
		e := benchEmulator(b)
		if err := e.createDevices(ctx, "path", cpuConcurrency); err != nil {
			b.Fatal(err)
		}
		perOp(b, e.pid(), func(perClient int) error {
			_, err := trips(ctx, cfg, perClient, func(i int) (tripper, error) {
				return reportedTripper(ctx, e.mqttAddr, e.tls, e.login("path", i))
			})
			return err
		})
	})
	b.Run("mosquitto", func(b *testing.B) {
		m, err := startMosquitto(ctx, "/usr/sbin/mosquitto", b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = m.stop() })
		perOp(b, m.pid(), func(perClient int) error {
			_, err := trips(ctx, cfg, perClient, func(i int) (tripper, error) {
				return forwardTripper(ctx, m.addr, m.tls, m.login("pub", i), m.login("sub", i))
			})
			return err
		})
	})
}

// BenchmarkDesiredPatchCPU: hubspec load's desired patch (internal/loadgen)
// on the emulator binary, one module per client: the service's PATCH over
// HTTPS until the module holds the patch; "with-reported" adds the
// reported patch the load run sends after each, counted in the same
// operation.
func BenchmarkDesiredPatchCPU(b *testing.B) {
	for _, reported := range []bool{false, true} {
		name := map[bool]string{false: "desired", true: "with-reported"}[reported]
		b.Run(name, func(b *testing.B) {
			e := benchEmulator(b)
			reg, clients := benchModules(b, e)
			perOp(b, e.pid(), func(perClient int) error {
				return patchAll(reg, clients, perClient, reported)
			})
		})
	}
}

// perOp has run make perClient operations on each of cpuConcurrency
// clients and reports the broker's and this process's CPU time per
// operation. What run does besides (the MQTT path's clients connect in it)
// is counted too: a few tenths of a µs per operation at 16000 of them.
func perOp(b *testing.B, pid int, run func(perClient int) error) {
	perClient := max((b.N+cpuConcurrency-1)/cpuConcurrency, 1)
	ops := float64(perClient * cpuConcurrency)
	broker, self := processCPU(b, pid), ownCPU(b)
	b.ResetTimer()
	if err := run(perClient); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64((processCPU(b, pid)-broker).Microseconds())/ops, "broker-µs/op")
	b.ReportMetric(float64((ownCPU(b)-self).Microseconds())/ops, "client-µs/op")
}

// benchEmulator builds cmd/iothub-emulator once per benchmark binary and
// starts it, stopped when b ends.
func benchEmulator(b *testing.B) *emulatorProcess {
	emulatorOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hubspec-cpu-bench-")
		if err != nil {
			emulatorErr = err
			return
		}
		emulatorBin = filepath.Join(dir, "iothub-emulator")
		out, err := exec.Command("go", "build", "-o", emulatorBin, "github.com/hubspec/hubspec/cmd/iothub-emulator").CombinedOutput()
		if err != nil {
			emulatorErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if emulatorErr != nil {
		b.Fatal(emulatorErr)
	}
	e, err := startEmulator(context.Background(), emulatorBin, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.stop() })
	return e
}

var (
	emulatorOnce sync.Once
	emulatorBin  string
	emulatorErr  error
)

// benchModules creates a device with one module per client and connects
// the modules as hubspec load does.
func benchModules(b *testing.B, e *emulatorProcess) (*service.RegistryClient, []*device.Client) {
	ctx := context.Background()
	t, err := e.target(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { t.Close() })
	reg, err := service.NewRegistryClient(t.ServiceConnectionString(), t.RegistryOptions()...)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := reg.CreateDevice(ctx, &hub.Device{DeviceID: "cpu"}); err != nil {
		b.Fatal(err)
	}
	var clients []*device.Client
	for i := range cpuConcurrency {
		m, err := reg.CreateModule(ctx, &hub.Module{DeviceID: "cpu", ModuleID: strconv.Itoa(i)})
		if err != nil {
			b.Fatal(err)
		}
		cs := hub.ConnectionString{HostName: e.host, DeviceID: "cpu", ModuleID: m.ModuleID, SharedAccessKey: m.Authentication.SymmetricKey.PrimaryKey}
		c, err := device.DialModule(ctx, cs.String(), t.DialOptions()...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Close() })
		clients = append(clients, c)
	}
	return reg, clients
}

// patchAll sends perClient desired patches to each module at once, each
// awaited on the module's connection, and after each a reported patch
// when reported is set.
func patchAll(reg *service.RegistryClient, clients []*device.Client, perClient int, reported bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	errs := make(chan error, len(clients))
	for i, c := range clients {
		go func() {
			errs <- func() error {
				for r := range perClient {
					v, err := reg.PatchDesired(ctx, "cpu", strconv.Itoa(i), map[string]any{"cpuBench": r}, "")
					if err != nil {
						return err
					}
					if err := awaitDesired(ctx, c, v.DesiredVersion); err != nil {
						return err
					}
					if reported {
						if _, err := c.UpdateReported(ctx, map[string]any{"cpuBench": r}); err != nil {
							return err
						}
					}
				}
				return nil
			}()
		}()
	}
	var first error
	for range clients {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func awaitDesired(ctx context.Context, c *device.Client, version int64) error {
	for {
		select {
		case p, ok := <-c.DesiredPatches():
			if !ok {
				return fmt.Errorf("connection closed before desired $version %d", version)
			}
			if p.Version >= version {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("desired $version %d: %w", version, ctx.Err())
		}
	}
}

// processCPU is process pid's user and system CPU time so far
// (/proc/PID/stat, in clock ticks: USER_HZ, 100 on Linux).
func processCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command name, which may hold spaces and ends
	// at the last ')': utime and stime are the 12th and 13th of them.
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		b.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			b.Fatalf("/proc/%d/stat: %v", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// ownCPU is this process's user and system CPU time so far.
func ownCPU(b *testing.B) time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		b.Fatal(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
