package emulator

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"maps"
)

// twinState is a device or module twin. Its counters follow what real
// twins show (the twin samples of Microsoft's IoT Hub docs and of
// Azure/azure-iot-sdk-csharp#954; the fidelity table's "Fresh twin" and
// "Counters" rows): a fresh twin has etag 1 (AAAAAAAAAAE=), version 2 and
// both section $versions 1; every change of any section bumps version by
// one; service writes (tags, desired) also bump the etag, device writes
// (reported) do not.
type twinState struct {
	etag     uint64
	version  int64
	tags     map[string]any
	desired  twinSection
	reported twinSection
	// configs is the status ("Applied", "Targeted") of each configuration
	// that targets the twin, and appliedSeq the seq of the one whose
	// content was last merged into desired (configurations_apply.go).
	configs    map[string]string
	appliedSeq uint64
}

type twinSection struct {
	values  map[string]any
	version int64
	meta    *metaNode
}

func newTwin(ts string) *twinState {
	return &twinState{
		etag:     1,
		version:  2,
		tags:     map[string]any{},
		desired:  twinSection{values: map[string]any{}, version: 1, meta: newMetaNode(stamp{at: ts, version: 1})},
		reported: twinSection{values: map[string]any{}, version: 1, meta: newMetaNode(stamp{at: ts})},
	}
}

// clone deep-copies the twin, so it can be rendered without the registry
// lock.
func (t *twinState) clone() *twinState {
	c := *t
	c.tags = cloneObject(t.tags)
	c.desired = t.desired.clone()
	c.reported = t.reported.clone()
	c.configs = maps.Clone(t.configs)
	return &c
}

func (s twinSection) clone() twinSection {
	return twinSection{values: cloneObject(s.values), version: s.version, meta: s.meta.clone()}
}

// etagString is the twin etag as the hub writes it: base64 of an 8-byte
// big-endian counter.
func (t *twinState) etagString() string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], t.etag)
	return base64.StdEncoding.EncodeToString(b[:])
}

// serviceWrite is a parsed service PATCH or PUT body. Only tags and
// properties.desired are read: properties.reported is ignored, like every
// read-only field, because the C# SDK's UpdateTwinAsync(twin, etag) sends the
// whole fetched twin (reported included) and works against real hubs
// (Azure/iotedge#1246). For the same reason "$metadata" and "$version" at
// the root of desired or tags are dropped: C#'s TwinCollection serialises them.
type serviceWrite struct {
	tags, desired       map[string]any
	hasTags, hasDesired bool
}

func parseServiceWrite(body []byte) (serviceWrite, error) {
	var b struct {
		Tags       json.RawMessage `json:"tags"`
		Properties *struct {
			Desired json.RawMessage `json:"desired"`
		} `json:"properties"`
	}
	if err := decodeObject(body, &b); err != nil {
		return serviceWrite{}, err
	}
	var w serviceWrite
	var err error
	if w.tags, w.hasTags, err = decodeSection(b.Tags, "tags"); err != nil {
		return serviceWrite{}, err
	}
	if b.Properties != nil {
		if w.desired, w.hasDesired, err = decodeSection(b.Properties.Desired, "properties.desired"); err != nil {
			return serviceWrite{}, err
		}
	}
	for _, s := range []struct {
		m    map[string]any
		name string
	}{{w.tags, "tags"}, {w.desired, "properties.desired"}} {
		delete(s.m, "$metadata")
		delete(s.m, "$version")
		if err := validateSection(s.m, s.name); err != nil {
			return serviceWrite{}, err
		}
	}
	return w, nil
}

func (r *registry) getTwin(deviceID, moduleID string) (twinDoc, error) {
	var doc twinDoc
	err := r.locked(func() error {
		d, st, err := r.findIdentity(deviceID, moduleID)
		if err == nil {
			doc, err = renderTwinLocked(d, st, moduleID)
		}
		return err
	})
	return doc, err
}

// twinForWrite finds the identity whose twin a service write targets and
// checks the write's If-Match against the twin's etag. The caller holds r.mu.
func (r *registry) twinForWrite(deviceID, moduleID string, cond precondition) (*deviceEntry, *identityState, error) {
	d, st, err := r.findIdentity(deviceID, moduleID)
	if err != nil {
		return nil, nil, err
	}
	if cond.stale(st.twin.etagString()) {
		return nil, nil, errStaleTwin(st.twin.etagString(), cond.etag)
	}
	return d, st, nil
}

// patchTwin is the service PATCH: a deep merge into tags and desired. A
// write with no tag and no desired member changes nothing (no version bump);
// otherwise tags, desired or both bump version and etag once, and a desired
// change bumps desired $version and pushes the patch as sent.
func (r *registry) patchTwin(deviceID, moduleID string, body []byte, cond precondition) (twinDoc, error) {
	w, err := parseServiceWrite(body)
	if err != nil {
		return twinDoc{}, err
	}
	var doc twinDoc
	err = r.write(deviceID, func() error {
		d, st, err := r.twinForWrite(deviceID, moduleID, cond)
		if err != nil {
			return err
		}
		if err := r.mergeServiceWrite(deviceID, moduleID, st.twin, w); err != nil {
			return err
		}
		doc, err = renderTwinLocked(d, st, moduleID)
		return err
	})
	return doc, err
}

