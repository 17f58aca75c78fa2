package harness

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"

	"github.com/hubspec/hubspec/emulator"
)

// Embedded is the default target: an emulator inside the test process,
// started once for the whole suite.
//
// Its emulator-only powers are emulator.Controls, the Server itself; the
// container target has the same interface over the emulator's control
// plane, so the two cannot offer different powers.
type Embedded struct {
	emulator.Controls
	srv *emulator.Server
}

// StartEmbedded starts an emulator on loopback with random ports.
func StartEmbedded(ctx context.Context, log *slog.Logger) (*Embedded, error) {
	srv, err := emulator.Start(ctx, emulator.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("embedded target: %w", err)
	}
	return &Embedded{Controls: srv, srv: srv}, nil
}

func (e *Embedded) Name() string { return "embedded" }

func (e *Embedded) ServiceConnectionString() string { return e.srv.ConnectionString() }

// PolicyConnectionString is the connection string of one of the
// emulator's shared access policies (see emulator.PolicyNames).
func (e *Embedded) PolicyConnectionString(policy string) (string, error) {
	return e.srv.PolicyConnectionString(policy)
}

func (e *Embedded) RegistryOptions() []service.Option {
	reg, _ := tlsOptions(e.srv.TLSConfig())
	return reg
}

func (e *Embedded) DialOptions() []device.Option {
	_, dial := tlsOptions(e.srv.TLSConfig())
	return append(dial, device.WithAddress(e.srv.MQTTAddr()))
}

// AMQP is the emulator's AMQPS listener and its built-in endpoint.
func (e *Embedded) AMQP() AMQPEndpoint {
	return AMQPEndpoint{Address: e.srv.AMQPAddr(), TLS: e.srv.TLSConfig(), EventHubConnectionString: e.srv.EventHubConnectionString()}
}

// Server is the emulator itself, for Go tests that want more than a Target.
func (e *Embedded) Server() *emulator.Server { return e.srv }

func (e *Embedded) Close() error { return e.srv.Close() }
