package emulator

import (
	"strings"

	"github.com/hubspec/hubspec/internal/iotquery"
)

// queryDoc is one twin as a query sees it (iotquery.Document): the
// document GET twin answers (twins_json.go), read in place from the
// registry's state while its lock is held, so that a query over 10,000
// twins renders none of those it does not answer.
type queryDoc struct {
	d        *deviceEntry
	st       *identityState
	moduleID string // "" for a device twin
}

// twinFields are the twin's top-level members as the twin JSON spells them
// (twinJSON); queries name them in any case (the query-twins doc's
// "SELECT DeviceId, LastActivityTime" answers "deviceId" and
// "lastActivityTime").
var twinFields = []string{"deviceId", "moduleId", "etag", "deviceEtag", "status", "statusReason",
	"statusUpdateTime", "connectionState", "lastActivityTime", "cloudToDeviceMessageCount",
	"authenticationType", "x509Thumbprint", "modelId", "version", "tags", "properties", "configurations", "capabilities"}

// foldTwinPath gives a path the twin's own spelling of the names the twin
// defines: its top-level members and properties.desired/reported. Tag and
// property names below them are the user's and stay case-sensitive.
func foldTwinPath(segs []string) []string {
	for _, f := range twinFields {
		if strings.EqualFold(segs[0], f) {
			segs[0] = f
		}
	}
	if segs[0] == "properties" && len(segs) > 1 {
		for _, s := range []string{"desired", "reported"} {
			if strings.EqualFold(segs[1], s) {
				segs[1] = s
			}
		}
	}
	return segs
}

// Lookup resolves a path on the twin. Caller holds the registry lock; the
// values it returns are the registry's own, which iotquery copies before
// they leave the lock.
func (v queryDoc) Lookup(path []string) (any, bool) {
	top, ok := v.top(path[0])
	if !ok {
		return nil, false
	}
	switch path[0] {
	case "tags":
		return walk(top, path[1:])
	case "properties":
		return v.property(path[1:])
	}
	return walk(top, path[1:])
}

// top is a top-level member; only those GET twin shows are defined.
func (v queryDoc) top(name string) (any, bool) {
	d, st, device := v.d, v.st, v.moduleID == ""
	switch name {
	case "deviceId":
		return d.id, true
	case "moduleId":
		return v.moduleID, !device
	case "etag":
		return st.twin.etagString(), true
	case "deviceEtag":
		return st.etag, true
	case "status":
		return d.status, true
	case "statusReason":
		if device && d.statusReason != nil {
			return *d.statusReason, true
		}
		return nil, false
	case "statusUpdateTime":
		return d.statusUpdated, true
	case "connectionState":
		return connectionState(st.connected), true
	case "lastActivityTime":
		return st.lastActivity, true
	case "cloudToDeviceMessageCount":
		return st.c2dCount, true
	case "authenticationType":
		return st.creds.authType, true
	case "x509Thumbprint":
		return map[string]any{"primaryThumbprint": stringOrNil(st.creds.primaryThumbprint),
			"secondaryThumbprint": stringOrNil(st.creds.secondaryThumbprint)}, true
	case "modelId":
		return st.modelID, true
	case "version":
		return st.twin.version, true
	case "tags":
		return st.twin.tags, len(st.twin.tags) > 0 // the twin JSON leaves empty tags out
	case "properties":
		return nil, true
	case "configurations":
		return configurationsObject(st.twin.configs), len(st.twin.configs) > 0
	case "capabilities":
		return map[string]any{"iotEdge": d.iotEdge}, device
	}
	return nil, false
}

// configurationsObject is the twin's "configurations" member: each
// configuration targeting it, {"status": "Applied" or "Targeted"}.
func configurationsObject(configs map[string]string) map[string]any {
	out := make(map[string]any, len(configs))
	for id, s := range configs {
		out[id] = map[string]any{"status": s}
	}
	return out
}

// property resolves a path below "properties".
func (v queryDoc) property(path []string) (any, bool) {
	if len(path) == 0 {
		return map[string]any{"desired": sectionObject(&v.st.twin.desired), "reported": sectionObject(&v.st.twin.reported)}, true
	}
	var s *twinSection
	switch path[0] {
	case "desired":
		s = &v.st.twin.desired
	case "reported":
		s = &v.st.twin.reported
	default:
		return nil, false
	}
	switch {
	case len(path) == 1:
		return sectionObject(s), true
	case path[1] == "$version":
		return walk(s.version, path[2:])
	case path[1] == "$metadata":
		return walk(s.meta.toJSON(), path[2:])
	}
	return walk(s.values, path[1:])
}

// sectionObject is a section as the twin JSON shows it: its values, then
// "$metadata" and "$version". Its maps are shared with the registry
// (iotquery copies what it keeps).
func sectionObject(s *twinSection) map[string]any {
	out := make(map[string]any, len(s.values)+2)
	for k, v := range s.values {
		out[k] = v
	}
	out["$metadata"] = s.meta.toJSON()
	out["$version"] = s.version
	return out
}

// walk follows object members down from v.
func walk(v any, path []string) (any, bool) {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

func stringOrNil(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

var _ iotquery.Document = queryDoc{}
