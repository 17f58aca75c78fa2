package emulator

import (
	"context"
	"time"
)

// Controls are the emulator's test powers: the failures and waits a test
// asks of an emulator and that no real IoT hub offers. The embedded
// *Server has them in its own process; a ControlClient has them across a
// process boundary through the control plane (control.go). Both implement
// this one interface, so whatever drives an emulator in-process can drive
// one in a container the same way, and a power added to one side without
// the other does not compile.
//
// Every method takes a context and returns an error, because the remote
// implementation can always fail; the embedded one returns an error only
// for invalid arguments.
type Controls interface {
	// FailRegistryCalls makes the next n REST calls that name the device
	// (the device itself, its modules, their twins) fail with the IoT Hub
	// error of that name, e.g. "ThrottlingException", answered as a real
	// hub answers it; n = 0 clears. See Server.FailRegistryCalls.
	FailRegistryCalls(ctx context.Context, deviceID string, n int, errorName string) error
	// AwaitConnections waits until the device (moduleID "") or module has
	// had at least n accepted MQTT connections since the emulator started,
	// or ctx ends; the error then wraps ctx.Err().
	AwaitConnections(ctx context.Context, deviceID, moduleID string, n int) error
	// DropConnection closes the identity's live MQTT connection as a
	// network failure would (the session stays) and reports whether there
	// was one.
	DropConnection(ctx context.Context, deviceID, moduleID string) (bool, error)
	// DropDesiredPushes drops the notifications of the next n
	// desired-property changes, every one when n < 0; 0 restores delivery.
	// See Server.DropDesiredPushes.
	DropDesiredPushes(ctx context.Context, n int) error
	// RegisterDeviceCA registers the CA certificates of a PEM bundle with
	// the hub, as a verified CA is registered on a real hub (there, through
	// the portal or ARM with proof of possession): the certificates of
	// certificateAuthority devices and modules may then chain to them.
	// A block that is not a CA certificate refuses the whole bundle. See
	// Server.RegisterDeviceCA.
	RegisterDeviceCA(ctx context.Context, pem []byte) error
	// AwaitDeliveries is the delivery barrier: it returns once every push
	// caused by a change made before the call has been written to the
	// identity's live MQTT connection or dropped; given a marker token it
	// then writes a PUBLISH of DeliveryMarkerPrefix+marker to that
	// connection and reports whether it did. See Server.AwaitDeliveries.
	AwaitDeliveries(ctx context.Context, deviceID, moduleID, marker string) (bool, error)
	// AwaitRegistryChange returns the registry's change count once it is
	// past after (at once for 0), or ctx's error: a read after a write
	// reads again when the registry changes. See
	// Server.AwaitRegistryChange.
	AwaitRegistryChange(ctx context.Context, after uint64) (uint64, error)
	// AdvanceDeviceClock moves the clock of one device, and so of its
	// modules, forward by d: what the hub does to them after some time and
	// that d brings due happens at once, other devices keep their time.
	// Unknown device: 404 DeviceNotFound; d <= 0: 400 ArgumentInvalid. See
	// Server.AdvanceDeviceClock.
	AdvanceDeviceClock(ctx context.Context, deviceID string, d time.Duration) error
}

// Both implementations have every power.
var (
	_ Controls = (*Server)(nil)
	_ Controls = (*ControlClient)(nil)
)

