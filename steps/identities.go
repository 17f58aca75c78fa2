package steps

import (
	"context"
	"errors"
	"fmt"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/hub"
)

// identitySteps create devices and modules and check them; the other
// registry operations are in identities_ops.go, the checks that read the
// hub in identities_check.go.
func identitySteps(sc *godog.ScenarioContext) {
	sc.Step(`^the service creates device "([^"]+)"(?: with (hub-assigned keys|keys of its own))?$`, createDevice)
	sc.Step(`^the service creates module "([^"]+)" on device "([^"]+)"(?: with (hub-assigned keys|keys of its own))?$`, createModule)
	sc.Step(`^device "([^"]+)" exists$`, deviceExists)
	sc.Step(`^module "([^"]+)" exists on device "([^"]+)"$`, moduleExists)
	sc.Step(`^the service reuses the existing (device|module) "([^"]+)"$`, reuseIdentity)
	sc.Step(`^(device|module) "([^"]+)" has two hub-assigned keys$`, hasHubAssignedKeys)
	sc.Step(`^(device|module) "([^"]+)" has (the same keys as when it was first created|the keys the service gave it)$`, hasKeys)
	sc.Step(`^(device|module) "([^"]+)" has a generation id and an etag$`, hasGenerationAndEtag)
	sc.Step(`^(device|module) "([^"]+)" has (the etag it was created with|a new etag)$`, hasEtag)
	sc.Step(`^the hub refuses with (\d{3}) (\w+)$`, hubRefuses)
	identityOpSteps(sc)
}

// createDevice creates a device, with empty keys so that the hub assigns
// them, or with two random keys the service chose. A refusal (409 on a
// rerun) is recorded for "the hub refuses with ...".
func createDevice(ctx context.Context, alias, keys string) error {
	w := worldFrom(ctx)
	i := ident{"device", alias}
	id := w.sc.Name(alias)
	d, err := w.registry.CreateDevice(ctx, &hub.Device{DeviceID: id, Authentication: w.chooseKeys(i, keys)})
	if err != nil {
		return w.refused(err)
	}
	w.devices[alias] = d
	delete(w.gone, i)
	w.created(i, d.ETag, d.Authentication)
	w.sc.Defer("delete device "+id, func(ctx context.Context) error {
		err := w.registry.DeleteDevice(ctx, id, "*")
		if errors.Is(err, hub.ErrDeviceNotFound) {
			return nil
		}
		return err
	})
	return nil
}

// chooseKeys is the authentication a create sends: nil (the hub assigns
// keys) unless the scenario asks for keys of the service's own.
func (w *world) chooseKeys(i ident, phrase string) *hub.Authentication {
	if phrase != "keys of its own" {
		return nil
	}
	k := hub.SymmetricKey{PrimaryKey: randomKey(), SecondaryKey: randomKey()}
	w.givenKeys[i] = k
	return &hub.Authentication{Type: hub.AuthSAS, SymmetricKey: &k}
}

// created remembers what a successful create answered.
func (w *world) created(i ident, etag string, auth *hub.Authentication) {
	w.etags[i] = sawEtag(w.etags[i], etag)
	if _, seen := w.firstKeys[i]; !seen {
		w.firstKeys[i] = keysOf(auth)
	}
}

// createModule creates a module on a device; see createDevice for keys.
// Deleting the device in cleanup deletes its modules.
func createModule(ctx context.Context, alias, deviceAlias, keys string) error {
	w := worldFrom(ctx)
	i := ident{"module", alias}
	w.deviceOf[alias] = deviceAlias
	m, err := w.createModuleOn(ctx, deviceAlias, w.sc.Name(alias), w.chooseKeys(i, keys))
	if err != nil {
		return w.refused(err)
	}
	w.modules[alias] = m
	delete(w.gone, i)
	w.created(i, m.ETag, m.Authentication)
	return nil
}

// createModuleOn creates a module under the hub id moduleID. On a live hub
// a device created a moment ago may not be visible yet (protocol.md §3.9),
// so a 404 for a device the scenario knows exists is retried (see
// whileSettling); for any other device it is the answer at once.
func (w *world) createModuleOn(ctx context.Context, deviceAlias, moduleID string, auth *hub.Authentication) (*hub.Module, error) {
	var m *hub.Module
	err := w.whileSettling(ctx, ident{"device", deviceAlias}, func(ctx context.Context) (err error) {
		m, err = w.registry.CreateModule(ctx, &hub.Module{DeviceID: w.sc.Name(deviceAlias), ModuleID: moduleID, Authentication: auth})
		return err
	})
	return m, err
}

// whileSettling calls fn until it succeeds or answers anything but 404,
// for up to settleWithin while the scenario knows the identity exists: a
// live hub shows a new identity to some requests a moment after it
// answered the create. For an identity the scenario never created, or
// deleted, a 404 is the answer at once.
func (w *world) whileSettling(ctx context.Context, i ident, fn func(context.Context) error) error {
	var err error
	_ = Eventually(ctx, settleWithin, func(ctx context.Context) error {
		err = fn(ctx)
		if w.exists(i) && (errors.Is(err, hub.ErrDeviceNotFound) || errors.Is(err, hub.ErrModuleNotFound)) {
			return err
		}
		return nil
	})
	return err
}

// exists says whether the scenario created the identity (and, for a
// module, its device) and has not deleted it since.
func (w *world) exists(i ident) bool {
	if i.kind == "device" {
		_, ok := w.devices[i.alias]
		return ok && !w.gone[i]
	}
	_, ok := w.modules[i.alias]
	return ok && !w.gone[i] && w.exists(ident{"device", w.deviceOf[i.alias]})
}

// deviceExists makes sure a device exists, as a precondition.
func deviceExists(ctx context.Context, alias string) error {
	w := worldFrom(ctx)
	if w.exists(ident{"device", alias}) {
		return nil
	}
	if err := createDevice(ctx, alias, ""); err != nil {
		return err
	}
	if err := w.lastRefusal; err != nil {
		w.lastRefusal = nil
		return fmt.Errorf("device %q: %w", alias, err)
	}
	return nil
}

// moduleExists makes sure a device and a module on it exist, as a
// precondition.
func moduleExists(ctx context.Context, alias, deviceAlias string) error {
	if err := deviceExists(ctx, deviceAlias); err != nil {
		return err
	}
	w := worldFrom(ctx)
	if w.exists(ident{"module", alias}) {
		return nil
	}
	if err := createModule(ctx, alias, deviceAlias, ""); err != nil {
		return err
	}
	if err := w.lastRefusal; err != nil {
		w.lastRefusal = nil
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
