package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/hubspec/hubspec/hub"
)

// Scheduled jobs (PUT/GET /jobs/v2/{id}, POST /jobs/v2/{id}/cancel, GET
// /jobs/v2/query; Microsoft's "Schedule jobs on multiple devices"): a
// twin update or a direct method for every device a query condition
// picks, from a start time on, bounded by a maximum execution time.
//
// Jobs run on the emulator's clock (Options.Now). One scheduler goroutine
// starts each job whose start time has come and ends each running job
// whose maximum execution time has passed. It wakes on a timer set from
// the clock for the next of those moments, on every job written, and
// when Server.RunDueJobs asks, which is how a test whose clock is its own
// moves a job along without waiting. Jobs live in memory only: a restart
// forgets them, even with a data dir.
type jobs struct {
	reg     *registry
	methods *methods
	now     func() time.Time
	log     *slog.Logger

	mu      sync.Mutex
	byID    map[string]*job
	order   []*job // by creation, for the job queries
	lastSeq uint64
	changed chan struct{} // closed and replaced on every change

	wake    chan struct{} // buffered for one: "look at the clock now"
	stopped context.Context
	stop    context.CancelFunc
	done    chan struct{} // the scheduler has returned
	runners sync.WaitGroup
}

// maxKeptJobs bounds the jobs kept in memory: past it, the oldest ended
// job is forgotten (a real hub keeps them 30 days), and when none has
// ended a new one is refused with 403 JobQuotaExceeded.
const maxKeptJobs = 10000

// Why a running job's context ends early.
var (
	errJobCancelled = errors.New("the job was cancelled")
	errJobTimedOut  = errors.New("the job's maxExecutionTimeInSeconds elapsed")
)

func newJobs(reg *registry, meth *methods, now func() time.Time, log *slog.Logger) *jobs {
	js := &jobs{reg: reg, methods: meth, now: now, log: log, byID: map[string]*job{},
		changed: make(chan struct{}), wake: make(chan struct{}, 1), done: make(chan struct{})}
	js.stopped, js.stop = context.WithCancel(context.Background())
	go js.schedule()
	return js
}

// close stops the scheduler and every running job, and waits for them.
func (js *jobs) close() {
	js.stop()
	<-js.done
	js.mu.Lock()
	for _, j := range js.order {
		j.stop(errHubStopping)
	}
	js.mu.Unlock()
	js.runners.Wait()
}

// poke wakes the scheduler; it never blocks.
func (js *jobs) poke() {
	select {
	case js.wake <- struct{}{}:
	default:
	}
}

// schedule is the scheduler's loop.
func (js *jobs) schedule() {
	defer close(js.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next, ok := js.tick()
		timer.Stop()
		if ok {
			timer.Reset(max(next.Sub(js.now()), 0))
		}
		select {
		case <-js.stopped.Done():
			return
		case <-js.wake:
		case <-timer.C:
		}
	}
}

// tick starts the jobs that are due and times out the ones past their
// deadline, and tells when the next of either is due.
func (js *jobs) tick() (next time.Time, ok bool) {
	js.mu.Lock()
	defer js.mu.Unlock()
	now := js.now()
	for _, j := range js.order {
		switch {
		case j.waiting() && !now.Before(j.start):
			js.startLocked(j, now)
		case j.status == hub.JobStatusRunning && !now.Before(j.deadline()):
			j.stop(errJobTimedOut)
		}
		var at time.Time
		switch {
		case j.waiting():
			at = j.start
		case j.status == hub.JobStatusRunning && j.stopping == nil:
			at = j.deadline()
		default:
			continue
		}
		if !ok || at.Before(next) {
			next, ok = at, true
		}
	}
	return next, ok
}

// changedLocked wakes whoever waits for a job to change. Caller holds js.mu.
func (js *jobs) changedLocked() {
	close(js.changed)
	js.changed = make(chan struct{})
}

