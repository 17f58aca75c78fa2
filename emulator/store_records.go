package emulator

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
)

// The records of the store (store.go): the registry's state as JSON, with
// exported fields so that encoding/json can write them. Connection state is
// left out on purpose: after a restart no identity is connected.

type storedDevice struct {
	ID            string         `json:"id"`
	Status        string         `json:"status"`
	StatusReason  *string        `json:"statusReason,omitempty"`
	StatusUpdated string         `json:"statusUpdated"`
	IoTEdge       bool           `json:"iotEdge,omitempty"`
	Identity      storedIdentity `json:"identity"`
	Modules       []storedModule `json:"modules,omitempty"`
}

type storedModule struct {
	ID        string         `json:"id"`
	ManagedBy *string        `json:"managedBy,omitempty"`
	Identity  storedIdentity `json:"identity"`
}

type storedIdentity struct {
	GenerationID     string      `json:"generationId"`
	ETag             string      `json:"etag"`
	ConnStateUpdated string      `json:"connectionStateUpdated"`
	LastActivity     string      `json:"lastActivity"`
	C2DCount         int         `json:"c2dCount,omitempty"`
	ModelID          string      `json:"modelId,omitempty"`
	Credentials      storedCreds `json:"credentials"`
	Twin             storedTwin  `json:"twin"`
}

type storedCreds struct {
	Type                string  `json:"type"`
	PrimaryKey          string  `json:"primaryKey,omitempty"`
	SecondaryKey        string  `json:"secondaryKey,omitempty"`
	PrimaryThumbprint   *string `json:"primaryThumbprint,omitempty"`
	SecondaryThumbprint *string `json:"secondaryThumbprint,omitempty"`
}

type storedTwin struct {
	ETag     uint64         `json:"etag"`
	Version  int64          `json:"version"`
	Tags     map[string]any `json:"tags"`
	Desired  storedSection  `json:"desired"`
	Reported storedSection  `json:"reported"`
}

type storedSection struct {
	Values  map[string]any `json:"values"`
	Version int64          `json:"version"`
	Meta    *storedMeta    `json:"meta"`
}

type storedMeta struct {
	LastUpdated        string                 `json:"lastUpdated"`
	LastUpdatedVersion int64                  `json:"lastUpdatedVersion,omitempty"`
	Children           map[string]*storedMeta `json:"children,omitempty"`
}

// storedKeys are a shared access policy's two keys.
type storedKeys struct {
	Primary   string `json:"primary"`
	Secondary string `json:"secondary"`
}

// decodeJSON decodes a record with numbers as json.Number, as the registry
// holds twin values, so they render exactly as they were written.
func decodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func storedDeviceOf(d *deviceEntry) storedDevice {
	sd := storedDevice{
		ID: d.id, Status: d.status, StatusReason: copyString(d.statusReason), StatusUpdated: d.statusUpdated,
		IoTEdge: d.iotEdge, Identity: storedIdentityOf(&d.identityState),
	}
	for _, id := range slices.Sorted(maps.Keys(d.modules)) {
		m := d.modules[id]
		sd.Modules = append(sd.Modules, storedModule{ID: m.id, ManagedBy: copyString(m.managedBy), Identity: storedIdentityOf(&m.identityState)})
	}
	return sd
}

func (sd storedDevice) entry() *deviceEntry {
	d := &deviceEntry{
		identityState: sd.Identity.state(), id: sd.ID, status: sd.Status, statusReason: sd.StatusReason,
		statusUpdated: sd.StatusUpdated, iotEdge: sd.IoTEdge, modules: map[string]*moduleEntry{},
	}
	for _, sm := range sd.Modules {
		d.modules[sm.ID] = &moduleEntry{identityState: sm.Identity.state(), id: sm.ID, managedBy: sm.ManagedBy}
	}
	return d
}

func storedIdentityOf(st *identityState) storedIdentity {
	c := st.creds.clone()
	tw := st.twin
	return storedIdentity{
		GenerationID: st.generationID, ETag: st.etag, ConnStateUpdated: st.connStateUpdated,
		LastActivity: st.lastActivity, C2DCount: st.c2dCount, ModelID: st.modelID,
		Credentials: storedCreds{Type: c.authType, PrimaryKey: c.primaryKey, SecondaryKey: c.secondaryKey,
			PrimaryThumbprint: c.primaryThumbprint, SecondaryThumbprint: c.secondaryThumbprint},
		Twin: storedTwin{ETag: tw.etag, Version: tw.version, Tags: tw.tags,
			Desired: storedSectionOf(tw.desired), Reported: storedSectionOf(tw.reported)},
	}
}

func (si storedIdentity) state() identityState {
	c := si.Credentials
	return identityState{
		generationID: si.GenerationID, etag: si.ETag, connStateUpdated: si.ConnStateUpdated,
		lastActivity: si.LastActivity, c2dCount: si.C2DCount, modelID: si.ModelID,
		creds: credentials{authType: c.Type, primaryKey: c.PrimaryKey, secondaryKey: c.SecondaryKey,
			primaryThumbprint: c.PrimaryThumbprint, secondaryThumbprint: c.SecondaryThumbprint},
		twin: &twinState{etag: si.Twin.ETag, version: si.Twin.Version, tags: orEmpty(si.Twin.Tags),
			desired: si.Twin.Desired.section(), reported: si.Twin.Reported.section()},
	}
}

func storedSectionOf(s twinSection) storedSection {
	return storedSection{Values: s.values, Version: s.version, Meta: storedMetaOf(s.meta)}
}

func (ss storedSection) section() twinSection {
	return twinSection{values: orEmpty(ss.Values), version: ss.Version, meta: ss.Meta.node()}
}

func storedMetaOf(n *metaNode) *storedMeta {
	if n == nil {
		return nil
	}
	sm := &storedMeta{LastUpdated: n.lastUpdated, LastUpdatedVersion: n.lastUpdatedVersion}
	for k, c := range n.children {
		if sm.Children == nil {
			sm.Children = map[string]*storedMeta{}
		}
		sm.Children[k] = storedMetaOf(c)
	}
	return sm
}

func (sm *storedMeta) node() *metaNode {
	if sm == nil {
		return nil
	}
	n := newMetaNode(stamp{at: sm.LastUpdated, version: sm.LastUpdatedVersion})
	for k, c := range sm.Children {
		n.children[k] = c.node()
	}
	return n
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
