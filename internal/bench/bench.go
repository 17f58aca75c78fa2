// Package bench is the project's own benchmark (`make bench`,
// cmd/hubspec-bench): it measures the emulator and Debian's Mosquitto
// broker on the same machine, in the same run, with the same Go MQTT
// client (paho), so that every emulator figure stands beside the floor a
// plain broker sets. Both brokers run as processes of their own, started
// and stopped by the bench, each on loopback with TLS:
//
//   - desired patch: the service's PATCH of a module twin's desired
//     properties (REST, HTTPS) until the module client receives the patch
//     (MQTT/TLS), as internal/loadgen measures it; its Mosquitto figure is
//     the MQTT path's.
//   - MQTT path: a QoS 1 publish over TLS until a publish it caused
//     arrives (roundtrip.go says which on each broker).
//   - memory per connection: the broker's resident set with N idle
//     authenticated TLS MQTT connections, minus its resident set before
//     them, divided by N.
//
// The bench's run is not a test: its figures depend on the machine, and
// `make bench` prints them rather than judging them.
package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/internal/loadgen"
)

// Config is what one run measures, and with which brokers.
type Config struct {
	// Emulator is the iothub-emulator binary (cmd/iothub-emulator);
	// Mosquitto is Debian's mosquitto broker.
	Emulator, Mosquitto string
	// Connections is how many idle connections each broker holds for the
	// memory figure, for Hold before its resident set is read.
	Connections int
	Hold        time.Duration
	// Concurrency is how many clients run round trips at once: MQTT path
	// clients on each broker, and the load run's operations in flight.
	Concurrency int
	// RoundTrips is how many timed MQTT path round trips each broker gets,
	// shared among the clients; each client first makes warmupTrips
	// untimed ones.
	RoundTrips int
	// MessageBytes is the size of every MQTT path message body.
	MessageBytes int
	// Devices, ModulesPerDevice and Patches are the load run that times the
	// desired patch and the registry: Devices×ModulesPerDevice module
	// clients, each sent Patches desired patches.
	Devices, ModulesPerDevice, Patches int
}

// warmupTrips are the untimed round trips each client makes first, so
// that no timed one pays for a first use (a buffer grown, a map filled).
const warmupTrips = 10

// Check refuses settings a run cannot mean anything with.
func (c Config) Check() error {
	switch {
	case c.Emulator == "":
		return errors.New("no emulator binary")
	case c.Mosquitto == "":
		return errors.New("no mosquitto binary")
	case c.Connections < 1:
		return fmt.Errorf("connections %d: want 1 or more", c.Connections)
	case c.Hold < 0:
		return fmt.Errorf("hold %s: want 0 or more", c.Hold)
	case c.Concurrency < 1:
		return fmt.Errorf("concurrency %d: want 1 or more", c.Concurrency)
	case c.RoundTrips < c.Concurrency:
		return fmt.Errorf("round trips %d: want at least one a client (concurrency %d)", c.RoundTrips, c.Concurrency)
	case c.MessageBytes < minMessage:
		return fmt.Errorf("message size %d: want %d bytes or more", c.MessageBytes, minMessage)
	case c.Devices < 1 || c.ModulesPerDevice < 1 || c.Patches < 1:
		return fmt.Errorf("load run of %d devices, %d modules each, %d patches: want 1 or more of each", c.Devices, c.ModulesPerDevice, c.Patches)
	}
	return nil
}

