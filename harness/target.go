// Package harness gives scenarios a hub to run against (a Target) and the
// per-scenario lifecycle: unique resource names under a run prefix and a
// cleanup stack that runs even when the scenario failed.
//
// Targets: "embedded" (an emulator started inside the test process, the
// default), "container" (the emulator image) and "live" (a real IoT hub
// given by a service connection string, see OpenLive). Sweep removes a live
// hub's leftovers by run prefix.
package harness

import (
	"context"
	"crypto/tls"
	"time"

	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"
)

// Target is a hub the scenarios run against. Everything a step needs to
// reach it goes through this interface, so the same steps run against an
// emulator and a live hub; emulator-only powers are optional interfaces
// (Emulated, ConnectionAwaiter, ConnectionDropper, RegistryFaulter,
// DeviceCARegistrar)
// discovered by type assertion.
type Target interface {
	// Name is the target kind, e.g. "embedded".
	Name() string
	// ServiceConnectionString is a policy connection string with registry
	// read/write and service connect (iothubowner on an emulator).
	ServiceConnectionString() string
	// RegistryOptions configure a service.RegistryClient for this target (TLS
	// trust, and on a live hub a retry policy for throttling).
	RegistryOptions() []service.Option
	// DialOptions configure device.DialModule/DialDevice for this target (MQTT
	// address, TLS trust).
	DialOptions() []device.Option
	// AMQP is where the hub's AMQP 1.0 side is reached: the built-in
	// endpoint that service apps read telemetry and events from, and
	// cloud-to-device messages.
	AMQP() AMQPEndpoint
	// Close releases the target.
	Close() error
}

// AMQPEndpoint is how a service app reaches a hub over AMQP 1.0.
type AMQPEndpoint struct {
	// Address is host:port of AMQP over TLS; "" means the hub's HostName on
	// 5671, where a real hub listens.
	Address string
	// TLS is the client's trust (nil: the system roots). Its ServerName is
	// the hub's host name where the dial address is not.
	TLS *tls.Config
	// EventHubConnectionString is the built-in endpoint's Event
	// Hubs-compatible connection string (Endpoint=sb://{host}/;
	// SharedAccessKeyName=...;SharedAccessKey=...;EntityPath={name}), the
	// one the portal shows; "" on a live hub given none
	// (IOTHUB_EVENTHUB_CONNECTION_STRING), since a service connection
	// string does not name it.
	EventHubConnectionString string
}

// Emulated is a target that is a Hubspec emulator rather than a real IoT
// hub. Scenarios tagged @emulator-only run only where IsEmulator is true,
// and @live-only ones only where it is false.
//
// It is a method rather than a bare marker so that a wrapper can embed an
// emulator target and still answer false, e.g. to run the suite the way a
// live hub would be run.
type Emulated interface {
	Emulated() bool
}

// IsEmulator reports whether t says it is an emulator. A target that does
// not implement Emulated (a live hub) is not.
func IsEmulator(t Target) bool {
	e, ok := t.(Emulated)
	return ok && e.Emulated()
}

// Emulated is true: the embedded target is the emulator itself. (Declared
// here, beside the interface, so the capability and its implementations
// are read together.)
func (e *Embedded) Emulated() bool { return true }

// ConnectionAwaiter is a target that can tell when an identity has
// connected over MQTT, so a step can wait for a reconnect instead of
// sleeping. The emulator targets have it.
type ConnectionAwaiter interface {
	AwaitConnections(ctx context.Context, deviceID, moduleID string, n int) error
}

// ConnectionDropper is a target that can close an identity's live MQTT
// connection as a network failure would (the hub keeps the session), so a
// scenario can show that a client recovers. The emulator targets have it:
// the embedded one calls the emulator, the container one its control plane.
type ConnectionDropper interface {
	// DropConnection reports whether there was a connection to drop.
	DropConnection(ctx context.Context, deviceID, moduleID string) (bool, error)
}

// RegistryFaulter is a target that can make the registry fail on purpose:
// the next n REST calls naming a device (the device, its modules, their
// twins) fail with the IoT Hub error of that name, e.g.
// "ThrottlingException", answered as a real hub answers it. Calls naming
// other devices are unaffected, so concurrent scenarios do not disturb
// each other; n = 0 clears. The emulator targets have it.
type RegistryFaulter interface {
	FailRegistryCalls(ctx context.Context, deviceID string, n int, errorName string) error
}

