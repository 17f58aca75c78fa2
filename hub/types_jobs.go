package hub

import (
	"encoding/json"
	"time"
)

// Scheduled job types (JobRequest.type and JobResponse.type).
const (
	JobTypeScheduleUpdateTwin   = "scheduleUpdateTwin"
	JobTypeScheduleDeviceMethod = "scheduleDeviceMethod"
)

// Scheduled job statuses (JobResponse.status): a job is queued or
// scheduled (its start time is still ahead) when created, running once it
// has chosen its devices, and ends completed, failed or cancelled.
const (
	JobStatusQueued    = "queued"
	JobStatusScheduled = "scheduled"
	JobStatusRunning   = "running"
	JobStatusCompleted = "completed"
	JobStatusFailed    = "failed"
	JobStatusCancelled = "cancelled"
)

// JobRequest is the body of PUT /jobs/v2/{id}: a twin update
// (UpdateTwin: tags and properties.desired, etag "*") or a direct method
// (CloudToDeviceMethod) for every device matching QueryCondition, the
// WHERE clause of a twin query, from StartTime on, for at most
// MaxExecutionTimeInSeconds.
type JobRequest struct {
	JobID                     string               `json:"jobId"`
	Type                      string               `json:"type"`
	UpdateTwin                *Twin                `json:"updateTwin,omitempty"`
	CloudToDeviceMethod       *CloudToDeviceMethod `json:"cloudToDeviceMethod,omitempty"`
	QueryCondition            string               `json:"queryCondition"`
	StartTime                 time.Time            `json:"startTime"`
	MaxExecutionTimeInSeconds int64                `json:"maxExecutionTimeInSeconds,omitempty"`
}

// CloudToDeviceMethod is a method job's call, the body of a direct method
// call: its timeouts in whole seconds, 0 for the hub's default.
type CloudToDeviceMethod struct {
	MethodName               string          `json:"methodName"`
	Payload                  json.RawMessage `json:"payload,omitempty"`
	ResponseTimeoutInSeconds int64           `json:"responseTimeoutInSeconds,omitempty"`
	ConnectTimeoutInSeconds  int64           `json:"connectTimeoutInSeconds,omitempty"`
}

// Job is the hub's JobResponse: the request as the hub keeps it, its
// status and its per-device statistics. EndTime is zero until it ends.
type Job struct {
	JobID                     string               `json:"jobId"`
	Type                      string               `json:"type"`
	Status                    string               `json:"status"`
	QueryCondition            string               `json:"queryCondition"`
	CreatedTime               time.Time            `json:"createdTime"`
	StartTime                 time.Time            `json:"startTime"`
	EndTime                   time.Time            `json:"endTime"`
	MaxExecutionTimeInSeconds int64                `json:"maxExecutionTimeInSeconds"`
	UpdateTwin                *Twin                `json:"updateTwin,omitempty"`
	CloudToDeviceMethod       *CloudToDeviceMethod `json:"cloudToDeviceMethod,omitempty"`
	FailureReason             string               `json:"failureReason,omitempty"`
	StatusMessage             string               `json:"statusMessage,omitempty"`
	DeviceJobStatistics       DeviceJobStatistics  `json:"deviceJobStatistics"`
}

// Ended reports whether the job has reached a final status.
func (j *Job) Ended() bool {
	switch j.Status {
	case JobStatusCompleted, JobStatusFailed, JobStatusCancelled:
		return true
	}
	return false
}

// DeviceJobStatistics counts a job's devices by their progress.
type DeviceJobStatistics struct {
	DeviceCount    int `json:"deviceCount"`
	FailedCount    int `json:"failedCount"`
	SucceededCount int `json:"succeededCount"`
	RunningCount   int `json:"runningCount"`
	PendingCount   int `json:"pendingCount"`
}
