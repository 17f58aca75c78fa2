package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/service"
	"github.com/hubspec/hubspec/steps/internal/vocab"
)

// jobVocabulary are scheduled jobs (/jobs/v2): the service schedules a
// twin update or a direct method for the devices a query condition picks,
// follows the job's status and counts, and cancels it. A job's condition
// sees only the scenario's own devices, so scenarios running side by side,
// or a live hub's other devices, are never part of its jobs.
var jobVocabulary = []vocab.Def{
	step(jobs, `^the service schedules job "([^"]+)" updating the twins of devices where (.+?)(?: (in an hour))?:$`, scheduleTwinJob,
		"The service schedules a twin update job: the tags and properties.desired of the JSON twin below the step are merged into the twin of every device the condition matches, now or, with in an hour, an hour from now. A refusal is left for the next step to check.",
		"<job> the job's alias", "<condition> the WHERE clause of a twin query, e.g. tags.site = 'north'; its strings go between single quotes",
		"<when> in an hour, or nothing for now"),
	step(jobs, `^the service schedules job "([^"]+)" calling method "([^"]*)" on devices where (.+?)(?: with payload (.+?))?(?: (in an hour))?$`, scheduleMethodJob,
		"The service schedules a direct method job: the method is called, as the service calls one, on every device the condition matches, each answering within 30 s. A refusal is left for the next step to check.",
		"<job> the job's alias", "<method> the method's name", "<condition> the WHERE clause of a twin query",
		"<payload> the JSON payload; without it, none", "<when> in an hour, or nothing for now"),
	step(jobs, `^the service cancels job "([^"]+)"$`, cancelJob,
		"The service cancels the job: one that has not started never runs, a running one starts no more devices.",
		"<job> the job's alias"),
	step(jobs, `^job "([^"]+)" is (queued|scheduled|running|completed|failed|cancelled)$`, jobIs,
		"Reads the job until it has this status: a job runs on the hub's clock, so this waits for it.",
		"<job> the job's alias", "<status> queued, scheduled, running, completed, failed or cancelled"),
	step(jobs, `^job "([^"]+)" counts (\d+) devices?: (\d+) succeeded, (\d+) failed(?:, (\d+) pending)?$`, jobCounts,
		"Checks the job's device statistics: how many devices it picked, and how many succeeded, failed and (when given, else 0) are still pending.",
		"<job> the job's alias", "<devices> the devices its condition picked", "<succeeded>", "<failed>", "<pending>"),
}

// scopeCondition limits a job's condition to the scenario's devices, as
// scopeQuery does for queries.
func (w *world) scopeCondition(cond string) string {
	var ids []string
	for _, i := range w.named {
		if i.kind == "device" {
			ids = append(ids, "'"+strings.ReplaceAll(w.sc.Name(i.alias), "'", "''")+"'")
		}
	}
	return "(" + cond + ") AND deviceId IN [" + strings.Join(ids, ", ") + "]"
}

func (w *world) jobSchedule(cond, later string) service.JobSchedule {
	s := service.JobSchedule{QueryCondition: w.scopeCondition(cond)}
	if later != "" {
		s.StartTime = time.Now().Add(time.Hour)
	}
	return s
}

func scheduleTwinJob(ctx context.Context, alias, cond, later string, doc *godog.DocString) error {
	w := worldFrom(ctx)
	var update hub.Twin
	if err := json.Unmarshal([]byte(doc.Content), &update); err != nil {
		return fmt.Errorf("the twin below the step is not a JSON twin: %w", err)
	}
	_, err := w.registry.ScheduleTwinUpdate(ctx, w.sc.Name(alias), w.jobSchedule(cond, later), update)
	return w.scheduled(err)
}

func scheduleMethodJob(ctx context.Context, alias, method, cond, payload, later string) error {
	w := worldFrom(ctx)
	call := service.MethodRequest{MethodName: method, ResponseTimeout: 30 * time.Second}
	if payload != "" {
		if !json.Valid([]byte(payload)) {
			return fmt.Errorf("payload %s is not JSON", payload)
		}
		call.Payload = json.RawMessage(payload)
	}
	_, err := w.registry.ScheduleDeviceMethod(ctx, w.sc.Name(alias), w.jobSchedule(cond, later), call)
	return w.scheduled(err)
}

// scheduled records a refusal for a later "the hub refuses" step. Jobs
// are not cleaned up: a hub keeps them 30 days, and a job can only name
// the scenario's devices, which are deleted when it ends.
func (w *world) scheduled(err error) error {
	if err != nil {
		return w.refused(err)
	}
	return nil
}

func cancelJob(ctx context.Context, alias string) error {
	w := worldFrom(ctx)
	if _, err := w.registry.CancelJob(ctx, w.sc.Name(alias)); err != nil {
		return w.refused(err)
	}
	return nil
}

// awaitJob reads the job until check accepts it.
func (w *world) awaitJob(ctx context.Context, alias string, check func(*hub.Job) error) error {
	return Eventually(ctx, settleWithin, func(ctx context.Context) error {
		j, err := w.registry.GetJob(ctx, w.sc.Name(alias))
		if err != nil {
			return err
		}
		return check(j)
	})
}

func jobIs(ctx context.Context, alias, status string) error {
	return worldFrom(ctx).awaitJob(ctx, alias, func(j *hub.Job) error {
		if j.Status != status {
			return fmt.Errorf("job %q is %s, want %s (%s)", alias, j.Status, status, j.StatusMessage)
		}
		return nil
	})
}

func jobCounts(ctx context.Context, alias, devices, succeeded, failed, pending string) error {
	want := hub.DeviceJobStatistics{DeviceCount: atoi(devices), SucceededCount: atoi(succeeded), FailedCount: atoi(failed), PendingCount: atoi(pending)}
	return worldFrom(ctx).awaitJob(ctx, alias, func(j *hub.Job) error {
		if got := j.DeviceJobStatistics; got != want {
			return fmt.Errorf("job %q (%s) counts %+v, want %+v", alias, j.Status, got, want)
		}
		return nil
	})
}

// atoi reads a number the step's expression already matched as digits;
// "" is 0.
func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
