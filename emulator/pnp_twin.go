package emulator

import (
	"encoding/json"
	"strings"
)

// The digital twin of a device (GET /digitaltwins/{id}) is a view of its
// device twin by the IoT Plug and Play conventions (Microsoft's
// "Understand IoT Plug and Play digital twins" and "IoT Plug and Play
// conventions"; docs/fidelity.md, "Plug and Play"):
//
//   - "$dtId" is the device id; "$metadata.$model" the model it announced.
//   - A member of desired or reported that is an object marked
//     "__t": "c" is a component: an object of its own, with its own
//     "$metadata" (whose presence marks it a component), without the marker.
//   - Every other member is a property. Its value is the reported one, or
//     the "value" of a writable property's acknowledgement
//     {"value", "ac", "av", "ad"}; its "$metadata" entry has the desired
//     value and the desired $version that set it (desiredValue,
//     desiredVersion), the acknowledgement's code, version and description
//     (ackCode, ackVersion, ackDescription) and when the device last
//     reported it (lastUpdateTime).

// componentMarker is the member that marks a twin object as a component.
const componentMarker = "__t"

// renderDigitalTwin renders the digital twin of the device whose twin s is,
// with the twin's etag as its (weak) ETag.
func renderDigitalTwin(deviceID string, s twinSnapshot) (twinDoc, error) {
	tw := s.identity.twin
	v := newDTView(tw.desired, tw.reported)
	body, err := v.object(deviceID, s.identity.modelID)
	if err != nil {
		return twinDoc{}, err
	}
	return twinDoc{body: body, etag: tw.etagString()}, nil
}

// dtSide is one section's values and metadata at one level of the twin.
type dtSide struct {
	values map[string]any
	meta   *metaNode
}

func (s dtSide) child(name string) dtSide {
	c := dtSide{}
	if m, ok := s.values[name].(map[string]any); ok {
		c.values = m
	}
	if s.meta != nil {
		c.meta = s.meta.children[name]
	}
	return c
}

// dtView is one level of the twin (the root or a component) seen from both
// sections.
type dtView struct {
	desired, reported dtSide
}

func newDTView(desired, reported twinSection) dtView {
	return dtView{desired: dtSide{desired.values, desired.meta}, reported: dtSide{reported.values, reported.meta}}
}

// object renders the root: "$dtId", then the properties and components,
// then "$metadata" with "$model" when the device announced one.
func (v dtView) object(deviceID, modelID string) ([]byte, error) {
	members, meta := v.level(true)
	if modelID != "" {
		meta["$model"] = modelID
	}
	body, err := withMetadata(members, meta)
	if err != nil {
		return nil, err
	}
	id, err := marshalJSON(deviceID)
	if err != nil {
		return nil, err
	}
	out := append([]byte(`{"$dtId":`), id...)
	if len(body) > 2 {
		out = append(out, ',')
	}
	return append(out, body[1:]...), nil
}

// level is the members and the metadata of one level; at the root
// (components set), objects marked as components become components.
func (v dtView) level(components bool) (map[string]any, map[string]any) {
	members, meta := map[string]any{}, map[string]any{}
	for _, name := range v.names() {
		if components && (isComponent(v.desired.values[name]) || isComponent(v.reported.values[name])) {
			c := dtView{desired: v.desired.child(name), reported: v.reported.child(name)}
			cm, cmeta := c.level(false)
			members[name] = componentJSON{cm, cmeta}
			continue
		}
		if value, ok := v.reported.values[name]; ok {
			members[name] = reportedValue(value)
		}
		meta[name] = v.propertyMeta(name)
	}
	return members, meta
}

// names are the members of both sections at this level, without the
// component marker and the section's own "$" members.
func (v dtView) names() []string {
	seen := map[string]bool{}
	var names []string
	for _, m := range []map[string]any{v.desired.values, v.reported.values} {
		for k := range m {
			if !seen[k] && k != componentMarker && !strings.HasPrefix(k, "$") {
				seen[k] = true
				names = append(names, k)
			}
		}
	}
	return names
}

// propertyMeta is a property's "$metadata" entry.
func (v dtView) propertyMeta(name string) map[string]any {
	m := map[string]any{}
	if value, ok := v.desired.values[name]; ok {
		m["desiredValue"] = value
		if n := v.desired.child(name).meta; n != nil {
			m["desiredVersion"] = n.lastUpdatedVersion
		}
	}
	if ack, ok := v.reported.values[name].(map[string]any); ok && isAck(ack) {
		for wire, key := range map[string]string{"ac": "ackCode", "av": "ackVersion", "ad": "ackDescription"} {
			if x, ok := ack[wire]; ok {
				m[key] = x
			}
		}
	}
	if _, ok := v.reported.values[name]; ok {
		if n := v.reported.child(name).meta; n != nil {
			m["lastUpdateTime"] = n.lastUpdated
		}
	}
	return m
}

// isComponent says whether a twin value is an object marked "__t": "c".
func isComponent(v any) bool {
	m, ok := v.(map[string]any)
	return ok && m[componentMarker] == "c"
}

// isAck says whether a reported value is a writable property's
// acknowledgement: {"value": ..., "ac": code} with "av" and "ad" optional.
func isAck(m map[string]any) bool {
	_, hasValue := m["value"]
	_, hasCode := m["ac"]
	return hasValue && hasCode
}

// reportedValue is what the digital twin shows for a reported value.
func reportedValue(v any) any {
	if m, ok := v.(map[string]any); ok && isAck(m) {
		return m["value"]
	}
	return v
}

// componentJSON renders a component: its properties, then "$metadata".
type componentJSON struct {
	members, meta map[string]any
}

func (c componentJSON) MarshalJSON() ([]byte, error) { return withMetadata(c.members, c.meta) }

// withMetadata marshals members (sorted) and appends "$metadata" last.
func withMetadata(members, meta map[string]any) ([]byte, error) {
	b, err := marshalJSON(members)
	if err != nil {
		return nil, err
	}
	m, err := marshalJSON(meta)
	if err != nil {
		return nil, err
	}
	return appendMember(b, "$metadata", json.RawMessage(m)), nil
}
