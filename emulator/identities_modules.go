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

	r.mu.Lock()
	defer r.mu.Unlock()
	d, err := r.findDevice(deviceID)
	if err != nil {
		return moduleJSON{}, err
	}
	m, exists := d.modules[moduleID]
	switch {
	case cond.kind == condNone && exists:
		return moduleJSON{}, hub.ErrModuleAlreadyExistsOnDevice.WithMessage("Device %s in IotHub %s already contains Module %s.", deviceID, hubName, moduleID)
	case cond.kind == condNone:
		if len(d.modules) >= maxModulesPerDevice {
			return moduleJSON{}, hub.ErrTooManyModulesOnDevice.WithMessage("Device %s already has %d modules, the maximum.", deviceID, maxModulesPerDevice)
		}
		creds, err := resolveCredentials(b.Authentication, nil)
		if err != nil {
			return moduleJSON{}, err
		}
		m = &moduleEntry{identityState: r.newIdentityState(creds), id: moduleID, managedBy: copyString(b.ManagedBy)}
		d.modules[moduleID] = m
		return m.toJSON(deviceID), nil
	case !exists:
		return moduleJSON{}, errModuleNotFound(deviceID, moduleID)
	case cond.stale(m.etag):
		return moduleJSON{}, errStaleIdentity("Module", m.etag, cond.etag)
	}

	creds, err := resolveCredentials(b.Authentication, &m.creds)
	if err != nil {
		return moduleJSON{}, err
	}
	m.creds = creds
	if b.ManagedBy != nil {
		m.managedBy = copyString(b.ManagedBy)
	}
	m.etag = r.nextETag()
	return m.toJSON(deviceID), nil
}

func (r *registry) getModule(deviceID, moduleID string) (moduleJSON, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, err := r.findDevice(deviceID)
	if err != nil {
		return moduleJSON{}, err
	}
	m, ok := d.modules[moduleID]
	if !ok {
		return moduleJSON{}, errModuleNotFound(deviceID, moduleID)
	}
	return m.toJSON(deviceID), nil
}

// listModules answers GET /devices/{id}/modules, ordered by module id.
func (r *registry) listModules(deviceID string) ([]moduleJSON, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, err := r.findDevice(deviceID)
	if err != nil {
		return nil, err
	}
	out := []moduleJSON{}
	for _, mid := range slices.Sorted(maps.Keys(d.modules)) {
		out = append(out, d.modules[mid].toJSON(deviceID))
	}
	return out, nil
}

// deleteModule deletes a module and its twin; an absent If-Match counts as "*".
func (r *registry) deleteModule(deviceID, moduleID string, cond precondition) error {
	r.mu.Lock()
	defer r.mu.Unlock()
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
	r.fireGone(deviceID, moduleID)
	return nil
}