// The control plane's paths, on the HTTPS port under the emulator's own
// prefix, where IoT Hub's API has nothing. Each takes a POST of the JSON
// request below and answers 200 with the JSON answer below.
const (
	// ControlPrefix is the prefix of every emulator-only path.
	ControlPrefix = "/$hubspec/"
	// HealthPath answers GET, unauthenticated, once the emulator serves:
	// 200 {"status":"ok",...} while every listener accepts connections, 503
	// naming the one that cannot otherwise. For container health checks and
	// start-up waits. (It is not a control: no token, no POST.)
	HealthPath = ControlPrefix + "health"

	// ControlRegistryFaultsPath takes registryFaultsRequest and answers it.
	ControlRegistryFaultsPath = ControlPrefix + "registry-faults"
	// ControlAwaitConnectionsPath takes awaitConnectionsRequest, waits at
	// most waitSeconds (capped at 30 s) and answers connectionsAnswer,
	// whether or not atLeast was reached.
	ControlAwaitConnectionsPath = ControlPrefix + "connections/await"
	// ControlDropConnectionPath takes dropConnectionRequest and answers
	// dropConnectionAnswer.
	ControlDropConnectionPath = ControlPrefix + "connections/drop"
	// ControlDropDesiredPushesPath takes dropDesiredPushesRequest and
	// answers it.
	ControlDropDesiredPushesPath = ControlPrefix + "desired-pushes/drop"
	// ControlDeviceCAsPath takes deviceCARequest and answers
	// deviceCAAnswer.
	ControlDeviceCAsPath = ControlPrefix + "device-cas"
	// ControlAwaitDeliveriesPath takes awaitDeliveriesRequest, waits at
	// most waitSeconds (capped at 30 s) and answers deliveriesAnswer,
	// whether or not the barrier was reached.
	ControlAwaitDeliveriesPath = ControlPrefix + "deliveries/await"
	// ControlAwaitRegistryChangePath takes awaitChangeRequest, waits at
	// most waitSeconds (capped at 30 s) and answers changesAnswer, whether
	// or not the count went past after.
	ControlAwaitRegistryChangePath = ControlPrefix + "registry/changes/await"
	// ControlAdvanceDeviceClockPath takes advanceDeviceClockRequest and
	// answers it.
	ControlAdvanceDeviceClockPath = ControlPrefix + "device-clocks/advance"
)

// The requests and answers of the control plane, shared by its handlers
// (control.go) and its client (control_client.go).
type (
	registryFaultsRequest struct {
		DeviceID  string `json:"deviceId"`
		Count     int    `json:"count"`
		ErrorName string `json:"errorName"`
	}
	awaitConnectionsRequest struct {
		DeviceID    string  `json:"deviceId"`
		ModuleID    string  `json:"moduleId"`
		AtLeast     int     `json:"atLeast"`
		WaitSeconds float64 `json:"waitSeconds"`
	}
	connectionsAnswer struct {
		DeviceID    string `json:"deviceId"`
		ModuleID    string `json:"moduleId"`
		Connections int    `json:"connections"`
	}
	dropConnectionRequest struct {
		DeviceID string `json:"deviceId"`
		ModuleID string `json:"moduleId"`
	}
	dropConnectionAnswer struct {
		DeviceID string `json:"deviceId"`
		ModuleID string `json:"moduleId"`
		Dropped  bool   `json:"dropped"`
	}
	dropDesiredPushesRequest struct {
		Count int `json:"count"`
	}
	deviceCARequest struct {
		PEM string `json:"pem"`
	}
	deviceCAAnswer struct {
		Registered int `json:"registered"` // how many CAs the hub now has
	}
	awaitDeliveriesRequest struct {
		DeviceID    string  `json:"deviceId"`
		ModuleID    string  `json:"moduleId"`
		Marker      string  `json:"marker"`
		WaitSeconds float64 `json:"waitSeconds"`
	}
	deliveriesAnswer struct {
		DeviceID string `json:"deviceId"`
		ModuleID string `json:"moduleId"`
		Settled  bool   `json:"settled"` // the barrier was reached within waitSeconds
		Marked   bool   `json:"marked"`  // and the marker written
	}
	awaitChangeRequest struct {
		After       uint64  `json:"after"`
		WaitSeconds float64 `json:"waitSeconds"`
	}
	changesAnswer struct {
		Changes uint64 `json:"changes"`
	}
	advanceDeviceClockRequest struct {
		DeviceID string  `json:"deviceId"`
		Seconds  float64 `json:"seconds"` // fractions allowed
	}
)
