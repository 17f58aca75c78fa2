package service

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hubspec/hubspec/hub"
)

// JobSchedule says which devices a scheduled job runs on and when: the
// devices whose twins match QueryCondition (the WHERE clause of a twin
// query, e.g. "tags.site = 'x'"), from StartTime (zero: now) on, for at
// most MaxExecution (0: the hub's default; whole seconds).
type JobSchedule struct {
	QueryCondition string
	StartTime      time.Time
	MaxExecution   time.Duration
}

// ScheduleTwinUpdate creates a job (PUT /jobs/v2/{id}) that merges the
// tags and desired properties of update into the twin of every device the
// schedule picks, as a twin PATCH with etag "*" does. It returns the job
// as the hub created it, queued or scheduled.
func (c *RegistryClient) ScheduleTwinUpdate(ctx context.Context, jobID string, s JobSchedule, update hub.Twin) (*hub.Job, error) {
	update.ETag = "*"
	req := c.jobRequest(jobID, hub.JobTypeScheduleUpdateTwin, s)
	req.UpdateTwin = &update
	return c.scheduleJob(ctx, req)
}

// ScheduleDeviceMethod creates a job that calls a direct method on every
// device the schedule picks, each call as InvokeDeviceMethod makes it.
func (c *RegistryClient) ScheduleDeviceMethod(ctx context.Context, jobID string, s JobSchedule, call MethodRequest) (*hub.Job, error) {
	req := c.jobRequest(jobID, hub.JobTypeScheduleDeviceMethod, s)
	req.CloudToDeviceMethod = &hub.CloudToDeviceMethod{MethodName: call.MethodName, Payload: call.Payload,
		ResponseTimeoutInSeconds: deref(seconds(call.ResponseTimeout)), ConnectTimeoutInSeconds: deref(seconds(call.ConnectTimeout))}
	return c.scheduleJob(ctx, req)
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// jobRequest is the body both kinds of job share; a zero start time is
// the client's now, as the Node SDK sends it.
func (c *RegistryClient) jobRequest(jobID, typ string, s JobSchedule) hub.JobRequest {
	start := s.StartTime
	if start.IsZero() {
		start = c.now()
	}
	return hub.JobRequest{JobID: jobID, Type: typ, QueryCondition: s.QueryCondition,
		StartTime: start.UTC(), MaxExecutionTimeInSeconds: deref(seconds(s.MaxExecution))}
}

func (c *RegistryClient) scheduleJob(ctx context.Context, req hub.JobRequest) (*hub.Job, error) {
	if err := checkIDs(req.JobID); err != nil {
		return nil, fmt.Errorf("schedule job: %w", err)
	}
	var out hub.Job
	err := c.do(ctx, restCall{method: http.MethodPut, path: jobPath(req.JobID), body: req, ok: []int{200}, out: &out})
	if err != nil {
		return nil, fmt.Errorf("schedule %s job %s: %w", req.Type, req.JobID, err)
	}
	return &out, nil
}

func jobPath(id string) string { return "/jobs/v2/" + escapeID(id) }

// GetJob reads a job (GET /jobs/v2/{id}): its status and device
// statistics. An unknown job is hub.ErrJobNotFound.
func (c *RegistryClient) GetJob(ctx context.Context, jobID string) (*hub.Job, error) {
	var out hub.Job
	if err := c.get(ctx, jobPath(jobID), &out, jobID); err != nil {
		return nil, fmt.Errorf("get job %s: %w", jobID, err)
	}
	return &out, nil
}

// CancelJob cancels a job (POST /jobs/v2/{id}/cancel) and returns it: a
// job that has not started never runs; a running one starts no more
// devices.
func (c *RegistryClient) CancelJob(ctx context.Context, jobID string) (*hub.Job, error) {
	if err := checkIDs(jobID); err != nil {
		return nil, fmt.Errorf("cancel job: %w", err)
	}
	var out hub.Job
	err := c.do(ctx, restCall{method: http.MethodPost, path: jobPath(jobID) + "/cancel", ok: []int{200}, out: &out})
	if err != nil {
		return nil, fmt.Errorf("cancel job %s: %w", jobID, err)
	}
	return &out, nil
}

// JobPage is one page of a job query's answer.
type JobPage struct {
	Jobs []*hub.Job
	// ContinuationToken asks for the next page; "" on the last one.
	ContinuationToken string
}

// QueryJobsPage asks for one page of the jobs of a type and a status
// ("" for any) (GET /jobs/v2/query?jobType=&jobStatus=), pageSize at most
// (0: the hub's default), after the page continuationToken ended.
func (c *RegistryClient) QueryJobsPage(ctx context.Context, jobType, jobStatus string, pageSize int, continuationToken string) (*JobPage, error) {
	if pageSize < 0 {
		return nil, errors.New("query jobs: negative page size")
	}
	q, h := url.Values{}, http.Header{}
	if jobType != "" {
		q.Set("jobType", jobType)
	}
	if jobStatus != "" {
		q.Set("jobStatus", jobStatus)
	}
	if pageSize > 0 {
		h.Set("x-ms-max-item-count", strconv.Itoa(pageSize))
	}
	if continuationToken != "" {
		h.Set("x-ms-continuation", continuationToken)
	}
	var got http.Header
	var jobs []*hub.Job
	err := c.do(ctx, restCall{method: http.MethodGet, path: "/jobs/v2/query", query: q, headers: h, gotHeader: &got, ok: []int{200}, out: &jobs})
	if err != nil {
		return nil, fmt.Errorf("query jobs: %w", err)
	}
	return &JobPage{Jobs: jobs, ContinuationToken: got.Get("x-ms-continuation")}, nil
}

// QueryJobs yields every job of a type and a status ("" for any), asking
// for the pages as the loop consumes them. An error is yielded once, with
// a nil job, and ends the loop.
func (c *RegistryClient) QueryJobs(ctx context.Context, jobType, jobStatus string, pageSize int) iter.Seq2[*hub.Job, error] {
	return func(yield func(*hub.Job, error) bool) {
		token := ""
		for {
			page, err := c.QueryJobsPage(ctx, jobType, jobStatus, pageSize, token)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, j := range page.Jobs {
				if !yield(j, nil) {
					return
				}
			}
			if token = page.ContinuationToken; token == "" {
				return
			}
		}
	}
}