// PolicyConnectionStrings is a target that gives the connection string of
// each of the hub's shared access policies by name (emulator.PolicyNames:
// "iothubowner", "service", "device", "registryRead",
// "registryReadWrite"), so a scenario can show what each may and may not
// do. The emulator targets have it: the embedded one from the emulator,
// the container one from what the emulator printed. A live target does
// not: it is given one connection string.
type PolicyConnectionStrings interface {
	// PolicyConnectionString errs for a policy the hub does not have.
	PolicyConnectionString(policy string) (string, error)
}

// DeviceCARegistrar is a target that can register a CA certificate with
// the hub, so that certificateAuthority devices and modules whose
// certificates it signs can connect. A live hub registers a CA through
// Azure Resource Manager with proof of possession, which a scenario cannot
// arrange; the emulator targets have it (emulator.Controls).
type DeviceCARegistrar interface {
	RegisterDeviceCA(ctx context.Context, pem []byte) error
}

// DeliveryBarrier is a target that can prove a negative at once: "nothing
// more will reach this connection" is known to the emulator, where a live
// hub only lets time tell. AwaitDeliveries returns once every push caused
// by a change made before the call (desired patches, direct method calls,
// whatever reaches a connection) has been written to the identity's live
// MQTT connection or dropped; given a marker token it then writes a PUBLISH
// of DeliveryMarkerPrefix+marker to that connection, whatever its
// subscriptions, and reports whether it did (false: the identity has no
// live connection). A client that has handled the marker has handled
// everything the barrier waited for. The emulator targets have it.
type DeliveryBarrier interface {
	AwaitDeliveries(ctx context.Context, deviceID, moduleID, marker string) (bool, error)
}

// RegistryChangeNotifier is a target that tells when its registry changes,
// so a check that reads after a write reads again at once instead of on a
// timer. AwaitRegistryChange returns the registry's change count once it
// is past after (at once for 0), counting every committed write and every
// identity connecting or disconnecting, or ctx's error. The emulator
// targets have it; a live hub is polled with back-off instead.
type RegistryChangeNotifier interface {
	AwaitRegistryChange(ctx context.Context, after uint64) (uint64, error)
}

// DeviceClockMover is a target whose time a scenario can move on. On the
// emulator every device has a clock of its own, the wall clock until it is
// moved, and what the hub does to a device and its modules after some time
// follows it: fault windows and delayed faults, direct method connect and
// response timeouts, cloud-to-device message expiry, and the expiry of the
// SAS tokens its connections were opened with. AdvanceDeviceClock moves one
// device's clock forward by d, so whatever that brings due happens at
// once; other devices, and so the scenarios running beside, are untouched.
// A live hub has no such thing: there only waiting lets time pass. The
// emulator targets have it.
type DeviceClockMover interface {
	AdvanceDeviceClock(ctx context.Context, deviceID string, d time.Duration) error
}

// DeliveryMarkerPrefix is the topic of a DeliveryBarrier's marker, before
// its token: no IoT Hub topic starts with it.
const DeliveryMarkerPrefix = emulator.DeliveryMarkerPrefix

// Every power a step can discover, but the policies' connection strings
// (which are no control), is one of emulator.Controls, so an emulator
// target has it whichever way it reaches the emulator; and both emulator
// targets have all of emulator.Controls and every policy's connection
// string.
var (
	_ ConnectionAwaiter = emulator.Controls(nil)
	_ ConnectionDropper = emulator.Controls(nil)
	_ RegistryFaulter   = emulator.Controls(nil)
	_ DeviceCARegistrar = emulator.Controls(nil)
	_ DeliveryBarrier   = emulator.Controls(nil)
	_ DeviceClockMover  = emulator.Controls(nil)

	_ RegistryChangeNotifier = emulator.Controls(nil)
	_ emulator.Controls      = (*Embedded)(nil)
	_ emulator.Controls      = (*Container)(nil)

	_ PolicyConnectionStrings = (*Embedded)(nil)
	_ PolicyConnectionStrings = (*Container)(nil)
)

// tlsOptions turns a trust configuration into both clients' options.
func tlsOptions(cfg *tls.Config) ([]service.Option, []device.Option) {
	if cfg == nil {
		return nil, nil
	}
	return []service.Option{service.WithTLSConfig(cfg)}, []device.Option{device.WithTLSConfig(cfg)}
}
