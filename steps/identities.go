package steps

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/hub"
)

func identitySteps(sc *godog.ScenarioContext) {
	sc.Step(`^the service creates device "([^"]+)"(?: with hub-assigned keys)?$`, createDevice)
	sc.Step(`^the service creates module "([^"]+)" on device "([^"]+)"(?: with hub-assigned keys)?$`, createModule)
	sc.Step(`^module "([^"]+)" exists on device "([^"]+)"$`, moduleExists)
	sc.Step(`^the service reuses the existing (device|module) "([^"]+)"$`, reuseIdentity)
	sc.Step(`^(device|module) "([^"]+)" has two hub-assigned keys$`, hasHubAssignedKeys)
	sc.Step(`^(device|module) "([^"]+)" has the same keys as when it was first created$`, sameKeysAsFirst)
	sc.Step(`^the hub refuses with (\d{3}) (\w+)$`, hubRefuses)
}

// createDevice creates a device with empty keys, so the hub assigns them.
// A refusal (409 on a rerun) is recorded for "the hub refuses with ...".
func createDevice(ctx context.Context, alias string) error {
	w := worldFrom(ctx)
	id := w.sc.Name(alias)
	d, err := w.registry.CreateDevice(ctx, &hub.Device{DeviceID: id})
	if err != nil {
		return w.refused(err)
	}
	w.devices[alias] = d
	if _, seen := w.firstKeys["device "+alias]; !seen {
		w.firstKeys["device "+alias] = keysOf(d.Authentication)
		w.sc.Defer("delete device "+id, func(ctx context.Context) error {
			err := w.registry.DeleteDevice(ctx, id, "*")
			if errors.Is(err, hub.ErrDeviceNotFound) {
				return nil
			}
			return err
		})
	}
	return nil
}

// createModule creates a module with empty keys, so the hub assigns them.
// Deleting the device in cleanup deletes its modules.
//
// On a live hub a device created a moment ago may not be visible yet
// (protocol.md §3.9), so while the scenario itself created the device a
// 404 DeviceNotFound is retried until settleWithin; a 404 for a device the
// scenario never created is a refusal for "the hub refuses with" at once.
func createModule(ctx context.Context, alias, deviceAlias string) error {
	w := worldFrom(ctx)
	w.deviceOf[alias] = deviceAlias
	_, created := w.devices[deviceAlias]
	var m *hub.Module
	var err error
	_ = Eventually(ctx, settleWithin, func(ctx context.Context) error {
		m, err = w.registry.CreateModule(ctx, &hub.Module{DeviceID: w.sc.Name(deviceAlias), ModuleID: w.sc.Name(alias)})
		if created && errors.Is(err, hub.ErrDeviceNotFound) {
			return err
		}
		return nil
	})
	if err != nil {
		return w.refused(err)
	}
	w.modules[alias] = m
	if _, seen := w.firstKeys["module "+alias]; !seen {
		w.firstKeys["module "+alias] = keysOf(m.Authentication)
	}
	return nil
}

// moduleExists makes sure a device and a module on it exist, as a
// precondition.
func moduleExists(ctx context.Context, alias, deviceAlias string) error {
	if err := createDevice(ctx, deviceAlias); err != nil {
		return err
	}
	if err := createModule(ctx, alias, deviceAlias); err != nil {
		return err
	}
	if err := worldFrom(ctx).lastRefusal; err != nil {
		return fmt.Errorf("module %q on device %q: %w", alias, deviceAlias, err)
	}
	return nil
}

// reuseIdentity is the tutorial's answer to 409: read the identity that
// already exists and carry on with it. Right after a 409 a live hub may
// still answer 404 to the read for a moment, so the read polls.
func reuseIdentity(ctx context.Context, kind, alias string) error {
	w := worldFrom(ctx)
	if kind == "device" {
		return Eventually(ctx, settleWithin, func(ctx context.Context) error {
			d, err := w.registry.GetDevice(ctx, w.sc.Name(alias))
			if err == nil {
				w.devices[alias] = d
			}
			return err
		})
	}
	deviceAlias, ok := w.deviceOf[alias]
	if !ok {
		return fmt.Errorf("module %q: no device known for it", alias)
	}
	return Eventually(ctx, settleWithin, func(ctx context.Context) error {
		m, err := w.registry.GetModule(ctx, w.sc.Name(deviceAlias), w.sc.Name(alias))
		if err == nil {
			w.modules[alias] = m
		}
		return err
	})
}

func (w *world) currentKeys(kind, alias string) (hub.SymmetricKey, error) {
	if kind == "device" {
		d, err := w.device(alias)
		if err != nil {
			return hub.SymmetricKey{}, err
		}
		return keysOf(d.Authentication), nil
	}
	m, err := w.module(alias)
	if err != nil {
		return hub.SymmetricKey{}, err
	}
	return keysOf(m.Authentication), nil
}

// hasHubAssignedKeys checks the keys the hub generated: two different
// base64 keys of 32 bytes each (protocol.md §3.9).
func hasHubAssignedKeys(ctx context.Context, kind, alias string) error {
	keys, err := worldFrom(ctx).currentKeys(kind, alias)
	if err != nil {
		return err
	}
	for i, k := range []string{keys.PrimaryKey, keys.SecondaryKey} {
		raw, err := base64.StdEncoding.DecodeString(k)
		if err != nil || len(raw) != 32 {
			return fmt.Errorf("%s %q key %d: want 32 random bytes in base64, got %d characters", kind, alias, i+1, len(k))
		}
	}
	if keys.PrimaryKey == keys.SecondaryKey {
		return fmt.Errorf("%s %q: primary and secondary keys are the same", kind, alias)
	}
	return nil
}

func sameKeysAsFirst(ctx context.Context, kind, alias string) error {
	w := worldFrom(ctx)
	keys, err := w.currentKeys(kind, alias)
	if err != nil {
		return err
	}
	first, ok := w.firstKeys[kind+" "+alias]
	if !ok {
		return fmt.Errorf("%s %q was never created in this scenario", kind, alias)
	}
	if keys != first {
		return fmt.Errorf("%s %q: keys changed since it was first created", kind, alias)
	}
	return nil
}

// hubRefuses checks, and consumes, the refusal of the last action.
func hubRefuses(ctx context.Context, status, name string) error {
	w := worldFrom(ctx)
	err := w.lastRefusal
	w.lastRefusal = nil
	if err == nil {
		return fmt.Errorf("expected the hub to refuse with %s %s, but it accepted", status, name)
	}
	e, _ := hub.AsError(err)
	if strconv.Itoa(e.StatusCode) != status || e.Name != name {
		return fmt.Errorf("expected the hub to refuse with %s %s, got %s", status, name, e.StatusText())
	}
	return nil
}

func keysOf(a *hub.Authentication) hub.SymmetricKey {
	if a == nil || a.SymmetricKey == nil {
		return hub.SymmetricKey{}
	}
	return *a.SymmetricKey
}
