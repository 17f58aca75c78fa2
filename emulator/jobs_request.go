package emulator

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/internal/iotquery"
)

// The rules of a scheduled job request (Microsoft's "Schedule jobs on
// multiple devices" and the REST reference's Jobs - Create Scheduled Job;
// the fidelity table's "Scheduled jobs" rows say which are inferred).
const (
	// maxJobIDLength: "The jobId field must be 64 characters or less and
	// can only contain US-ASCII letters, numbers, and the dash (-)".
	maxJobIDLength = 64
	// defaultJobExecutionSeconds is the Node service SDK's default
	// (job_client.ts defaultMaxExecutionTimeInSeconds), taken when a
	// request names none.
	defaultJobExecutionSeconds = 3600
)

// jobRequest is a validated PUT /jobs/v2/{id} body.
type jobRequest struct {
	id, typ        string
	queryCondition string
	where          *iotquery.Query // SELECT * FROM devices WHERE queryCondition
	start          time.Time       // zero: now
	maxExec        time.Duration
	// A twin job's update, as sent: echoed in the job, and the body of
	// the twin PATCH it makes on each device.
	updateTwin json.RawMessage
	// A method job's call, as the job echoes it, and parsed.
	methodJSON json.RawMessage
	call       methodCall
}

// jobRequestBody is JobRequest on the wire (azure-iot-hub's JobRequest,
// the Node SDK's JobDescription).
type jobRequestBody struct {
	JobID                     *string         `json:"jobId"`
	Type                      string          `json:"type"`
	CloudToDeviceMethod       json.RawMessage `json:"cloudToDeviceMethod"`
	UpdateTwin                json.RawMessage `json:"updateTwin"`
	QueryCondition            *string         `json:"queryCondition"`
	StartTime                 *string         `json:"startTime"`
	MaxExecutionTimeInSeconds *int64          `json:"maxExecutionTimeInSeconds"`
}

// parseJobRequest validates a job request for the job id of its path. A
// body that is not JSON is 400 IotHubFormatError; every other breach is
// 400 ArgumentInvalid (ArgumentNull for a missing query condition).
func parseJobRequest(pathID string, body []byte) (jobRequest, error) {
	if err := checkJobID(pathID); err != nil {
		return jobRequest{}, err
	}
	var b jobRequestBody
	if err := decodeObject(body, &b); err != nil {
		return jobRequest{}, err
	}
	if b.JobID != nil && *b.JobID != "" && *b.JobID != pathID {
		return jobRequest{}, hub.ErrArgumentInvalid.WithMessage("The jobId '%s' of the body is not the job id '%s' of the request's path.", *b.JobID, pathID)
	}
	req := jobRequest{id: pathID, typ: b.Type}
	var err error
	if req.queryCondition, req.where, err = parseQueryCondition(b.QueryCondition); err != nil {
		return jobRequest{}, err
	}
	if req.start, err = parseJobStart(b.StartTime); err != nil {
		return jobRequest{}, err
	}
	if req.maxExec, err = parseMaxExecution(b.MaxExecutionTimeInSeconds); err != nil {
		return jobRequest{}, err
	}
	switch b.Type {
	case hub.JobTypeScheduleUpdateTwin:
		err = req.setUpdateTwin(b.UpdateTwin)
	case hub.JobTypeScheduleDeviceMethod:
		err = req.setMethod(b.CloudToDeviceMethod)
	default:
		err = hub.ErrArgumentInvalid.WithMessage("The job type '%s' is not one this API schedules: %s or %s.", b.Type, hub.JobTypeScheduleUpdateTwin, hub.JobTypeScheduleDeviceMethod)
	}
	return req, err
}

// checkJobID applies the documented job id rule.
func checkJobID(id string) error {
	ok := id != "" && len(id) <= maxJobIDLength
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		ok = c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	if !ok {
		return hub.ErrArgumentInvalid.WithMessage("The job id '%s' is not valid: it must be 1 to %d US-ASCII letters, digits or dashes.", id, maxJobIDLength)
	}
	return nil
}

