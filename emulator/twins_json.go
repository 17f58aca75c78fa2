package emulator

import (
	"cmp"
	"encoding/json"
	"slices"
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

// renderTwinLocked renders the twin of st (of device d) as it is now,
// under the registry lock, where a twin read or write answers at once:
// rendering it directly costs less than the deep copy snapshotTwin makes
// for rendering later, which a twin write made under the lock anyway.
// Caller holds r.mu.
func renderTwinLocked(d *deviceEntry, st *identityState, moduleID string) (twinDoc, error) {
	return renderTwin(twinSnapshot{device: *d, identity: *st, moduleID: moduleID})
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
	body, err := j.appendJSON(nil)
	if err != nil {
		return twinDoc{}, err
	}
	return twinDoc{body: body, etag: j.ETag}, nil
}

// appendJSON appends the twin as encoding/json renders twinJSON, byte for byte,
// without encoding/json's reflection over the struct and its re-scan of
// the two sections (which toJSON made compact already): every REST twin
// write answers with the whole twin.
func (j *twinJSON) appendJSON(dst []byte) ([]byte, error) {
	if dst == nil {
		dst = make([]byte, 0, len(j.Properties.Desired)+len(j.Properties.Reported)+512)
	}
	o := jsonObject{b: append(dst, '{')}
	o.str("deviceId", j.DeviceID)
	if j.ModuleID != "" {
		o.str("moduleId", j.ModuleID)
	}
	o.str("etag", j.ETag)
	o.str("deviceEtag", j.DeviceETag)
	o.str("status", j.Status)
	if j.StatusReason != nil {
		o.str("statusReason", *j.StatusReason)
	}
	o.str("statusUpdateTime", j.StatusUpdateTime)
	o.str("connectionState", j.ConnectionState)
	o.str("lastActivityTime", j.LastActivityTime)
	o.int("cloudToDeviceMessageCount", int64(j.CloudToDeviceMessageCount))
	o.str("authenticationType", j.AuthenticationType)
	o.value("x509Thumbprint", j.X509Thumbprint)
	o.str("modelId", j.ModelID)
	o.int("version", j.Version)
	if len(j.Tags) > 0 {
		o.value("tags", j.Tags)
	}
	o.member("properties")
	o.b = append(o.b, `{"desired":`...)
	o.b = append(o.b, j.Properties.Desired...)
	o.b = append(o.b, `,"reported":`...)
	o.b = append(o.b, j.Properties.Reported...)
	o.b = append(o.b, '}')
	if len(j.Configurations) > 0 {
		o.value("configurations", j.Configurations)
	}
	if j.Capabilities != nil {
		o.member("capabilities")
		o.b = append(o.b, `{"iotEdge":`...)
		o.b = strconv.AppendBool(o.b, j.Capabilities.IoTEdge)
		o.b = append(o.b, '}')
	}
	if o.err != nil {
		return nil, o.err
	}
	return append(o.b, '}'), nil
}

// jsonObject writes an object's members after its '{'; names must not
// need escaping. The first error of a value is kept in err.
type jsonObject struct {
	b   []byte
	err error
}

func (o *jsonObject) member(name string) { o.b = openMember(o.b, name) }

func (o *jsonObject) str(name, v string) {
	o.member(name)
	o.b = appendJSONString(o.b, v)
}

func (o *jsonObject) int(name string, v int64) {
	o.member(name)
	o.b = strconv.AppendInt(o.b, v, 10)
}

func (o *jsonObject) value(name string, v any) {
	o.member(name)
	b, err := appendJSON(o.b, v)
	if err != nil {
		o.err = cmp.Or(o.err, err)
		return
	}
	o.b = b
}

// toJSON renders a section as the hub does: the values, then (REST only)
// "$metadata", then "$version".
func (s *twinSection) toJSON(withMetadata bool) (json.RawMessage, error) {
	var meta *metaNode
	if withMetadata {
		meta = s.meta
	}
	return appendSection(nil, s.values, meta, nil, s.version)
}

// appendSection appends a section as the hub renders it, in one buffer:
// values (nil as {}), then, when meta is not nil, "$metadata" with the
// children keep chooses (nil: all), then "$version".
func appendSection(dst []byte, values map[string]any, meta *metaNode, keep func(string) bool, version int64) ([]byte, error) {
	if dst == nil {
		dst = make([]byte, 0, 512)
	}
	b := append(dst, '{')
	if values != nil {
		var err error
		if b, err = appendJSON(dst, values); err != nil {
			return nil, err
		}
		b = b[:len(b)-1] // reopen the object appendJSON closed
	}
	if meta != nil {
		b = openMember(b, "$metadata")
		b = meta.appendJSON(b, keep)
	}
	b = openMember(b, "$version")
	b = strconv.AppendInt(b, version, 10)
	return append(b, '}'), nil
}

// openMember appends `"key":` to an object whose closing brace is not
// written yet, after a comma unless it is the first member. key must not
// need JSON escaping.
func openMember(obj []byte, key string) []byte {
	if obj[len(obj)-1] != '{' {
		obj = append(obj, ',')
	}
	obj = append(obj, '"')
	obj = append(obj, key...)
	return append(obj, '"', ':')
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
	return appendSection(nil, patch, nil, nil, version)
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

// appendJSON appends the node as marshalJSON renders toJSON's object, its
// members sorted by key (a child named like one of the node's own members
// wins, as in toJSON), without building that object's maps. keep, when not
// nil, chooses which children are shown.
func (n *metaNode) appendJSON(dst []byte, keep func(string) bool) []byte {
	keys := make([]string, 0, len(n.children)+2)
	keys = append(keys, "$lastUpdated")
	if n.lastUpdatedVersion != 0 {
		keys = append(keys, "$lastUpdatedVersion")
	}
	for k := range n.children {
		if keep == nil || keep(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		dst = appendKey(dst, i, k)
		c, child := n.children[k]
		switch {
		case child && (keep == nil || keep(k)):
			dst = c.appendJSON(dst, nil)
		case k == "$lastUpdated":
			dst = appendJSONString(dst, n.lastUpdated)
		default:
			dst = strconv.AppendInt(dst, n.lastUpdatedVersion, 10)
		}
	}
	return append(dst, '}')
}

// appendMember adds "key":value at the end of the marshalled object obj.
// key must not need JSON escaping.
func appendMember(obj []byte, key string, value []byte) []byte {
	out := make([]byte, 0, len(obj)+len(key)+len(value)+4)
	out = openMember(append(out, obj[:len(obj)-1]...), key)
	out = append(out, value...)
	return append(out, '}')
}

// marshalJSON encodes without HTML escaping, so twin strings containing
// <, > or & come back byte for byte as they were written. Twin trees take
// appendJSON's direct path.
func marshalJSON(v any) ([]byte, error) { return appendJSON(nil, v) }
