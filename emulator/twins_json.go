package emulator

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/hubspec/hubspec/hub"
)

// twinDoc is a rendered REST twin and its etag (for the ETag header).
type twinDoc struct {
	body []byte
	etag string
}

// twinJSON is the REST twin in the field order of real answers (the Twin
// object of the IoT Hub REST reference, and the module twin the IoT Hub
// module-identity tutorial prints; the fidelity table's "Twin JSON" row):
// identity fields first, modelId ("" until the identity announces a model,
// pnp_model.go), tags only when non-empty, configurations only when one
// targets the twin, capabilities last and only on device twins.
type twinJSON struct {
	DeviceID                  string                  `json:"deviceId"`
	ModuleID                  string                  `json:"moduleId,omitempty"`
	ETag                      string                  `json:"etag"`
	DeviceETag                string                  `json:"deviceEtag"`
	Status                    string                  `json:"status"`
	StatusReason              *string                 `json:"statusReason,omitempty"`
	StatusUpdateTime          string                  `json:"statusUpdateTime"`
	ConnectionState           string                  `json:"connectionState"`
	LastActivityTime          string                  `json:"lastActivityTime"`
	CloudToDeviceMessageCount int                     `json:"cloudToDeviceMessageCount"`
	AuthenticationType        string                  `json:"authenticationType"`
	X509Thumbprint            hub.X509Thumbprint      `json:"x509Thumbprint"`
	ModelID                   string                  `json:"modelId"`
	Version                   int64                   `json:"version"`
	Tags                      map[string]any          `json:"tags,omitempty"`
	Properties                twinPropertiesJSON      `json:"properties"`
	Configurations            map[string]any          `json:"configurations,omitempty"`
	Capabilities              *hub.DeviceCapabilities `json:"capabilities,omitempty"`
}

type twinPropertiesJSON struct {
	Desired  json.RawMessage `json:"desired"`
	Reported json.RawMessage `json:"reported"`
}

// twinSnapshot is a copy of everything a rendered twin shows: the device
// (for status and capabilities) and the identity with a deep copy of its
// twin.
type twinSnapshot struct {
	device   deviceEntry
	identity identityState
	moduleID string
}

// snapshotTwin copies the twin of the device (moduleID "") or module whose
// state is st. Caller holds r.mu.
func snapshotTwin(d *deviceEntry, st *identityState, moduleID string) twinSnapshot {
	return twinSnapshot{device: d.snapshot(), identity: st.snapshot(true), moduleID: moduleID}
}

// renderTwin renders a twin snapshot. A module twin shows its device's
// status, since modules have none of their own and cannot connect while
// the device is disabled.
func renderTwin(s twinSnapshot) (twinDoc, error) {
	d, st, moduleID := &s.device, &s.identity, s.moduleID
	tw := st.twin
	desired, err := tw.desired.toJSON(true)
	if err != nil {
		return twinDoc{}, err
	}
	reported, err := tw.reported.toJSON(true)
	if err != nil {
		return twinDoc{}, err
	}
	j := twinJSON{
		DeviceID:                  d.id,
		ModuleID:                  moduleID,
		ETag:                      tw.etagString(),
		DeviceETag:                st.etag,
		Status:                    d.status,
		StatusUpdateTime:          d.statusUpdated,
		ConnectionState:           connectionState(st.connected),
		LastActivityTime:          st.lastActivity,
		CloudToDeviceMessageCount: st.c2dCount,
		AuthenticationType:        st.creds.authType,
		X509Thumbprint:            authJSONOf(st.creds).X509Thumbprint,
		ModelID:                   st.modelID,
		Version:                   tw.version,
		Tags:                      tw.tags,
		Properties:                twinPropertiesJSON{Desired: desired, Reported: reported},
	}
	if len(tw.configs) > 0 {
		j.Configurations = configurationsObject(tw.configs)
	}
	if moduleID == "" {
		j.StatusReason = copyString(d.statusReason)
		j.Capabilities = &hub.DeviceCapabilities{IoTEdge: d.iotEdge}
	}
	body, err := marshalJSON(j)
	if err != nil {
		return twinDoc{}, err
	}
	return twinDoc{body: body, etag: j.ETag}, nil
}

// toJSON renders a section as the hub does: the values, then (REST only)
// "$metadata", then "$version".
func (s *twinSection) toJSON(withMetadata bool) (json.RawMessage, error) {
	b, err := marshalJSON(s.values)
	if err != nil {
		return nil, err
	}
	if withMetadata {
		meta, err := marshalJSON(s.meta.toJSON())
		if err != nil {
			return nil, err
		}
		b = appendMember(b, "$metadata", meta)
	}
	return appendMember(b, "$version", strconv.AppendInt(nil, s.version, 10)), nil
}

// twinSectionsJSON is the MQTT GET body of a twin's two sections.
func twinSectionsJSON(desired, reported twinSection) ([]byte, error) {
	d, err := desired.toJSON(false)
	if err != nil {
		return nil, err
	}
	r, err := reported.toJSON(false)
	if err != nil {
		return nil, err
	}
	return marshalJSON(struct {
		Desired  json.RawMessage `json:"desired"`
		Reported json.RawMessage `json:"reported"`
	}{d, r})
}

// desiredNotification is the body pushed on
// $iothub/twin/PATCH/properties/desired/?$version=v: the patch plus a
// top-level "$version" (Microsoft's IoT Hub MQTT doc; the Python device SDK
// requires it in the body; the fidelity table's "Desired push" row).
func desiredNotification(patch map[string]any, version int64) ([]byte, error) {
	if patch == nil {
		patch = map[string]any{}
	}
	b, err := marshalJSON(patch)
	if err != nil {
		return nil, err
	}
	return appendMember(b, "$version", strconv.AppendInt(nil, version, 10)), nil
}

// toJSON renders the node as the object the hub shows under "$metadata".
func (n *metaNode) toJSON() map[string]any {
	out := make(map[string]any, len(n.children)+2)
	out["$lastUpdated"] = n.lastUpdated
	if n.lastUpdatedVersion != 0 {
		out["$lastUpdatedVersion"] = n.lastUpdatedVersion
	}
	for k, c := range n.children {
		out[k] = c.toJSON()
	}
	return out
}

// appendMember adds "key":value at the end of the marshalled object obj.
// key must not need JSON escaping.
func appendMember(obj []byte, key string, value []byte) []byte {
	out := make([]byte, 0, len(obj)+len(key)+len(value)+4)
	out = append(out, obj[:len(obj)-1]...)
	if len(obj) > 2 {
		out = append(out, ',')
	}
	out = append(out, '"')
	out = append(out, key...)
	out = append(out, '"', ':')
	out = append(out, value...)
	return append(out, '}')
}

// marshalJSON encodes without HTML escaping, so twin strings containing
// <, > or & come back byte for byte as they were written.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