// parseQueryCondition reads the WHERE clause that picks a job's devices
// as the query SELECT * FROM devices WHERE condition. "*" picks every
// device: the Python SDK's twin update job sample sends it.
func parseQueryCondition(cond *string) (string, *iotquery.Query, error) {
	if cond == nil || strings.TrimSpace(*cond) == "" {
		return "", nil, hub.ErrArgumentNull.WithMessage("The job has no queryCondition.")
	}
	src := "SELECT * FROM devices"
	if strings.TrimSpace(*cond) != "*" {
		src += " WHERE " + *cond
	}
	q, err := iotquery.Parse(src, iotquery.Options{Fold: foldTwinPath})
	if err != nil {
		var se *iotquery.SyntaxError
		if errors.As(err, &se) {
			return "", nil, hub.ErrArgumentInvalid.WithMessage("The queryCondition '%s' is not a valid WHERE clause of a twin query: %s", *cond, se)
		}
		return "", nil, err
	}
	return *cond, q, nil
}

// parseJobStart reads startTime, ISO 8601 with a time zone; absent or null
// is now. A time in the past is not refused: the job starts at once (every
// SDK sends "now", which is past by the time it arrives).
func parseJobStart(s *string) (time.Time, error) {
	if s == nil {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		// The Python SDK's sample sends datetime.utcnow().isoformat(),
		// which has no zone: UTC is meant.
		t, err = time.Parse("2006-01-02T15:04:05.999999999", *s)
	}
	if err != nil {
		return time.Time{}, hub.ErrArgumentInvalid.WithMessage("The startTime '%s' is not an ISO 8601 date and time.", *s)
	}
	return t.UTC(), nil
}

// parseMaxExecution reads maxExecutionTimeInSeconds: absent, null or 0 is
// defaultJobExecutionSeconds; a negative value is refused.
func parseMaxExecution(n *int64) (time.Duration, error) {
	switch {
	case n == nil || *n == 0:
		return defaultJobExecutionSeconds * time.Second, nil
	case *n < 0 || *n > int64(maxJobExecution/time.Second):
		return 0, hub.ErrArgumentInvalid.WithMessage("maxExecutionTimeInSeconds %d is out of range [1; %d].", *n, int64(maxJobExecution/time.Second))
	}
	return time.Duration(*n) * time.Second, nil
}

// maxJobExecution bounds maxExecutionTimeInSeconds to the 30 days a job is
// kept ("they have a TTL of 30 days"): no source gives the hub's bound.
const maxJobExecution = 30 * 24 * time.Hour

// setUpdateTwin reads a twin job's update: a twin whose tags and
// properties.desired are merged into each device's twin as a service PATCH
// is. Its etag may be absent or "*" (every SDK sends "*"): one etag cannot
// be meant for many twins, so any other is refused.
func (req *jobRequest) setUpdateTwin(raw json.RawMessage) error {
	if isJSONNull(raw) {
		return hub.ErrArgumentNull.WithMessage("A %s job needs updateTwin.", hub.JobTypeScheduleUpdateTwin)
	}
	var etag struct {
		ETag *string `json:"etag"`
	}
	if err := decodeObject(raw, &etag); err != nil {
		return err
	}
	if etag.ETag != nil && *etag.ETag != "*" {
		return hub.ErrArgumentInvalid.WithMessage("The etag of updateTwin must be '*'; it is '%s'.", *etag.ETag)
	}
	w, err := parseServiceWrite(raw)
	if err != nil {
		return err
	}
	if len(w.tags) == 0 && len(w.desired) == 0 {
		return hub.ErrArgumentInvalid.WithMessage("updateTwin changes nothing: it has no tags and no properties.desired.")
	}
	req.updateTwin = raw
	return nil
}

// setMethod reads a method job's call with the rules of a direct method
// call (methods_request.go).
func (req *jobRequest) setMethod(raw json.RawMessage) error {
	if isJSONNull(raw) {
		return hub.ErrArgumentNull.WithMessage("A %s job needs cloudToDeviceMethod.", hub.JobTypeScheduleDeviceMethod)
	}
	call, err := parseMethodCall(raw)
	if err != nil {
		return err
	}
	echo := map[string]any{"methodName": call.name, "payload": call.payload,
		"responseTimeoutInSeconds": int64(call.responseTimeout / time.Second),
		"connectTimeoutInSeconds":  int64(call.connectTimeout / time.Second)}
	if req.methodJSON, err = marshalJSON(echo); err != nil {
		return err
	}
	req.call = call
	return nil
}