// Run is one run: the emulator's load run and MQTT path, Mosquitto's MQTT
// path, then the held connections on a fresh emulator and a fresh
// Mosquitto, so that each idle resident set is a just-started broker's.
// progress hears what starts.
func Run(ctx context.Context, cfg Config, progress func(string)) (Figures, error) {
	var f Figures
	if err := cfg.Check(); err != nil {
		return f, err
	}
	// Each broker holds Connections, and so does this process: room for
	// them and for whatever else is open.
	if err := raiseFileLimit(cfg.Connections + 1024); err != nil {
		return f, err
	}
	dir, err := os.MkdirTemp("", "hubspec-bench-")
	if err != nil {
		return f, err
	}
	defer os.RemoveAll(dir)
	perClient := (cfg.RoundTrips + cfg.Concurrency - 1) / cfg.Concurrency

	progress(fmt.Sprintf("emulator: load run of %d modules, MQTT path", cfg.Devices*cfg.ModulesPerDevice))
	err = withEmulator(ctx, cfg, dir, func(e *emulatorProcess) error {
		rep, err := loadRun(ctx, e, cfg)
		if err != nil {
			return err
		}
		f.DesiredPatch, f.RegistryCreates = rep.DesiredPatch, rep.Registry
		if err := e.createDevices(ctx, "path", cfg.Concurrency); err != nil {
			return err
		}
		f.Emulator.MQTTPath, err = trips(ctx, cfg, perClient, func(i int) (tripper, error) {
			return reportedTripper(ctx, e.mqttAddr, e.tls, e.login("path", i))
		})
		return err
	})
	if err != nil {
		return f, fmt.Errorf("emulator: %w", err)
	}

	progress("mosquitto: MQTT path")
	err = withMosquitto(ctx, cfg, dir, func(m *mosquittoProcess) (err error) {
		f.Mosquitto.MQTTPath, err = trips(ctx, cfg, perClient, func(i int) (tripper, error) {
			return forwardTripper(ctx, m.addr, m.tls, m.login("pub", i), m.login("sub", i))
		})
		return err
	})
	if err != nil {
		return f, fmt.Errorf("mosquitto: %w", err)
	}

	progress(fmt.Sprintf("emulator: %d held connections", cfg.Connections))
	err = withEmulator(ctx, cfg, dir, func(e *emulatorProcess) (err error) {
		if err := e.createDevices(ctx, "held", cfg.Connections); err != nil {
			return err
		}
		f.Emulator.Held, err = hold(ctx, e.pid(), e.mqttAddr, e.tls, cfg.Connections, cfg.Hold, func(i int) login { return e.login("held", i) })
		return err
	})
	if err != nil {
		return f, fmt.Errorf("emulator: %w", err)
	}

	progress(fmt.Sprintf("mosquitto: %d held connections", cfg.Connections))
	err = withMosquitto(ctx, cfg, dir, func(m *mosquittoProcess) (err error) {
		f.Mosquitto.Held, err = hold(ctx, m.pid(), m.addr, m.tls, cfg.Connections, cfg.Hold, func(i int) login { return m.login("held", i) })
		return err
	})
	if err != nil {
		return f, fmt.Errorf("mosquitto: %w", err)
	}
	return f, nil
}

// withEmulator runs fn on a freshly started emulator process and stops it.
func withEmulator(ctx context.Context, cfg Config, dir string, fn func(*emulatorProcess) error) error {
	e, err := startEmulator(ctx, cfg.Emulator, dir)
	if err != nil {
		return err
	}
	return errors.Join(fn(e), e.stop())
}

// withMosquitto runs fn on a freshly started Mosquitto and stops it.
func withMosquitto(ctx context.Context, cfg Config, dir string, fn func(*mosquittoProcess) error) error {
	m, err := startMosquitto(ctx, cfg.Mosquitto, dir)
	if err != nil {
		return err
	}
	return errors.Join(fn(m), m.stop())
}

// loadRun is internal/loadgen's run on the emulator process, as `hubspec
// load` runs it against a live hub: every connect at once (no ramp) and no
// hold. An error of any operation fails it.
func loadRun(ctx context.Context, e *emulatorProcess, cfg Config) (*loadgen.Report, error) {
	t, err := e.target(ctx)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	rep, err := loadgen.Run(ctx, t, loadgen.Config{
		Prefix: harness.NewRun(t).Prefix, Devices: cfg.Devices, ModulesPerDevice: cfg.ModulesPerDevice,
		Concurrency: cfg.Concurrency, Patches: cfg.Patches,
	})
	if err != nil {
		return nil, fmt.Errorf("load run: %w", err)
	}
	if n := rep.Errors.Total(); n > 0 {
		return nil, fmt.Errorf("load run: %d errors %+v, the first: %q", n, rep.Errors, rep.Samples)
	}
	return rep, nil
}

// trips connects cfg.Concurrency clients made by dial, runs perClient
// timed round trips on each at once, and closes them.
func trips(ctx context.Context, cfg Config, perClient int, dial func(i int) (tripper, error)) (loadgen.Latency, error) {
	var ts []tripper
	defer func() { closeAll(ts) }()
	for i := range cfg.Concurrency {
		t, err := dial(i)
		if err != nil {
			return loadgen.Latency{}, err
		}
		ts = append(ts, t)
	}
	return measureTrips(ctx, ts, warmupTrips, perClient, cfg.MessageBytes)
}
