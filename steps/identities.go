package steps

import (
	"context"
	"errors"
	"fmt"

	"github.com/hubspec/hubspec/steps/internal/vocab"

	"github.com/hubspec/hubspec/hub"
)

// identityVocabulary create devices and modules and check them; the other
// registry operations are in identities_ops.go, the checks that read the
// hub in identities_check.go.
var identityVocabulary = []vocab.Def{
	step(identities, `^the service creates (device|module) "([^"]+)"(?: on device "([^"]+)")?(?: with (hub-assigned keys|keys of its own))?$`, createIdentity,
		"The service creates a device, or a module on a device, with keys the hub assigns (the default) or keys of its own; a refusal is left for the next step to check.",
		"", "", onDeviceDoc),
	step(identities, `^(device|module) "([^"]+)" exists(?: on device "([^"]+)")?$`, identityExists,
		"Makes sure a device, or a module on a device, exists: the scenario creates it, with hub-assigned keys, unless it already has.",
		"", "", onDeviceDoc),
	step(identities, `^the service reuses the existing (device|module) ("[^"]+"(?: on device "[^"]+")?)$`, reuseIdentity,
		"The service reads an identity that already exists and carries on with it, as the tutorial does after a 409."),
	step(identities, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) has two hub-assigned keys$`, hasHubAssignedKeys,
		"Checks that the identity has two different keys of 32 random bytes, as the hub generates them."),
	step(identities, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) has (the same keys as when it was first created|the keys the service gave it)$`, hasKeys,
		"Reads the identity until its keys are the ones it was created with, or the ones the service last gave it."),
	step(identities, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) has a generation id and an etag$`, hasGenerationAndEtag,
		"Checks that the identity, as the hub last answered it, has a generation id and an etag."),
	step(identities, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) has (the etag it was created with|a new etag)$`, hasEtag,
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
	s := w.state(ident{"device", alias, ""})
	d, err := w.registry.CreateDevice(ctx, &hub.Device{DeviceID: w.sc.Name(alias), Authentication: s.chooseKeys(keys)})
	if err != nil {
		return w.refused(err)
	}
	s.wasCreated(d, nil)
	return nil
}

// createModule creates a module on a device; see createDevice for keys.
// Deleting the device in cleanup deletes its modules.
func createModule(ctx context.Context, alias, deviceAlias, keys string) error {
	w := worldFrom(ctx)
	s := w.state(ident{"module", alias, deviceAlias})
	m, err := w.createModuleOn(ctx, deviceAlias, w.sc.Name(alias), s.chooseKeys(keys))
	if err != nil {
		return w.refused(err)
	}
	s.wasCreated(nil, m)
	return nil
}

// deviceExists makes sure a device exists, as a precondition.
func deviceExists(ctx context.Context, alias string) error {
	w := worldFrom(ctx)
	if w.exists(ident{"device", alias, ""}) {
		return nil
	}
	if err := createDevice(ctx, alias, ""); err != nil {
		return err
	}
	if err := w.takeRefusal(); err != nil {
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
	if w.exists(ident{"module", alias, deviceAlias}) {
		return nil
	}
	if err := createModule(ctx, alias, deviceAlias, ""); err != nil {
		return err
	}
	if err := w.takeRefusal(); err != nil {
		return fmt.Errorf("module %q on device %q: %w", alias, deviceAlias, err)
	}
	return nil
}

// reuseIdentity is the tutorial's answer to 409: read the identity that
// already exists and carry on with it. Right after a 409 a live hub may
// still answer 404 to the read for a moment, so the read polls.
func reuseIdentity(ctx context.Context, kind, alias string) error {
	w, i, err := whoIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	return eventually(ctx, settleWithin, func(ctx context.Context) error {
		_, err := w.readIdentity(ctx, i)
		return err
	})
}
