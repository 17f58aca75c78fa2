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
type Embedded struct {
	srv *emulator.Server
}

// StartEmbedded starts an emulator on loopback with random ports.
func StartEmbedded(ctx context.Context, log *slog.Logger) (*Embedded, error) {
	srv, err := emulator.Start(ctx, emulator.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("embedded target: %w", err)
	}
	return &Embedded{srv: srv}, nil
}

func (e *Embedded) Name() string { return "embedded" }

func (e *Embedded) ServiceConnectionString() string { return e.srv.ConnectionString() }

func (e *Embedded) RegistryOptions() []service.Option {
	reg, _ := tlsOptions(e.srv.TLSConfig())
	return reg
}

func (e *Embedded) DialOptions() []device.Option {
	_, dial := tlsOptions(e.srv.TLSConfig())
	return append(dial, device.WithAddress(e.srv.MQTTAddr()))
}

func (e *Embedded) AwaitConnections(ctx context.Context, deviceID, moduleID string, n int) error {
	return e.srv.AwaitConnections(ctx, deviceID, moduleID, n)
}

func (e *Embedded) DropConnection(_ context.Context, deviceID, moduleID string) (bool, error) {
	return e.srv.DropConnection(deviceID, moduleID), nil
}

func (e *Embedded) FailRegistryCalls(_ context.Context, deviceID string, n int, errorName string) error {
	return e.srv.FailRegistryCalls(deviceID, n, errorName)
}

// Server is the emulator itself, for Go tests that want more than a Target.
func (e *Embedded) Server() *emulator.Server { return e.srv }

func (e *Embedded) Close() error { return e.srv.Close() }
