package service

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"

	"github.com/hubspec/hubspec/hub"
)

// twinWriteBody is the body of a twin PATCH or PUT: only tags and desired
// properties, the sections a service may write (REST reference, Update
// Twin / Replace Twin). Read-only
// fields (etag, version, ids, status) are never sent; the etag only counts
// in If-Match. omitzero keeps an empty but non-nil map, so a PUT with
// Tags: map[string]any{} really clears the tags, while nil leaves them out.
type twinWriteBody struct {
	Tags       map[string]any      `json:"tags,omitzero"`
	Properties *twinWritePropsBody `json:"properties,omitempty"`
}

type twinWritePropsBody struct {
	Desired map[string]any `json:"desired,omitzero"`
}

// newTwinWriteBody copies the writable parts of t. The top-level "$version"
// and "$metadata" of desired are dropped: they are hub-maintained, and a
// twin read with GetModuleTwin, edited and sent back with ReplaceModuleTwin
// would otherwise carry them.
func newTwinWriteBody(t *hub.Twin) twinWriteBody {
	r := twinWriteBody{Tags: t.Tags}
	if t.Properties != nil && t.Properties.Desired != nil {
		desired := maps.Clone(t.Properties.Desired)
		delete(desired, "$version")
		delete(desired, "$metadata")
		r.Properties = &twinWritePropsBody{Desired: desired}
	}
	return r
}

func deviceTwinPath(d string) string { return "/twins/" + escapeID(d) }

func moduleTwinPath(d, m string) string { return deviceTwinPath(d) + "/modules/" + escapeID(m) }

// GetDeviceTwin reads a device twin.
func (c *RegistryClient) GetDeviceTwin(ctx context.Context, deviceID string) (*hub.Twin, error) {
	var out hub.Twin
	if err := c.get(ctx, deviceTwinPath(deviceID), &out, deviceID); err != nil {
		return nil, fmt.Errorf("get device twin %s: %w", deviceID, err)
	}
	return &out, nil
}

// UpdateDeviceTwin deep-merges patch's tags and desired properties into the
// device twin (PATCH; null deletes a member) if etag still matches ("" or
// "*": unconditionally), and returns the whole updated twin.
func (c *RegistryClient) UpdateDeviceTwin(ctx context.Context, deviceID string, patch *hub.Twin, etag string) (*hub.Twin, error) {
	t, err := c.writeTwin(ctx, http.MethodPatch, deviceTwinPath(deviceID), patch, etag, deviceID)
	if err != nil {
		return nil, fmt.Errorf("update device twin %s: %w", deviceID, err)
	}
	return t, nil
}

// ReplaceDeviceTwin replaces the device twin's tags and desired properties
// (PUT) if etag still matches.
func (c *RegistryClient) ReplaceDeviceTwin(ctx context.Context, deviceID string, twin *hub.Twin, etag string) (*hub.Twin, error) {
	t, err := c.writeTwin(ctx, http.MethodPut, deviceTwinPath(deviceID), twin, etag, deviceID)
	if err != nil {
		return nil, fmt.Errorf("replace device twin %s: %w", deviceID, err)
	}
	return t, nil
}

// GetModuleTwin reads a module twin.
func (c *RegistryClient) GetModuleTwin(ctx context.Context, deviceID, moduleID string) (*hub.Twin, error) {
	var out hub.Twin
	if err := c.get(ctx, moduleTwinPath(deviceID, moduleID), &out, deviceID, moduleID); err != nil {
		return nil, fmt.Errorf("get module twin %s/%s: %w", deviceID, moduleID, err)
	}
	return &out, nil
}

