package emulator

import (
	"maps"
	"slices"

	"github.com/hubspec/hubspec/hub"
)

// putModule creates or updates a module with the same If-Match rules as
// putDevice. hubName is the first label of the host name, which the real
// hub's 409301 message names ("Device d in IotHub h already contains Module m.").
func (r *registry) putModule(hubName, deviceID, moduleID string, body []byte, cond precondition) (moduleJSON, error) {
	var b moduleBody
	if err := decodeObject(body, &b); err != nil {
		return moduleJSON{}, err
	}
	if err := validateModuleID(moduleID); err != nil {
		return moduleJSON{}, err
	}
	if b.ModuleID != "" && b.ModuleID != moduleID {
		return moduleJSON{}, hub.ErrArgumentInvalid.WithMessage("The moduleId '%s' in the body does not match the module id '%s' in the URL.", b.ModuleID, moduleID)
	}
	if b.DeviceID != "" && b.DeviceID != deviceID {
		return moduleJSON{}, hub.ErrArgumentInvalid.WithMessage("The deviceId '%s' in the body does not match the device id '%s' in the URL.", b.DeviceID, deviceID)
	}

	var snap moduleEntry
	err := r.write(deviceID, func() error {
		m, err := r.storeModule(hubName, deviceID, moduleID, b, cond)
		if err == nil {
			snap = m.snapshot()
		}
		return err
	})
	if err != nil {
		return moduleJSON{}, err
	}
	return moduleJSONOf(snap, deviceID), nil
}

// storeModule is putModule's change of state. Caller holds r.mu.
func (r *registry) storeModule(hubName, deviceID, moduleID string, b moduleBody, cond precondition) (*moduleEntry, error) {
	d, err := r.findDevice(deviceID)
	if err != nil {
		return nil, err
	}
	m, exists := d.modules[moduleID]
	switch {
	case cond.kind == condNone && exists:
		return nil, hub.ErrModuleAlreadyExistsOnDevice.WithMessage("Device %s in IotHub %s already contains Module %s.", deviceID, hubName, moduleID)
	case cond.kind == condNone:
		if len(d.modules) >= maxModulesPerDevice {
			return nil, hub.ErrTooManyModulesOnDevice.WithMessage("Device %s already has %d modules, the maximum.", deviceID, maxModulesPerDevice)
		}
		creds, err := resolveCredentials(b.Authentication, nil)
		if err != nil {
			return nil, err
		}
		m = &moduleEntry{identityState: r.newIdentityState(creds), id: moduleID, managedBy: copyString(b.ManagedBy)}
		d.modules[moduleID] = m
		r.fireLifecycle(deviceID, moduleID, opCreateModule, m.twin)
		return m, nil
	case !exists:
		return nil, errModuleNotFound(deviceID, moduleID)
	case cond.stale(m.etag):
		return nil, errStaleIdentity("Module", m.etag, cond.etag)
	}

	creds, err := resolveCredentials(b.Authentication, &m.creds)
	if err != nil {
		return nil, err
	}
	m.creds = creds
	if b.ManagedBy != nil {
		m.managedBy = copyString(b.ManagedBy)
	}
	m.etag = r.nextETag()
	return m, nil
}

func (r *registry) getModule(deviceID, moduleID string) (moduleJSON, error) {
	var snap moduleEntry
	err := r.locked(func() error {
		d, err := r.findDevice(deviceID)
		if err != nil {
			return err
		}
		m, ok := d.modules[moduleID]
		if !ok {
			return errModuleNotFound(deviceID, moduleID)
		}
		snap = m.snapshot()
		return nil
	})
	if err != nil {
		return moduleJSON{}, err
	}
	return moduleJSONOf(snap, deviceID), nil
}

// listModules answers GET /devices/{id}/modules, ordered by module id.
func (r *registry) listModules(deviceID string) ([]moduleJSON, error) {
	var snaps []moduleEntry
	err := r.locked(func() error {
		d, err := r.findDevice(deviceID)
		if err != nil {
			return err
		}
		for _, mid := range slices.Sorted(maps.Keys(d.modules)) {
			snaps = append(snaps, d.modules[mid].snapshot())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]moduleJSON, 0, len(snaps))
	for _, m := range snaps {
		out = append(out, moduleJSONOf(m, deviceID))
	}
	return out, nil
}

// deleteModule deletes a module and its twin; an absent If-Match counts as "*".
func (r *registry) deleteModule(deviceID, moduleID string, cond precondition) error {
	return r.write(deviceID, func() error {
		d, err := r.findDevice(deviceID)
		if err != nil {
			return err
		}
		m, ok := d.modules[moduleID]
		if !ok {
			return errModuleNotFound(deviceID, moduleID)
		}
		if cond.stale(m.etag) {
			return errStaleIdentity("Module", m.etag, cond.etag)
		}
		delete(d.modules, moduleID)
		r.fireGone(deviceID, moduleID, &m.identityState)
		r.fireLifecycle(deviceID, moduleID, opDeleteModule, m.twin)
		return nil
	})
}
