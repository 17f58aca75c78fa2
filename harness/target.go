// Package harness gives scenarios a hub to run against (a Target) and the
// per-scenario lifecycle: unique resource names under a run prefix and a
// cleanup stack that runs even when the scenario failed.
//
// Targets: "embedded" (an emulator started inside the test process, the
// default). The container and live-hub targets come with the `hubspec`
// runner; Open names them and says they are not available yet.
package harness

import (
	"context"
	"crypto/tls"

	"github.com/hubspec/hubspec/hub"
)

// Target is a hub the scenarios run against. Everything a step needs to
// reach it goes through this interface, so the same steps run against an
// emulator and a live hub; emulator-only powers are optional interfaces
// (see ConnectionAwaiter) discovered by type assertion.
type Target interface {
	// Name is the target kind, e.g. "embedded".
	Name() string
	// ServiceConnectionString is a policy connection string with registry
	// read/write and service connect (iothubowner on an emulator).
	ServiceConnectionString() string
	// RegistryOptions configure a hub.RegistryClient for this target (TLS trust).
	RegistryOptions() []hub.RegistryOption
	// DialOptions configure hub.DialModule/DialDevice for this target (MQTT
	// address, TLS trust).
	DialOptions() []hub.DialOption
	// Close releases the target.
	Close() error
}

// ConnectionAwaiter is a target that can tell when an identity has
// connected over MQTT, so a step can wait for a reconnect instead of
// sleeping. The emulator targets have it.
type ConnectionAwaiter interface {
	AwaitConnections(ctx context.Context, deviceID, moduleID string, n int) error
}

// tlsOptions turns a trust configuration into both clients' options.
func tlsOptions(cfg *tls.Config) ([]hub.RegistryOption, []hub.DialOption) {
	if cfg == nil {
		return nil, nil
	}
	return []hub.RegistryOption{hub.WithTLSConfig(cfg)}, []hub.DialOption{hub.DialTLSConfig(cfg)}
}
