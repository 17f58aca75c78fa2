package harness

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"

	"github.com/testcontainers/testcontainers-go"
)

// stopGrace bounds how long Close lets the emulator shut down on SIGTERM
// before Docker kills it; it holds nothing worth a longer wait.
const stopGrace = 5 * time.Second

// Container is the "container" target: the emulator image in a container
// started by testcontainers-go, reached through published ports. It proves
// what the embedded target cannot: the shipped binary and image work, over
// real ports, with the CA a foreign client would have to be given.
//
// Its emulator-only powers are emulator.Controls, as the embedded
// target's: an emulator.ControlClient that reaches the emulator's control
// plane on the published HTTPS port.
type Container struct {
	emulator.Controls
	emu      *EmulatorContainer
	connStr  string
	policies map[string]string // every policy's connection string, by name
	mqttAddr string
	tls      *tls.Config
	amqp     AMQPEndpoint
}

// OpenContainer runs the emulator image c.Image (IOTHUB_EMULATOR_IMAGE),
// DefaultEmulatorImage when empty, and waits until it is healthy. It runs
// an image the Docker engine already has and never builds or pulls one: an
// absent image is an error wrapping ErrNoImage that names the `make image`
// command to build it. Which sources the image was built from is logged
// (EmulatorSourceLabel); the container tests check it against the checkout.
// Close terminates the container.
//
// Set TESTCONTAINERS_RYUK_DISABLED=true where the Ryuk reaper image cannot
// be pulled (see RunEmulator); containers are terminated explicitly.
func OpenContainer(ctx context.Context, c Config, log *slog.Logger) (_ Target, err error) {
	if log == nil {
		log = discardLogger()
	}
	image := c.Image
	if image == "" {
		image = DefaultEmulatorImage
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("container target: %w", err)
		}
	}()

	p, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(printfLogger{log}))
	if err != nil {
		return nil, fmt.Errorf("no Docker engine: %w", err)
	}
	defer p.Close()
	source, err := imageSource(ctx, p, image)
	if err != nil {
		return nil, err
	}

	start := time.Now()
	emu, err := RunEmulator(ctx, image, testcontainers.WithLogger(printfLogger{log}))
	// As a module's caller registers its cleanup before the error check:
	// a container that started but never became healthy is removed too.
	defer func() {
		if err != nil {
			err = errors.Join(err, terminate(emu))
		}
	}()
	if err != nil {
		return nil, fmt.Errorf("%w%s", err, ryukHint())
	}
	log.Info("emulator container healthy", "image", image, "source", source, "id", shortID(emu.GetContainerID()),
		"took", time.Since(start).Round(time.Millisecond))

	t := &Container{emu: emu}
	if t.connStr, t.policies, err = emu.connectionStrings(ctx); err != nil {
		return nil, err
	}
	if t.mqttAddr, err = emu.MQTTAddress(ctx); err != nil {
		return nil, err
	}
	if t.tls, err = emu.TLSConfig(ctx); err != nil {
		return nil, err
	}
	t.amqp.TLS = t.tls
	if t.amqp.Address, err = emu.AMQPAddress(ctx); err != nil {
		return nil, err
	}
	if t.amqp.EventHubConnectionString, err = emu.EventHubConnectionString(ctx); err != nil {
		return nil, err
	}
	if t.Controls, err = emulator.NewControlClient(t.connStr, t.tls); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Container) Name() string { return "container" }

// Emulated is true: @emulator-only scenarios run here too.
func (t *Container) Emulated() bool { return true }

// ServiceConnectionString is the emulator's iothubowner connection string,
// its HostName carrying the published HTTPS port.
func (t *Container) ServiceConnectionString() string { return t.connStr }

// PolicyConnectionString is the connection string of one of the shared
// access policies the emulator printed (see emulator.PolicyNames), its
// HostName carrying the published HTTPS port.
func (t *Container) PolicyConnectionString(policy string) (string, error) {
	cs, ok := t.policies[policy]
	if !ok {
		return "", fmt.Errorf("container target: the emulator printed no connection string for policy %q (it printed %v)",
			policy, slices.Sorted(maps.Keys(t.policies)))
	}
	return cs, nil
}

// RegistryOptions trust the container's CA.
func (t *Container) RegistryOptions() []service.Option {
	reg, _ := tlsOptions(t.tls)
	return reg
}

// DialOptions dial the published MQTT port and verify the hub's host name
// there (TLSConfig's ServerName), trusting the container's CA.
func (t *Container) DialOptions() []device.Option {
	_, dial := tlsOptions(t.tls)
	return append(dial, device.WithAddress(t.mqttAddr))
}

// AMQP is the published AMQP port and the built-in endpoint's connection
// string the emulator printed, rewritten to that port.
func (t *Container) AMQP() AMQPEndpoint { return t.amqp }

// Emulator is the running container, for tests that want more than a Target.
func (t *Container) Emulator() *EmulatorContainer { return t.emu }

// Close terminates the container.
func (t *Container) Close() error { return terminate(t.emu) }

// terminate stops and removes the container, if one was created, with its
// own deadline: it also runs after the caller's context has expired.
func terminate(emu *EmulatorContainer) error {
	if emu == nil || emu.Container == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return testcontainers.TerminateContainer(emu.Container,
		testcontainers.StopContext(ctx), testcontainers.StopTimeout(stopGrace))
}

// ryukHint explains the usual failure where no registry is reachable: the
// Ryuk reaper is on and its image cannot be pulled.
func ryukHint() string {
	if testcontainers.ReadConfig().RyukDisabled {
		return ""
	}
	return " (testcontainers' Ryuk reaper is enabled and needs its image pulled;" +
		" set TESTCONTAINERS_RYUK_DISABLED=true where no registry is reachable)"
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