// UpdateModuleTwin deep-merges patch into the module twin (PATCH), as the
// seed tutorial's update_module_twin does, if etag still matches.
func (c *RegistryClient) UpdateModuleTwin(ctx context.Context, deviceID, moduleID string, patch *hub.Twin, etag string) (*hub.Twin, error) {
	t, err := c.writeTwin(ctx, http.MethodPatch, moduleTwinPath(deviceID, moduleID), patch, etag, deviceID, moduleID)
	if err != nil {
		return nil, fmt.Errorf("update module twin %s/%s: %w", deviceID, moduleID, err)
	}
	return t, nil
}

// ReplaceModuleTwin replaces the module twin's tags and desired properties
// (PUT) if etag still matches.
func (c *RegistryClient) ReplaceModuleTwin(ctx context.Context, deviceID, moduleID string, twin *hub.Twin, etag string) (*hub.Twin, error) {
	t, err := c.writeTwin(ctx, http.MethodPut, moduleTwinPath(deviceID, moduleID), twin, etag, deviceID, moduleID)
	if err != nil {
		return nil, fmt.Errorf("replace module twin %s/%s: %w", deviceID, moduleID, err)
	}
	return t, nil
}

func (c *RegistryClient) writeTwin(ctx context.Context, method, path string, t *hub.Twin, etag string, ids ...string) (*hub.Twin, error) {
	var out hub.Twin
	if err := c.sendTwin(ctx, method, path, t, etag, &out, ids...); err != nil {
		return nil, err
	}
	return &out, nil
}

// sendTwin writes t's tags and desired properties to the twin at path
// (PATCH or PUT) if etag still matches, and decodes the twin the hub
// answers with into out.
func (c *RegistryClient) sendTwin(ctx context.Context, method, path string, t *hub.Twin, etag string, out any, ids ...string) error {
	if err := checkIDs(ids...); err != nil {
		return err
	}
	if t == nil {
		return errors.New("nil twin")
	}
	return c.do(ctx, restCall{method: method, path: path, body: newTwinWriteBody(t), ifMatch: ifMatch(etag), ok: []int{200}, out: out})
}

// TwinVersions are a twin's counters as a write left them.
type TwinVersions struct {
	ETag                                     string
	Version, DesiredVersion, ReportedVersion int64
}

// twinVersionsJSON is the part of a twin TwinVersions takes: encoding/json
// skips the rest without building it.
type twinVersionsJSON struct {
	ETag       string `json:"etag"`
	Version    int64  `json:"version"`
	Properties struct {
		Desired struct {
			Version int64 `json:"$version"`
		} `json:"desired"`
		Reported struct {
			Version int64 `json:"$version"`
		} `json:"reported"`
	} `json:"properties"`
}

// PatchDesired deep-merges desired into the desired properties of the twin
// of a device (moduleID "") or of a module, as UpdateDeviceTwin and
// UpdateModuleTwin do, if etag still matches ("" or "*": unconditionally),
// and returns the twin's versions only: the hub answers with the whole
// twin, whose sections are skipped rather than decoded into maps. It is for
// a caller that only waits for the patch to arrive (hubspec load), for
// which decoding the answer was a tenth of its work.
func (c *RegistryClient) PatchDesired(ctx context.Context, deviceID, moduleID string, desired map[string]any, etag string) (TwinVersions, error) {
	path, ids, what := deviceTwinPath(deviceID), []string{deviceID}, "device twin "+deviceID
	if moduleID != "" {
		path, ids, what = moduleTwinPath(deviceID, moduleID), []string{deviceID, moduleID}, "module twin "+deviceID+"/"+moduleID
	}
	var out twinVersionsJSON
	patch := &hub.Twin{Properties: &hub.TwinProperties{Desired: desired}}
	if err := c.sendTwin(ctx, http.MethodPatch, path, patch, etag, &out, ids...); err != nil {
		return TwinVersions{}, fmt.Errorf("update %s: %w", what, err)
	}
	return TwinVersions{ETag: out.ETag, Version: out.Version, DesiredVersion: out.Properties.Desired.Version, ReportedVersion: out.Properties.Reported.Version}, nil
}