// mergeServiceWrite is patchTwin's change of state. Caller holds r.mu.
func (r *registry) mergeServiceWrite(deviceID, moduleID string, tw *twinState, w serviceWrite) error {
	changeTags, changeDesired := len(w.tags) > 0, len(w.desired) > 0
	if !changeTags && !changeDesired {
		return nil
	}
	if err := trialMerge(tw.tags, w.tags, "tags", maxTagsSize); err != nil {
		return err
	}
	if err := trialMerge(tw.desired.values, w.desired, "desired", maxDesiredSize); err != nil {
		return err
	}
	var note []byte
	if changeDesired {
		var err error
		if note, err = desiredNotification(w.desired, tw.desired.version+1); err != nil {
			return err
		}
	}
	mergePatch(tw.tags, w.tags, nil, stamp{})
	if changeDesired {
		tw.desired.version++
		mergePatch(tw.desired.values, w.desired, tw.desired.meta, stamp{at: r.timestamp(), version: tw.desired.version})
	}
	tw.version++
	tw.etag++
	if changeDesired {
		r.fireDesired(deviceID, moduleID, note, tw.desired.version)
	}
	r.fireNotification(deviceID, moduleID, opUpdateTwin, func() ([]byte, error) {
		section := ""
		if changeDesired {
			section = "desired"
		}
		return twinUpdateBody(tw, w.tags, section, w.desired)
	})
	return nil
}

// replaceTwin is the service PUT: tags and desired become the body's (an
// absent section becomes empty). It always counts as one write of both:
// version, etag and desired $version bump once, and the device gets the
// diff, with null for removed keys.
func (r *registry) replaceTwin(deviceID, moduleID string, body []byte, cond precondition) (twinDoc, error) {
	w, err := parseServiceWrite(body)
	if err != nil {
		return twinDoc{}, err
	}
	tags, desired := stripNulls(w.tags), stripNulls(w.desired)
	if err := checkSize(tags, "tags", maxTagsSize); err != nil {
		return twinDoc{}, err
	}
	if err := checkSize(desired, "desired", maxDesiredSize); err != nil {
		return twinDoc{}, err
	}
	var doc twinDoc
	err = r.write(deviceID, func() error {
		d, st, err := r.twinForWrite(deviceID, moduleID, cond)
		if err != nil {
			return err
		}
		tw := st.twin
		desiredDiff := diffObjects(tw.desired.values, desired)
		note, err := desiredNotification(desiredDiff, tw.desired.version+1)
		if err != nil {
			return err
		}
		mergePatch(tw.tags, diffObjects(tw.tags, tags), nil, stamp{})
		tw.desired.version++
		mergePatch(tw.desired.values, desiredDiff, tw.desired.meta, stamp{at: r.timestamp(), version: tw.desired.version})
		tw.version++
		tw.etag++
		r.fireDesired(deviceID, moduleID, note, tw.desired.version)
		if doc, err = renderTwinLocked(d, st, moduleID); err != nil {
			return err
		}
		r.fireNotification(deviceID, moduleID, opReplaceTwin, func() ([]byte, error) {
			return lifecycleBody(deviceID, moduleID, tw)
		})
		return nil
	})
	return doc, err
}

// trialMerge checks the size a section would have after a patch, on a copy.
func trialMerge(current, patch map[string]any, name string, limit int) error {
	if len(patch) == 0 {
		return nil
	}
	trial := cloneObject(current)
	mergePatch(trial, patch, nil, stamp{})
	return checkSize(trial, name, limit)
}

// patchReported applies a device-side reported patch: a JSON object, null
// deletes, the key/depth/value/size rules of desired apply, and any key
// starting with '$' ("$version" included) is 400 ArgumentInvalid 400004, as
// real hubs answer (amenzhinsky/iothub#70). An unparseable body is 400
// IotHubFormatError 400006; valid JSON that is not an object is 400
// ArgumentInvalid. It returns the new reported $version. Every accepted
// patch, even {}, is one write: reported $version and twin version bump,
// the etag does not (the fidelity table's "Counters" row).
func (r *registry) patchReported(deviceID, moduleID string, body []byte) (int64, error) {
	var patch map[string]any
	if err := decodeObject(body, &patch); err != nil {
		return 0, err
	}
	if err := validateSection(patch, "reported"); err != nil {
		return 0, err
	}
	var version int64
	err := r.write(deviceID, func() error {
		_, st, err := r.findIdentity(deviceID, moduleID)
		if err != nil {
			return err
		}
		rep := &st.twin.reported
		if err := trialMerge(rep.values, patch, "reported", maxReportedSize); err != nil {
			return err
		}
		rep.version++
		mergePatch(rep.values, patch, rep.meta, stamp{at: r.timestamp()})
		st.twin.version++
		version = rep.version
		r.fireNotification(deviceID, moduleID, opUpdateTwin, func() ([]byte, error) {
			return twinUpdateBody(st.twin, nil, "reported", patch)
		})
		return nil
	})
	return version, err
}

// twinSections returns the MQTT GET body:
// {"desired":{...values...,"$version":n},"reported":{...,"$version":m}}: no
// $metadata, no tags, no identity fields (Microsoft's IoT Hub MQTT doc; the
// fidelity table's "Twin GET answer" row).
func (r *registry) twinSections(deviceID, moduleID string) ([]byte, error) {
	var desired, reported twinSection
	err := r.locked(func() error {
		_, st, err := r.findIdentity(deviceID, moduleID)
		if err == nil {
			desired, reported = st.twin.desired.clone(), st.twin.reported.clone()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return twinSectionsJSON(desired, reported)
}
