package emulator

import (
	"encoding/base64"
	"maps"
	"slices"
	"strings"

	"github.com/hubspec/hubspec/hub"
)

// precondition is a parsed If-Match header (protocol.md §3.7).
type precondition struct {
	kind preconditionKind
	etag string // for condETag: the etag without quotes
}

type preconditionKind int

const (
	condNone preconditionKind = iota // absent, or an unquoted value the hub ignores
	condAny                          // * or "*"
	condETag                         // a quoted etag
)

// parseIfMatch reads If-Match the way the hub does: both * and "*" are
// wildcards (the C SDK and C# v2 send the bare form), a quoted value is an
// etag, and an unquoted value is ignored (Azure/azure-iot-sdk-node#606,
// Azure/azure-iot-sdk-java#574). A weak W/"..." counts as quoted.
func parseIfMatch(v string) precondition {
	v = strings.TrimSpace(v)
	if v == "*" || v == `"*"` {
		return precondition{kind: condAny}
	}
	w := strings.TrimPrefix(v, "W/")
	if len(w) >= 2 && w[0] == '"' && w[len(w)-1] == '"' {
		return precondition{kind: condETag, etag: w[1 : len(w)-1]}
	}
	return precondition{kind: condNone}
}

// stale reports a quoted etag that is not the entity's current one.
func (p precondition) stale(current string) bool {
	return p.kind == condETag && p.etag != current
}

// errStaleIdentity is the real hub's 412 text, whose versions are the
// decimal counters inside the etags (protocol.md §3.6).
func errStaleIdentity(kind, current, sent string) error {
	return hub.ErrPreconditionFailed.WithMessage("Precondition failed: %s version did not match, existingVersion:%s newVersion:%s",
		kind, etagVersion(current), etagVersion(sent))
}

func etagVersion(etag string) string {
	if b, err := base64.StdEncoding.DecodeString(etag); err == nil && len(b) > 0 && strings.Trim(string(b), "0123456789") == "" {
		return string(b)
	}
	return etag
}

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

	r.mu.Lock()
	defer r.mu.Unlock()
	d, exists := r.devices[id]
	switch {
	case cond.kind == condNone && exists:
		return deviceJSON{}, hub.ErrDeviceAlreadyExists.WithMessage("A device with ID '%s' is already registered.", id)
	case cond.kind == condNone:
		creds, err := resolveCredentials(b.Authentication, nil)
		if err != nil {
			return deviceJSON{}, err
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
		r.devices[id] = d
		return d.toJSON(), nil
	case !exists:
		return deviceJSON{}, errDeviceNotFound(id)
	case cond.stale(d.etag):
		return deviceJSON{}, errStaleIdentity("Device", d.etag, cond.etag)
	}

	creds, err := resolveCredentials(b.Authentication, &d.creds)
	if err != nil {
		return deviceJSON{}, err
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
		d.status = status
		d.statusUpdated = r.timestamp()
		if status == hub.StatusDisabled {
			r.fireGoneDevice(d)
		}
	}
	return d.toJSON(), nil
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
	r.fireGone(d.id, "")
	for _, mid := range slices.Sorted(maps.Keys(d.modules)) {
		r.fireGone(d.id, mid)
	}
}

func (r *registry) getDevice(id string) (deviceJSON, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, err := r.findDevice(id)
	if err != nil {
		return deviceJSON{}, err
	}
	return d.toJSON(), nil
}

// deleteDevice deletes a device with its modules and all their twins. An
// absent If-Match deletes unconditionally, like "*": every SDK sends one, so
// the choice only matters to hand-written clients.
func (r *registry) deleteDevice(id string, cond precondition) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, err := r.findDevice(id)
	if err != nil {
		return err
	}
	if cond.stale(d.etag) {
		return errStaleIdentity("Device", d.etag, cond.etag)
	}
	delete(r.devices, id)
	r.fireGoneDevice(d)
	return nil
}

// listDevices answers GET /devices?top=n, ordered by id so that results
// are stable (the hub promises no order).
func (r *registry) listDevices(top int) []deviceJSON {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []deviceJSON{}
	for _, id := range slices.Sorted(maps.Keys(r.devices)) {
		if len(out) == top {
			break
		}
		out = append(out, r.devices[id].toJSON())
	}
	return out
}

type deviceStats struct {
	Total    int `json:"totalDeviceCount"`
	Enabled  int `json:"enabledDeviceCount"`
	Disabled int `json:"disabledDeviceCount"`
}

func (r *registry) stats() deviceStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s deviceStats
	for _, d := range r.devices {
		s.Total++
		if d.status == hub.StatusEnabled {
			s.Enabled++
		} else {
			s.Disabled++
		}
	}
	return s
}
