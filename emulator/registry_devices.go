package emulator

import (
	"maps"
	"slices"
	"strings"

	"github.com/hubspec/hubspec/hub"
)

// putDevice creates or updates a device as PUT /devices/{id} does: no
// If-Match creates (409 when it exists), a wildcard or matching etag
// updates (404 when absent), a stale etag is 412 and changes nothing.
func (r *registry) putDevice(id string, body []byte, cond precondition) (deviceJSON, error) {
	var b deviceBody
	if err := decodeObject(body, &b); err != nil {
		return deviceJSON{}, err
	}
	if err := validateDeviceID(id); err != nil {
		return deviceJSON{}, err
	}
	if b.DeviceID != "" && b.DeviceID != id {
		return deviceJSON{}, hub.ErrArgumentInvalid.WithMessage("The deviceId '%s' in the body does not match the device id '%s' in the URL.", b.DeviceID, id)
	}
	status, err := parseStatus(b.Status)
	if err != nil {
		return deviceJSON{}, err
	}
	if b.StatusReason != nil && len([]rune(*b.StatusReason)) > 128 {
		return deviceJSON{}, hub.ErrArgumentInvalid.WithMessage("statusReason is longer than 128 characters.")
	}

	var snap deviceEntry
	err = r.write(id, func() error {
		d, err := r.storeDevice(id, b, status, cond)
		if err == nil {
			snap = d.snapshot()
		}
		return err
	})
	if err != nil {
		return deviceJSON{}, err
	}
	return deviceJSONOf(snap), nil
}

// storeDevice is putDevice's change of state. Caller holds r.mu.
func (r *registry) storeDevice(id string, b deviceBody, status string, cond precondition) (*deviceEntry, error) {
	d, exists := r.devices[id]
	switch {
	case cond.kind == condNone && exists:
		return nil, hub.ErrDeviceAlreadyExists.WithMessage("A device with ID '%s' is already registered.", id)
	case cond.kind == condNone:
		creds, err := resolveCredentials(b.Authentication, nil)
		if err != nil {
			return nil, err
		}
		d = &deviceEntry{
			identityState: r.newIdentityState(creds),
			id:            id, status: hub.StatusEnabled, statusReason: copyString(b.StatusReason),
			statusUpdated: hub.NeverTime, modules: map[string]*moduleEntry{},
		}
		if status != "" {
			d.status = status
		}
		if b.Capabilities != nil {
			d.iotEdge = b.Capabilities.IoTEdge
		}
		r.addDevice(d)
		r.fireLifecycle(id, "", opCreateDevice, d.twin)
		return d, nil
	case !exists:
		return nil, errDeviceNotFound(id)
	case cond.stale(d.etag):
		return nil, errStaleIdentity("Device", d.etag, cond.etag)
	}

	creds, err := resolveCredentials(b.Authentication, &d.creds)
	if err != nil {
		return nil, err
	}
	d.creds = creds
	if b.StatusReason != nil {
		d.statusReason = copyString(b.StatusReason)
	}
	if b.Capabilities != nil {
		d.iotEdge = b.Capabilities.IoTEdge
	}
	d.etag = r.nextETag()
	if status != "" && status != d.status {
		r.counts.add(d, -1)
		d.status = status
		r.counts.add(d, 1)
		d.statusUpdated = r.timestamp()
		if status == hub.StatusDisabled {
			r.fireGoneDevice(d)
		}
	}
	return d, nil
}

// parseStatus accepts the JSON spelling and the capitalised one the docs
// print; "" means absent (enabled on create, unchanged on update).
func parseStatus(s *string) (string, error) {
	switch {
	case s == nil || *s == "":
		return "", nil
	case strings.EqualFold(*s, hub.StatusEnabled):
		return hub.StatusEnabled, nil
	case strings.EqualFold(*s, hub.StatusDisabled):
		return hub.StatusDisabled, nil
	}
	return "", hub.ErrArgumentInvalid.WithMessage("status '%s' is invalid: use enabled or disabled.", *s)
}

// fireGoneDevice closes the connections of a device and of all its modules.
func (r *registry) fireGoneDevice(d *deviceEntry) {
	r.fireGone(d.id, "", &d.identityState)
	for _, mid := range slices.Sorted(maps.Keys(d.modules)) {
		r.fireGone(d.id, mid, &d.modules[mid].identityState)
	}
}

func (r *registry) getDevice(id string) (deviceJSON, error) {
	var snap deviceEntry
	err := r.locked(func() error {
		d, err := r.findDevice(id)
		if err == nil {
			snap = d.snapshot()
		}
		return err
	})
	if err != nil {
		return deviceJSON{}, err
	}
	return deviceJSONOf(snap), nil
}

// deleteDevice deletes a device with its modules and all their twins. An
// absent If-Match deletes unconditionally, like "*": every SDK sends one, so
// the choice only matters to hand-written clients.
func (r *registry) deleteDevice(id string, cond precondition) error {
	return r.write(id, func() error {
		d, err := r.findDevice(id)
		if err != nil {
			return err
		}
		if cond.stale(d.etag) {
			return errStaleIdentity("Device", d.etag, cond.etag)
		}
		r.dropDevice(d)
		return nil
	})
}

// dropDevice takes a device out of the registry with its modules, closes
// their connections, raises its lifecycle event and, once the deletion is
// committed, forgets its clock. Caller holds r.mu.
func (r *registry) dropDevice(d *deviceEntry) {
	r.removeDevice(d.id)
	r.fireGoneDevice(d)
	r.fireLifecycle(d.id, "", opDeleteDevice, d.twin)
	r.pending = append(r.pending, func() { r.clocks.forget(d.id) })
}

// listDevices answers GET /devices?top=n, ordered by id so that results
// are stable (the hub promises no order).
func (r *registry) listDevices(top int) []deviceJSON {
	var snaps []deviceEntry
	_ = r.locked(func() error {
		for _, id := range r.ids {
			if len(snaps) == top {
				break
			}
			snaps = append(snaps, r.devices[id].snapshot())
		}
		return nil
	})
	out := make([]deviceJSON, 0, len(snaps))
	for _, d := range snaps {
		out = append(out, deviceJSONOf(d))
	}
	return out
}

// deviceStats is GET /statistics/devices; serviceStats GET
// /statistics/service.
type deviceStats struct {
	Total    int `json:"totalDeviceCount"`
	Enabled  int `json:"enabledDeviceCount"`
	Disabled int `json:"disabledDeviceCount"`
}

type serviceStats struct {
	Connected int `json:"connectedDeviceCount"`
}

// registryCounts are the devices that are enabled and that have a live
// connection of their own (a module's connection does not make its device
// connected: the device's connectionState, which the count agrees with, is
// its own). Devices in all is len(registry.devices).
type registryCounts struct {
	enabled, connected int
}

// add counts d in (n = 1) or out (n = -1). Caller holds r.mu.
func (c *registryCounts) add(d *deviceEntry, n int) {
	if d.status == hub.StatusEnabled {
		c.enabled += n
	}
	if d.connected {
		c.connected += n
	}
}

func (r *registry) stats() deviceStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return deviceStats{Total: len(r.devices), Enabled: r.counts.enabled, Disabled: len(r.devices) - r.counts.enabled}
}

func (r *registry) serviceStats() serviceStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return serviceStats{Connected: r.counts.connected}
}

// deviceGeneration is a device's generationId, or 404 DeviceNotFound: a
// cloud-to-device message belongs to the generation it was sent to.
func (r *registry) deviceGeneration(id string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, err := r.findDevice(id)
	if err != nil {
		return "", err
	}
	return d.generationID, nil
}
