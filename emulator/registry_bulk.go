package emulator

import (
	"bytes"
	"encoding/json"

	"github.com/hubspec/hubspec/hub"
)

// maxBulkDevices is the most devices one POST /devices may name (the REST
// reference and every SDK's bulk call: "A maximum of 100 devices").
const maxBulkDevices = 100

// bulkEntry is one ExportImportDevice of a bulk registry request (the
// service API's model, as azure-iot-hub's ExportImportDevice serialises
// it).
type bulkEntry struct {
	ID             string    `json:"id"`
	ModuleID       string    `json:"moduleId"`
	ETag           string    `json:"eTag"`
	ImportMode     string    `json:"importMode"`
	Status         *string   `json:"status"`
	StatusReason   *string   `json:"statusReason"`
	Authentication *authBody `json:"authentication"`
	Capabilities   *struct {
		IoTEdge bool `json:"iotEdge"`
	} `json:"capabilities"`
	TwinETag   string          `json:"twinETag"`
	Tags       json.RawMessage `json:"tags"`
	Properties *struct {
		Desired json.RawMessage `json:"desired"`
	} `json:"properties"`
}

// bulkOp is a validated bulk entry: what to do to which device, under which
// precondition, with which twin sections.
type bulkOp struct {
	entry  bulkEntry
	mode   importMode
	status string
	cond   precondition // the identity's, or for the twin modes the twin's
	twin   serviceWrite
}

type importMode struct {
	create, update, delete, twinOnly, matchETag bool
}

// importModes are the importMode values the hub takes (the service API's
// ImportMode: Microsoft.Azure.Devices.ImportMode names the semantics of
// each, and azure-iot-hub lists the JSON spellings).
var importModes = map[string]importMode{
	"create":                    {create: true},
	"createOrUpdate":            {create: true, update: true},
	"createOrUpdateIfMatchETag": {create: true, update: true, matchETag: true},
	"update":                    {update: true},
	"updateIfMatchETag":         {update: true, matchETag: true},
	"delete":                    {delete: true},
	"deleteIfMatchETag":         {delete: true, matchETag: true},
	"updateTwin":                {twinOnly: true},
	"updateTwinIfMatchETag":     {twinOnly: true, matchETag: true},
}

// bulkResult is the BulkRegistryOperationResult the hub answers.
type bulkResult struct {
	IsSuccessful bool          `json:"isSuccessful"`
	Errors       []bulkError   `json:"errors"`
	Warnings     []bulkWarning `json:"warnings"`
}

type bulkError struct {
	DeviceID    string `json:"deviceId"`
	ErrorCode   string `json:"errorCode"`
	ErrorStatus string `json:"errorStatus"`
}

type bulkWarning struct {
	DeviceID      string `json:"deviceId"`
	WarningCode   string `json:"warningCode"`
	WarningStatus string `json:"warningStatus"`
}

// bulk applies a bulk registry request. A request that is malformed
// anywhere (not an array, a device named twice, an unknown import mode, an
// invalid id, status or twin section: 400; more than 100 devices: 413
// TooManyDevices, which the C# SDK maps from 413) is refused whole and
// changes nothing. Otherwise every device's operation is applied on its
// own, in order: one that fails (the device exists, is missing, or its etag
// is stale) is reported in errors, the others still apply, and the answer
// is 200 with isSuccessful false (docs/fidelity.md, "Bulk registry").
func (r *registry) bulk(body []byte) (bulkResult, error) {
	ops, err := parseBulk(body)
	if err != nil {
		return bulkResult{}, err
	}
	res := bulkResult{Errors: []bulkError{}, Warnings: []bulkWarning{}}
	for _, op := range ops {
		if err := r.write(op.entry.ID, func() error { return r.applyBulk(op) }); err != nil {
			res.Errors = append(res.Errors, bulkErrorOf(op.entry.ID, err))
		}
	}
	res.IsSuccessful = len(res.Errors) == 0
	return res, nil
}

func bulkErrorOf(id string, err error) bulkError {
	e, ok := hub.AsError(err)
	if !ok {
		e = hub.ErrServerError.WithMessage("%v", err)
	}
	return bulkError{DeviceID: id, ErrorCode: e.Name, ErrorStatus: e.Message}
}

// parseBulk validates the whole request before anything is applied.
func parseBulk(body []byte) ([]bulkOp, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return nil, hub.ErrArgumentInvalid.WithMessage("The body must be a JSON array of ExportImportDevice.")
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(trimmed, &entries); err != nil {
		return nil, hub.ErrIotHubFormatError.WithMessage("The body is not valid JSON: %v", err)
	}
	switch {
	case len(entries) == 0:
		return nil, hub.ErrArgumentInvalid.WithMessage("The request names no device.")
	case len(entries) > maxBulkDevices:
		return nil, hub.ErrTooManyDevices.WithMessage("The request names %d devices; at most %d are allowed.", len(entries), maxBulkDevices)
	}
	seen := map[string]bool{}
	ops := make([]bulkOp, 0, len(entries))
	for i, raw := range entries {
		op, err := parseBulkEntry(raw)
		if err != nil {
			return nil, withEntry(err, i)
		}
		if seen[op.entry.ID] {
			return nil, hub.ErrDeviceDefinedMultipleTimes.WithMessage("The device '%s' is named more than once in the request.", op.entry.ID)
		}
		seen[op.entry.ID] = true
		ops = append(ops, op)
	}
	return ops, nil
}

