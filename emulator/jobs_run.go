package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/internal/iotquery"
)

// jobWorkers is how many of a job's devices run at once: "individual
// devices run the job concurrently" on a real hub; the bound is ours.
const jobWorkers = 16

// job is a scheduled job and its progress. Its fields are guarded by
// jobs.mu.
type job struct {
	jobRequest
	seq           uint64 // creation order, for the job queries' pages
	created, end  time.Time
	runningSince  time.Time
	status        string
	statusMessage string
	stats         hub.DeviceJobStatistics
	cancel        context.CancelCauseFunc // while it runs
	stopping      error                   // why it was told to stop; nil while it may run on
}

// waiting reports whether the job waits for its start time.
func (j *job) waiting() bool {
	return j.status == hub.JobStatusQueued || j.status == hub.JobStatusScheduled
}

func (j *job) ended() bool { return !j.waiting() && j.cancel == nil }

// deadline is when a running job is stopped: maxExecutionTimeInSeconds
// after it started running.
func (j *job) deadline() time.Time { return j.runningSince.Add(j.maxExec) }

// stop tells a running job to stop, for the first reason given.
func (j *job) stop(cause error) {
	if j.cancel != nil && j.stopping == nil {
		j.stopping = cause
		j.cancel(cause)
	}
}

// jobView is a job as the hub answers it (azure-iot-hub's JobResponse).
type jobView struct {
	JobID                     string                  `json:"jobId"`
	QueryCondition            string                  `json:"queryCondition"`
	CreatedTime               string                  `json:"createdTime"`
	StartTime                 string                  `json:"startTime"`
	EndTime                   string                  `json:"endTime,omitempty"`
	MaxExecutionTimeInSeconds int64                   `json:"maxExecutionTimeInSeconds"`
	Type                      string                  `json:"type"`
	CloudToDeviceMethod       json.RawMessage         `json:"cloudToDeviceMethod,omitempty"`
	UpdateTwin                json.RawMessage         `json:"updateTwin,omitempty"`
	Status                    string                  `json:"status"`
	StatusMessage             string                  `json:"statusMessage,omitempty"`
	DeviceJobStatistics       hub.DeviceJobStatistics `json:"deviceJobStatistics"`
}

func jobTime(t time.Time) string { return t.UTC().Format(hub.MetadataTimeFormat) }

// view copies the job for its answer. Caller holds jobs.mu.
func (j *job) view() jobView {
	v := jobView{JobID: j.id, QueryCondition: j.queryCondition, CreatedTime: jobTime(j.created),
		StartTime: jobTime(j.start), MaxExecutionTimeInSeconds: int64(j.maxExec / time.Second), Type: j.typ,
		CloudToDeviceMethod: j.methodJSON, UpdateTwin: j.updateTwin, Status: j.status,
		StatusMessage: j.statusMessage, DeviceJobStatistics: j.stats}
	if j.ended() {
		v.EndTime = jobTime(j.end)
	}
	return v
}

// startLocked picks the job's devices, as its query condition matches them
// now (devices created later are not part of it), and runs it. Caller
// holds js.mu.
func (js *jobs) startLocked(j *job, now time.Time) {
	ids := js.reg.matchingDevices(j.where)
	ctx, cancel := context.WithCancelCause(context.Background())
	j.status, j.runningSince, j.cancel = hub.JobStatusRunning, now, cancel
	j.stats = hub.DeviceJobStatistics{DeviceCount: len(ids), PendingCount: len(ids)}
	js.changedLocked()
	js.runners.Add(1)
	go js.run(ctx, j, ids)
}

// run runs the job on its devices, jobWorkers at a time, until every one
// has run or the job is stopped; devices not started by then stay pending
// (cancelled) or fail (timed out).
func (js *jobs) run(ctx context.Context, j *job, ids []string) {
	defer js.runners.Done()
	work := make(chan string)
	var wg sync.WaitGroup
	for range min(jobWorkers, len(ids)) {
		wg.Go(func() {
			for id := range work {
				js.runDevice(ctx, j, id)
			}
		})
	}
feed:
	for _, id := range ids {
		select {
		case work <- id:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	js.finish(j)
}

// runDevice runs the job on one device and counts the outcome.
func (js *jobs) runDevice(ctx context.Context, j *job, deviceID string) {
	if ctx.Err() != nil {
		return // stopped while this device waited its turn: it never starts
	}
	js.count(j, func(s *hub.DeviceJobStatistics) { s.PendingCount--; s.RunningCount++ })
	err := js.apply(ctx, j, deviceID)
	if err != nil {
		js.log.Debug("job failed on a device", "job", j.id, "device", deviceID, "error", err)
	}
	js.count(j, func(s *hub.DeviceJobStatistics) {
		s.RunningCount--
		if err != nil {
			s.FailedCount++
		} else {
			s.SucceededCount++
		}
	})
}

// apply is the job's work on one device: a twin job merges its update into
// the device's twin as a service PATCH with etag "*" does (so a connected
// device gets the desired patch); a method job calls the method as a
// direct method call does. A call the device answered succeeded, whatever
// status it answered.
func (js *jobs) apply(ctx context.Context, j *job, deviceID string) error {
	if j.typ == hub.JobTypeScheduleUpdateTwin {
		_, err := js.reg.patchTwin(deviceID, "", j.updateTwin, precondition{})
		return err
	}
	_, err := js.methods.invoke(ctx, identity{deviceID: deviceID}, j.call)
	return err
}

func (js *jobs) count(j *job, f func(*hub.DeviceJobStatistics)) {
	js.mu.Lock()
	defer js.mu.Unlock()
	f(&j.stats)
	js.changedLocked()
}

// finish ends a job whose devices have all run or that was stopped: it
// completes, even past its maximum execution time (then the devices that
// had not run count as failed), unless it was cancelled, or failed because
// the emulator closed.
func (js *jobs) finish(j *job) {
	js.mu.Lock()
	defer js.mu.Unlock()
	j.cancel(nil)
	j.cancel, j.end = nil, js.now()
	switch {
	case errors.Is(j.stopping, errJobCancelled):
		j.status = hub.JobStatusCancelled
	case errors.Is(j.stopping, errJobTimedOut):
		j.status, j.statusMessage = hub.JobStatusCompleted, "maxExecutionTimeInSeconds elapsed before every device had run the job."
		j.stats.FailedCount += j.stats.PendingCount
		j.stats.PendingCount = 0
	case j.stopping != nil:
		j.status, j.statusMessage = hub.JobStatusFailed, "The IoT hub is shutting down."
	default:
		j.status = hub.JobStatusCompleted
	}
	js.changedLocked()
}

// matchingDevices lists the ids of the devices whose twin matches q, in
// the order of queries.
func (r *registry) matchingDevices(q *iotquery.Query) []string {
	var ids []string
	_ = r.locked(func() error {
		for _, c := range r.candidates(iotquery.Devices) {
			if q.Match(c.view) {
				ids = append(ids, c.key[0])
			}
		}
		return nil
	})
	return ids
}
