package emulator

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/hubspec/hubspec/hub"
)

// itemTypeJob is the x-ms-item-type of a job query's pages (the service
// API's QueryResult type "jobResponse").
const itemTypeJob = "jobResponse"

// putJob is PUT /jobs/v2/{id}: it creates a job and answers it, queued (or
// scheduled, when its start time is ahead).
func (h *restHandler) putJob(r *http.Request, ids []string) (restResult, error) {
	body, err := readBody(r)
	if err != nil {
		return restResult{}, err
	}
	req, err := parseJobRequest(ids[0], body)
	if err != nil {
		return restResult{}, err
	}
	v, err := h.jobs.create(req)
	if err != nil {
		return restResult{}, err
	}
	return jsonResult(v, "")
}

func (h *restHandler) getJob(_ *http.Request, ids []string) (restResult, error) {
	v, err := h.jobs.get(ids[0])
	if err != nil {
		return restResult{}, err
	}
	return jsonResult(v, "")
}

func (h *restHandler) cancelJob(_ *http.Request, ids []string) (restResult, error) {
	v, err := h.jobs.cancelJob(ids[0])
	if err != nil {
		return restResult{}, err
	}
	return jsonResult(v, "")
}

// jobStatuses are the statuses a job query may filter on (the service
// API's JobResponse status).
var jobStatuses = []string{hub.JobStatusQueued, hub.JobStatusScheduled, hub.JobStatusRunning,
	hub.JobStatusCompleted, hub.JobStatusFailed, hub.JobStatusCancelled}

// queryJobs is GET /jobs/v2/query?jobType=&jobStatus=: the jobs of that
// type and status (either may be absent) by creation, as a JSON array in
// pages of x-ms-max-item-count with x-ms-continuation, like twin queries.
// An unknown type or status is 400 ArgumentInvalid.
func (h *restHandler) queryJobs(r *http.Request, _ []string) (restResult, error) {
	typ, status := r.URL.Query().Get("jobType"), r.URL.Query().Get("jobStatus")
	if typ != "" && typ != hub.JobTypeScheduleUpdateTwin && typ != hub.JobTypeScheduleDeviceMethod {
		return restResult{}, hub.ErrArgumentInvalid.WithMessage("jobType '%s' is not a scheduled job type.", typ)
	}
	if status != "" && !slices.Contains(jobStatuses, status) {
		return restResult{}, hub.ErrArgumentInvalid.WithMessage("jobStatus '%s' is not a job status.", status)
	}
	size, err := pageSize(r.Header.Get("x-ms-max-item-count"))
	if err != nil {
		return restResult{}, err
	}
	after, err := decodeJobContinuation(r.Header.Get("x-ms-continuation"))
	if err != nil {
		return restResult{}, err
	}
	page, last, more := h.jobs.query(typ, status, after, size)
	items := make([][]byte, 0, len(page))
	for _, v := range page {
		b, err := marshalJSON(v)
		if err != nil {
			return restResult{}, err
		}
		items = append(items, b)
	}
	hdr := http.Header{}
	hdr.Set("x-ms-item-type", itemTypeJob)
	if more {
		hdr.Set("x-ms-continuation", encodeJobContinuation(last))
	}
	return restResult{status: http.StatusOK, body: jsonArray(items), header: hdr}, nil
}

// query answers at most size jobs of that type and status created after
// the job numbered after, the number of the last one, and whether more
// follow. Jobs forgotten between pages never shift the others.
func (js *jobs) query(typ, status string, after uint64, size int) (page []jobView, last uint64, more bool) {
	js.mu.Lock()
	defer js.mu.Unlock()
	for _, j := range js.order {
		if j.seq <= after || typ != "" && j.typ != typ || status != "" && j.status != status {
			continue
		}
		if len(page) == size {
			return page, last, true
		}
		page, last = append(page, j.view()), j.seq
	}
	return page, last, false
}

// A job query's continuation token is the number of the last job answered.
type jobContinuation struct {
	After uint64 `json:"a"`
}

func encodeJobContinuation(after uint64) string {
	b, _ := json.Marshal(jobContinuation{After: after})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeJobContinuation(token string) (uint64, error) {
	if token == "" {
		return 0, nil
	}
	var c jobContinuation
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil {
		return 0, hub.ErrArgumentInvalid.WithMessage("The continuation token is not one this hub gave for a job query.")
	}
	return c.After, nil
}