// create stores a new job, queued or scheduled, and wakes the scheduler.
// A job id already used is 409.
func (js *jobs) create(req jobRequest) (jobView, error) {
	js.mu.Lock()
	defer js.mu.Unlock()
	if _, ok := js.byID[req.id]; ok {
		return jobView{}, errJobExists.WithMessage("A job with id '%s' already exists.", req.id)
	}
	if err := js.makeRoomLocked(); err != nil {
		return jobView{}, err
	}
	now := js.now()
	js.lastSeq++
	j := &job{jobRequest: req, seq: js.lastSeq, created: now, status: hub.JobStatusQueued}
	if j.start.IsZero() {
		j.start = now
	}
	if j.start.After(now) {
		j.status = hub.JobStatusScheduled
	}
	js.byID[j.id] = j
	js.order = append(js.order, j)
	js.changedLocked()
	js.poke()
	return j.view(), nil
}

// makeRoomLocked forgets the oldest ended job when maxKeptJobs are kept.
func (js *jobs) makeRoomLocked() error {
	if len(js.order) < maxKeptJobs {
		return nil
	}
	i := slices.IndexFunc(js.order, func(j *job) bool { return j.ended() })
	if i < 0 {
		return hub.ErrJobQuotaExceeded.WithMessage("The hub already has %d jobs that have not ended.", maxKeptJobs)
	}
	delete(js.byID, js.order[i].id)
	js.order = slices.Delete(js.order, i, i+1)
	return nil
}

func (js *jobs) get(id string) (jobView, error) {
	js.mu.Lock()
	defer js.mu.Unlock()
	j, ok := js.byID[id]
	if !ok {
		return jobView{}, errJobNotFound(id)
	}
	return j.view(), nil
}

func errJobNotFound(id string) error {
	return hub.ErrJobNotFound.WithMessage("The job '%s' does not exist.", id)
}

// cancelJob cancels a job that has not ended: one waiting to start never
// runs; a running one starts no more devices, and its calls in flight end
// (failed). A job that has ended is answered as it is.
func (js *jobs) cancelJob(id string) (jobView, error) {
	js.mu.Lock()
	defer js.mu.Unlock()
	j, ok := js.byID[id]
	if !ok {
		return jobView{}, errJobNotFound(id)
	}
	switch {
	case j.waiting():
		j.status, j.end = hub.JobStatusCancelled, js.now()
		js.changedLocked()
	case j.status == hub.JobStatusRunning:
		j.stop(errJobCancelled)
		j.status = hub.JobStatusCancelled // the runner sets its end time
		js.changedLocked()
	}
	return j.view(), nil
}

// await waits until the job satisfies done, and returns it.
func (js *jobs) await(ctx context.Context, id string, done func(jobView) bool) (jobView, error) {
	for {
		js.mu.Lock()
		j, ok := js.byID[id]
		var v jobView
		if ok {
			v = j.view()
		}
		changed := js.changed
		js.mu.Unlock()
		if !ok {
			return jobView{}, errJobNotFound(id)
		}
		if done(v) {
			return v, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return v, ctx.Err()
		}
	}
}

// RunDueJobs makes the job scheduler look at the clock (Options.Now) at
// once: it starts every job whose start time has come and stops every
// running job past its maximum execution time. The scheduler does so on
// its own when that moment comes on the clock it was given; a test that
// moves its own clock calls this instead of waiting.
func (s *Server) RunDueJobs() { s.jobs.poke() }

// AwaitJobStatus waits until the scheduled job has one of the statuses
// (hub.JobStatusRunning, hub.JobStatusCompleted, ...) and returns it as
// GET /jobs/v2/{id} would, or until ctx ends. An unknown job is
// hub.ErrJobNotFound.
func (s *Server) AwaitJobStatus(ctx context.Context, jobID string, statuses ...string) (*hub.Job, error) {
	v, err := s.jobs.await(ctx, jobID, func(v jobView) bool { return slices.Contains(statuses, v.Status) })
	if err != nil {
		return nil, fmt.Errorf("await job %s: %w", jobID, err)
	}
	b, err := marshalJSON(v)
	if err != nil {
		return nil, err
	}
	var j hub.Job
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, err
	}
	return &j, nil
}