// withEntry prefixes a hub error's message with the entry it is about.
func withEntry(err error, i int) error {
	e, ok := hub.AsError(err)
	if !ok {
		return err
	}
	return (&hub.Error{StatusCode: e.StatusCode, Code: e.Code, Name: e.Name}).WithMessage("Device %d of the request: %s", i, e.Message)
}

func parseBulkEntry(raw json.RawMessage) (bulkOp, error) {
	var op bulkOp
	if err := decodeObject(raw, &op.entry); err != nil {
		return bulkOp{}, err
	}
	e := &op.entry
	if err := validateDeviceID(e.ID); err != nil {
		return bulkOp{}, err
	}
	if e.ModuleID != "" {
		return bulkOp{}, hub.ErrArgumentInvalid.WithMessage("moduleId is not supported: bulk operations apply to devices.")
	}
	mode, ok := importModes[e.ImportMode]
	if !ok {
		return bulkOp{}, hub.ErrArgumentInvalid.WithMessage("importMode '%s' is invalid.", e.ImportMode)
	}
	op.mode = mode
	var err error
	if op.status, err = parseStatus(e.Status); err != nil {
		return bulkOp{}, err
	}
	if e.StatusReason != nil && len([]rune(*e.StatusReason)) > 128 {
		return bulkOp{}, hub.ErrArgumentInvalid.WithMessage("statusReason is longer than 128 characters.")
	}
	if op.twin, err = bulkTwin(e); err != nil {
		return bulkOp{}, err
	}
	etag, etagField := e.ETag, "eTag"
	if mode.twinOnly {
		etag, etagField = e.TwinETag, "twinETag"
	}
	op.cond = precondition{kind: condAny}
	if mode.matchETag {
		if etag == "" {
			return bulkOp{}, hub.ErrArgumentInvalid.WithMessage("importMode %s needs the %s.", e.ImportMode, etagField)
		}
		op.cond = parseIfMatch(`"` + etag + `"`)
	}
	return op, nil
}

// bulkTwin reads an entry's tags and desired properties, which replace the
// twin's sections of the same name.
func bulkTwin(e *bulkEntry) (serviceWrite, error) {
	var w serviceWrite
	var err error
	if w.tags, w.hasTags, err = decodeSection(e.Tags, "tags"); err != nil {
		return serviceWrite{}, err
	}
	if e.Properties != nil {
		if w.desired, w.hasDesired, err = decodeSection(e.Properties.Desired, "properties.desired"); err != nil {
			return serviceWrite{}, err
		}
	}
	for _, s := range []struct {
		m     map[string]any
		name  string
		limit int
	}{{w.tags, "tags", maxTagsSize}, {w.desired, "desired", maxDesiredSize}} {
		if err := validateSection(s.m, s.name); err != nil {
			return serviceWrite{}, err
		}
		if err := checkSize(stripNulls(s.m), s.name, s.limit); err != nil {
			return serviceWrite{}, err
		}
	}
	return w, nil
}

// applyBulk is one device's operation. Caller holds r.mu (in write).
func (r *registry) applyBulk(op bulkOp) error {
	id := op.entry.ID
	d, exists := r.devices[id]
	switch {
	case op.mode.delete:
		if !exists {
			return errDeviceNotFound(id)
		}
		if op.cond.stale(d.etag) {
			return errStaleIdentity("Device", d.etag, op.cond.etag)
		}
		r.dropDevice(d)
		return nil
	case op.mode.twinOnly:
		if !exists {
			return errDeviceNotFound(id)
		}
		if op.cond.stale(d.twin.etagString()) {
			return errStaleTwin(d.twin.etagString(), op.cond.etag)
		}
		return r.replaceSections(id, d.twin, op.twin)
	case !exists && !op.mode.create:
		return errDeviceNotFound(id)
	case exists && !op.mode.update:
		return hub.ErrDeviceAlreadyExists.WithMessage("A device with ID '%s' is already registered.", id)
	}
	cond := op.cond
	if !exists {
		cond = precondition{kind: condNone}
	}
	b := deviceBody{DeviceID: id, Status: op.entry.Status, StatusReason: op.entry.StatusReason,
		Authentication: op.entry.Authentication, Capabilities: op.entry.Capabilities}
	d, err := r.storeDevice(id, b, op.status, cond)
	if err != nil {
		return err
	}
	return r.replaceSections(id, d.twin, op.twin)
}

// replaceSections makes the twin's tags and desired properties those w
// carries, each section only when w has it, as one twin write. Caller
// holds r.mu.
func (r *registry) replaceSections(deviceID string, tw *twinState, w serviceWrite) error {
	var diff serviceWrite
	if w.hasTags {
		diff.tags = diffObjects(tw.tags, stripNulls(w.tags))
	}
	if w.hasDesired {
		diff.desired = diffObjects(tw.desired.values, stripNulls(w.desired))
	}
	return r.mergeServiceWrite(deviceID, "", tw, diff)
}
