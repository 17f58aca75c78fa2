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
	register(sc, identityVocabulary)
	register(sc, identityOpVocabulary)
	register(sc, rememberIdentityVocabulary)
}

var identityVocabulary = []stepDef{
	step(identities, `^the service creates (device|module) "([^"]+)"(?: on device "([^"]+)")?(?: with (hub-assigned keys|keys of its own))?$`, createIdentity,
		"The service creates a device, or a module on a device, with keys the hub assigns (the default) or keys of its own; a refusal is left for the next step to check.",
		"", "", onDeviceDoc),
	step(identities, `^(device|module) "([^"]+)" exists(?: on device "([^"]+)")?$`, identityExists,
		"Makes sure a device, or a module on a device, exists: the scenario creates it, with hub-assigned keys, unless it already has.",
		"", "", onDeviceDoc),
	step(identities, `^the service reuses the existing (device|module) "([^"]+)"$`, reuseIdentity,
		"The service reads an identity that already exists and carries on with it, as the tutorial does after a 409."),
	step(identities, `^(device|module) "([^"]+)" has two hub-assigned keys$`, hasHubAssignedKeys,
		"Checks that the identity has two different keys of 32 random bytes, as the hub generates them."),
	step(identities, `^(device|module) "([^"]+)" has (the same keys as when it was first created|the keys the service gave it)$`, hasKeys,
		"Reads the identity until its keys are the ones it was created with, or the ones the service last gave it."),
	step(identities, `^(device|module) "([^"]+)" has a generation id and an etag$`, hasGenerationAndEtag,
		"Checks that the identity, as the hub last answered it, has a generation id and an etag."),
	step(identities, `^(device|module) "([^"]+)" has (the etag it was created with|a new etag)$`, hasEtag,
		"Reads the identity until its etag is the one it was created with, or until it is another one."),
	step(identities, `^the hub refuses with (\d{3}) (\w+)$`, hubRefuses,
		"Checks that the hub refused the last action with this HTTP status and IoT Hub error, and takes the refusal as checked.",
		"", errorDoc),
}

const (
	onDeviceDoc = "<device> the alias of the device the module is on; say it for a module, and only for a module"
	errorDoc    = "<error> the IoT Hub error: its name, e.g. DeviceNotFound, or its 6-digit code, e.g. 404001"
)

// createIdentity is the one create step for devices and modules.
func createIdentity(ctx context.Context, kind, alias, deviceAlias, keys string) error {
	if err := onDeviceFor(kind, deviceAlias); err != nil {
		return err
	}
	if kind == "device" {
		return createDevice(ctx, alias, keys)
	}
	return createModule(ctx, alias, deviceAlias, keys)
}

// identityExists is the one precondition step for devices and modules.
func identityExists(ctx context.Context, kind, alias, deviceAlias string) error {
	if err := onDeviceFor(kind, deviceAlias); err != nil {
		return err
	}
	if kind == "device" {
		return deviceExists(ctx, alias)
	}
	return moduleExists(ctx, alias, deviceAlias)
}

// onDeviceFor checks that a step names a device for a module, and only
// for a module: a device on a device means nothing.
func onDeviceFor(kind, deviceAlias string) error {
	if (kind == "module") != (deviceAlias != "") {
		return errors.New(`say "on device" for a module, and only for a module`)
	}
	return nil
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
