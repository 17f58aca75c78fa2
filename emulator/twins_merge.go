package emulator

import "reflect"

// metaNode mirrors one object level of a desired or reported section for
// "$metadata" (DOC-TWIN "Device twin metadata"): every level, objects and
// leaves alike, carries $lastUpdated, and in desired also
// $lastUpdatedVersion, the section $version of the write that last touched it.
type metaNode struct {
	lastUpdated        string
	lastUpdatedVersion int64 // 0 in reported sections, where it is not shown
	children           map[string]*metaNode
}

// stamp is the time and desired $version (0 for reported) of one write.
type stamp struct {
	at      string
	version int64
}

func newMetaNode(st stamp) *metaNode {
	return &metaNode{lastUpdated: st.at, lastUpdatedVersion: st.version, children: map[string]*metaNode{}}
}

func (n *metaNode) child(k string, st stamp) *metaNode {
	c, ok := n.children[k]
	if !ok {
		c = newMetaNode(st)
		n.children[k] = c
	}
	return c
}

// clone deep-copies the node and its children.
func (n *metaNode) clone() *metaNode {
	c := &metaNode{lastUpdated: n.lastUpdated, lastUpdatedVersion: n.lastUpdatedVersion, children: make(map[string]*metaNode, len(n.children))}
	for k, ch := range n.children {
		c.children[k] = ch.clone()
	}
	return c
}

// mergePatch applies a patch the way the hub documents twin PATCH: objects
// merge recursively, null deletes, anything else replaces (arrays whole).
// Null is never stored, and a member whose patch holds only nulls creates
// nothing where no object existed. meta, when not nil, is dst's metadata:
// every level the patch walks is stamped, deleted keys lose their metadata
// and replaced values get fresh metadata.
func mergePatch(dst, patch map[string]any, meta *metaNode, st stamp) {
	for k, pv := range patch {
		switch pv := pv.(type) {
		case nil:
			delete(dst, k)
			if meta != nil {
				delete(meta.children, k)
			}
		case map[string]any:
			cur, isObject := dst[k].(map[string]any)
			if !isObject {
				if onlyNulls(pv) {
					continue
				}
				cur = map[string]any{}
				dst[k] = cur
				if meta != nil {
					meta.children[k] = newMetaNode(st)
				}
			}
			var cm *metaNode
			if meta != nil {
				cm = meta.child(k, st)
			}
			mergePatch(cur, pv, cm, st)
		default:
			dst[k] = cloneValue(pv)
			if meta != nil {
				meta.children[k] = newMetaNode(st)
			}
		}
	}
	if meta != nil {
		meta.lastUpdated, meta.lastUpdatedVersion = st.at, st.version
	}
}

// onlyNulls reports a non-empty object all of whose members are null or
// such objects: merging it where nothing exists would create nothing.
func onlyNulls(m map[string]any) bool {
	if len(m) == 0 {
		return false
	}
	for _, v := range m {
		switch v := v.(type) {
		case nil:
		case map[string]any:
			if !onlyNulls(v) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// diffObjects is the merge patch that turns old into new: changed and added
// members with their new values (objects diffed recursively), removed ones
// as null. It is what a PUT-replace pushes to the device (the service-team
// statement in Azure/azure-iot-sdk-csharp#954) and what it merges.
func diffObjects(old, new map[string]any) map[string]any {
	d := map[string]any{}
	for k := range old {
		if _, ok := new[k]; !ok {
			d[k] = nil
		}
	}
	for k, nv := range new {
		ov, ok := old[k]
		if !ok {
			d[k] = nv
			continue
		}
		om, oldIsObject := ov.(map[string]any)
		nm, newIsObject := nv.(map[string]any)
		if oldIsObject && newIsObject {
			if sub := diffObjects(om, nm); len(sub) > 0 {
				d[k] = sub
			}
			continue
		}
		if !reflect.DeepEqual(ov, nv) {
			d[k] = nv
		}
	}
	return d
}

// stripNulls returns a copy of m without null members at any depth: in a
// replacement document null just means "absent".
func stripNulls(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case nil:
		case map[string]any:
			out[k] = stripNulls(v)
		default:
			out[k] = cloneValue(v)
		}
	}
	return out
}

// cloneValue deep-copies a decoded JSON value, so that stored twin state
// never shares maps or slices with a request (or with a dry run).
func cloneValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = cloneValue(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = cloneValue(e)
		}
		return out
	}
	return v
}

func cloneObject(m map[string]any) map[string]any {
	return cloneValue(m).(map[string]any)
}
