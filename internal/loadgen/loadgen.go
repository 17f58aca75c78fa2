// Package loadgen puts a hub under the load of many devices or modules and
// measures what a team needs to know before production: how fast the
// registry creates identities, how fast and how quickly they connect over
// MQTT, how long a desired patch takes from the service's PATCH to the
// client, and a reported patch from the client to the hub's answer, and how
// often the hub throttled. It drives any harness.Target with the real
// clients (hub/service, hub/device), so the same run measures the embedded
// emulator, its container and a live hub; `hubspec load` is its command.
//
// Everything a run creates is named under its prefix and deleted at the
// end, also when the run fails or its context is cancelled; what a killed
// process leaves, `hubspec sweep` removes.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"
)

// Config is one load run.
type Config struct {
	// Prefix names every identity: devices are "{Prefix}-load-{n}", so a
	// run prefix (harness.NewRun) lets `hubspec sweep` find leftovers.
	Prefix string
	// Devices is how many devices to create.
	Devices int
	// ModulesPerDevice is how many modules each device gets; 0 connects
	// the devices themselves, more connects the modules (and not their
	// devices).
	ModulesPerDevice int
	// Ramp is how many connects start per second; 0 starts them as fast
	// as Concurrency allows.
	Ramp float64
	// Hold is how long the connections stay up after the last one
	// connected, patches included.
	Hold time.Duration
	// Concurrency bounds the operations in flight at once.
	Concurrency int
	// Patches is how many desired and how many reported patches each
	// identity gets.
	Patches int
}

// InvalidSetting is a Config value a run cannot use. Name is the
// setting's name as hubspec load's flag spells it ("modules-per-device").
type InvalidSetting struct {
	Name, Value, Want string
}

func (e *InvalidSetting) Error() string {
	return fmt.Sprintf("load: %s %s: want %s", e.Name, e.Value, e.Want)
}

// Check refuses counts, rates and durations a run cannot mean anything
// with, as an *InvalidSetting; the prefix is Run's to check, since a caller
// may check its settings before it has a target to name identities on.
func (c Config) Check() error {
	bad := func(name string, v any, want string) error {
		return &InvalidSetting{Name: name, Value: fmt.Sprint(v), Want: want}
	}
	switch {
	case c.Devices < 1:
		return bad("devices", c.Devices, "1 or more")
	case c.ModulesPerDevice < 0:
		return bad("modules-per-device", c.ModulesPerDevice, "0 or more")
	case c.Ramp < 0:
		return bad("ramp", c.Ramp, "0 (no limit) or more")
	case c.Hold < 0:
		return bad("hold", c.Hold, "0 or more")
	case c.Concurrency < 1:
		return bad("concurrency", c.Concurrency, "1 or more")
	case c.Patches < 0:
		return bad("patches", c.Patches, "0 or more")
	}
	return nil
}

// opTimeout bounds one connect or one patch, so a hub that stops
// answering costs an error, not the run.
const opTimeout = 30 * time.Second

// load is one run's state.
type load struct {
	cfg       Config
	target    harness.Target
	reg       *service.RegistryClient
	host      string
	throttled atomic.Int64
	quoted    quotes
	created   []string // device ids whose create was sent (cleanup deletes them)
	ids       []identity
}

// identity is one client of the run: a device, or a module of one.
type identity struct {
	deviceID, moduleID string
	key                string // primary key, "" until created
	client             *device.Client
}

// Run creates the identities, connects them at the ramp's pace, patches
// their twins both ways, holds the connections, then disconnects and
// deletes everything it created. The report is never nil: after an error
// or a cancel it holds what was measured until then, and the cleanup.
func Run(ctx context.Context, t harness.Target, cfg Config) (*Report, error) {
	if cfg.Prefix == "" {
		return nil, errors.New("load: no prefix to name the identities under")
	}
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	start := time.Now()
	rep := &Report{Target: t.Name(), Prefix: cfg.Prefix, Devices: cfg.Devices, ModulesPerDevice: cfg.ModulesPerDevice}
	l := &load{cfg: cfg, target: t}
	err := l.open()
	if err == nil {
		err = l.drive(ctx, rep)
		l.disconnect()
		rep.Cleanup = l.cleanup(ctx, &rep.Errors)
	}
	rep.Throttled = l.throttled.Load()
	rep.Samples = l.quoted.list
	rep.Seconds = time.Since(start).Seconds()
	return rep, err
}

// open makes the registry client, counting the 429 answers it meets.
func (l *load) open() error {
	svc, err := hub.ParseConnectionString(l.target.ServiceConnectionString())
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	l.host = svc.HostName
	count := service.WithObserver(func(x service.HTTPExchange) {
		if x.Status == 429 {
			l.throttled.Add(1)
		}
	})
	l.reg, err = service.NewRegistryClient(l.target.ServiceConnectionString(), append(l.target.RegistryOptions(), count)...)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	return nil
}

// drive runs the phases until one is cut short by ctx.
func (l *load) drive(ctx context.Context, rep *Report) error {
	rep.Registry = l.create(ctx, &rep.Errors.Create)
	if err := ctx.Err(); err != nil {
		return err
	}
	rep.Identities = len(l.ids)
	rep.Connect = l.connect(ctx, &rep.Errors.Connect)
	if err := ctx.Err(); err != nil {
		return err
	}
	held := time.NewTimer(l.cfg.Hold) // from the last connect
	defer held.Stop()
	rep.DesiredPatch, rep.ReportedPatch = l.patch(ctx, &rep.Errors)
	select {
	case <-held.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
