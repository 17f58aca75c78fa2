package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"
)

// Scheduled jobs through Hubspec's own clients: the registry client
// schedules, the MQTT client is a device the job reaches.

// jobHub starts a hub on clock with devices "a1" and "a2" tagged site
// "a" and "b1" tagged site "b", and returns a registry client on the same
// clock (its jobs start "now" by it) and a dialler for the devices.
func jobHub(t *testing.T, clock *fakeClock) (*emulator.Server, *service.RegistryClient, func(id string) *device.Client) {
	t.Helper()
	ctx := t.Context()
	s, _ := startHubWith(t, emulator.Options{Now: clock.now})
	reg, err := service.NewRegistryClient(s.ConnectionString(), service.WithTLSConfig(s.TLSConfig()), service.WithClock(clock.now))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, id := range []string{"a1", "a2", "b1"} {
		d, err := reg.CreateDevice(ctx, &hub.Device{DeviceID: id})
		if err != nil {
			t.Fatal(err)
		}
		keys[id] = d.Authentication.SymmetricKey.PrimaryKey
		if _, err := reg.UpdateDeviceTwin(ctx, id, &hub.Twin{Tags: map[string]any{"site": id[:1]}}, "*"); err != nil {
			t.Fatal(err)
		}
	}
	dial := func(id string) *device.Client {
		t.Helper()
		dctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		cs := hub.ConnectionString{HostName: s.HostName(), DeviceID: id, SharedAccessKey: keys[id]}.String()
		c, err := device.DialDevice(dctx, cs, device.WithTLSConfig(s.TLSConfig()), device.WithAddress(s.MQTTAddr()), device.WithTokenTime(clock.now))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	return s, reg, dial
}

func awaitJob(t *testing.T, s *emulator.Server, id string, statuses ...string) *hub.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	j, err := s.AwaitJobStatus(ctx, id, statuses...)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func siteA() service.JobSchedule { return service.JobSchedule{QueryCondition: "tags.site = 'a'"} }

// TestTwinJobUpdatesMatchingTwins: a twin job started now merges its tags
// and desired properties into every twin its condition matches, pushes the
// desired patch to a connected device, and leaves the others alone.
func TestTwinJobUpdatesMatchingTwins(t *testing.T) {
	clock := &fakeClock{at: time.Now()}
	s, reg, dial := jobHub(t, clock)
	c := dial("a1")
	ctx := t.Context()
	created, err := reg.ScheduleTwinUpdate(ctx, "twins-1", siteA(), hub.Twin{Tags: map[string]any{"floor": 3},
		Properties: &hub.TwinProperties{Desired: map[string]any{"interval": 5}}})
	if err != nil {
		t.Fatal(err)
	}
	if created.Status != hub.JobStatusQueued || created.Type != hub.JobTypeScheduleUpdateTwin || created.QueryCondition != "tags.site = 'a'" {
		t.Fatalf("created %+v", created)
	}
	done := awaitJob(t, s, "twins-1", hub.JobStatusCompleted)
	want := hub.DeviceJobStatistics{DeviceCount: 2, SucceededCount: 2}
	if done.DeviceJobStatistics != want || done.EndTime.IsZero() {
		t.Fatalf("completed job %+v, want statistics %+v and an end time", done, want)
	}
	for id, touched := range map[string]bool{"a1": true, "a2": true, "b1": false} {
		twin, err := reg.GetDeviceTwin(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got := twin.Properties.Desired["interval"] != nil && twin.Tags["floor"] != nil; got != touched {
			t.Errorf("twin %s: tags %v desired %v, updated %v, want %v", id, twin.Tags, twin.Properties.Desired, got, touched)
		}
	}
	select {
	case p := <-c.DesiredPatches():
		if p.Properties["interval"] != float64(5) {
			t.Errorf("a1 got %+v", p)
		}
	case <-time.After(wait):
		t.Fatal("a1 got no desired patch")
	}
}

// TestJobWaitsForItsStartTime: a job whose start time is ahead is
// scheduled, and runs once the hub's clock reaches it.
func TestJobWaitsForItsStartTime(t *testing.T) {
	clock := &fakeClock{at: time.Now()}
	s, reg, _ := jobHub(t, clock)
	sched := siteA()
	sched.StartTime = clock.now().Add(time.Hour)
	j, err := reg.ScheduleTwinUpdate(t.Context(), "later", sched, hub.Twin{Tags: map[string]any{"x": 1}})
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != hub.JobStatusScheduled {
		t.Fatalf("status %s, want scheduled", j.Status)
	}
	s.RunDueJobs()
	if j, err = reg.GetJob(t.Context(), "later"); err != nil || j.Status != hub.JobStatusScheduled {
		t.Fatalf("before its start time: %+v %v", j, err)
	}
	clock.advance(time.Hour)
	s.RunDueJobs()
	if j = awaitJob(t, s, "later", hub.JobStatusCompleted); j.DeviceJobStatistics.SucceededCount != 2 {
		t.Fatalf("%+v", j)
	}
}

// TestMethodJobCountsEachDevice: a method job reaches the connected
// device, which answers, and fails on the one that is offline; while the
// answer is awaited the job is running with one device running.
func TestMethodJobCountsEachDevice(t *testing.T) {
	clock := &fakeClock{at: time.Now()}
	s, reg, dial := jobHub(t, clock)
	c := dial("a1")
	release := make(chan struct{})
	got := make(chan device.MethodRequest, 1)
	c.HandleMethod("reboot", func(_ context.Context, req device.MethodRequest) (int, any) {
		got <- req
		select {
		case <-release:
		case <-time.After(wait):
		}
		return 200, map[string]any{"ok": true}
	})
	_, err := reg.ScheduleDeviceMethod(t.Context(), "reboot-a", siteA(),
		service.MethodRequest{MethodName: "reboot", Payload: json.RawMessage(`{"delay":1}`), ResponseTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case req := <-got:
		if string(req.Payload) != `{"delay":1}` {
			t.Errorf("payload %s", req.Payload)
		}
	case <-time.After(wait):
		t.Fatal("the job never called a1")
	}
	running := awaitJob(t, s, "reboot-a", hub.JobStatusRunning)
	if running.DeviceJobStatistics.DeviceCount != 2 || running.EndTime.IsZero() == false {
		t.Errorf("running %+v", running)
	}
	close(release)
	done := awaitJob(t, s, "reboot-a", hub.JobStatusCompleted)
	want := hub.DeviceJobStatistics{DeviceCount: 2, SucceededCount: 1, FailedCount: 1}
	if done.DeviceJobStatistics != want || done.CloudToDeviceMethod == nil || done.CloudToDeviceMethod.MethodName != "reboot" {
		t.Fatalf("done %+v, want %+v", done, want)
	}
}

// TestJobStopsAtItsMaxExecutionTime: a device that never answers holds
// the job until its maximum execution time passes on the hub's clock;
// the job then completes with the device failed.
func TestJobStopsAtItsMaxExecutionTime(t *testing.T) {
	clock := &fakeClock{at: time.Now()}
	s, reg, dial := jobHub(t, clock)
	c := dial("b1")
	called := make(chan struct{}, 1)
	c.HandleMethod("hang", func(ctx context.Context, _ device.MethodRequest) (int, any) {
		called <- struct{}{}
		<-ctx.Done()
		return 500, nil
	})
	sched := service.JobSchedule{QueryCondition: "deviceId = 'b1'", MaxExecution: time.Minute}
	if _, err := reg.ScheduleDeviceMethod(t.Context(), "hang-b", sched, service.MethodRequest{MethodName: "hang", ResponseTimeout: 300 * time.Second}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-called:
	case <-time.After(wait):
		t.Fatal("the job never called b1")
	}
	clock.advance(time.Minute)
	s.RunDueJobs()
	done := awaitJob(t, s, "hang-b", hub.JobStatusCompleted)
	if want := (hub.DeviceJobStatistics{DeviceCount: 1, FailedCount: 1}); done.DeviceJobStatistics != want || done.StatusMessage == "" {
		t.Fatalf("done %+v, want %+v and a status message", done, want)
	}
}

// TestCancelledJobNeverRuns: a job cancelled before its start time stays
// cancelled when the time comes, and changes no twin.
func TestCancelledJobNeverRuns(t *testing.T) {
	clock := &fakeClock{at: time.Now()}
	s, reg, _ := jobHub(t, clock)
	ctx := t.Context()
	sched := siteA()
	sched.StartTime = clock.now().Add(time.Minute)
	if _, err := reg.ScheduleTwinUpdate(ctx, "never", sched, hub.Twin{Tags: map[string]any{"never": true}}); err != nil {
		t.Fatal(err)
	}
	j, err := reg.CancelJob(ctx, "never")
	if err != nil || j.Status != hub.JobStatusCancelled || j.EndTime.IsZero() {
		t.Fatalf("cancel: %+v %v", j, err)
	}
	clock.advance(time.Hour)
	s.RunDueJobs()
	// A job scheduled after it runs: when it has completed, the scheduler
	// has passed the cancelled one.
	if _, err := reg.ScheduleTwinUpdate(ctx, "after", siteA(), hub.Twin{Tags: map[string]any{"after": true}}); err != nil {
		t.Fatal(err)
	}
	awaitJob(t, s, "after", hub.JobStatusCompleted)
	if j, err = reg.GetJob(ctx, "never"); err != nil || j.Status != hub.JobStatusCancelled || j.DeviceJobStatistics.DeviceCount != 0 {
		t.Fatalf("%+v %v", j, err)
	}
	twin, err := reg.GetDeviceTwin(ctx, "a1")
	if err != nil || twin.Tags["never"] != nil {
		t.Fatalf("twin %+v %v", twin, err)
	}
}

// TestJobRefusals: what the hub refuses, in its error shape, creating
// nothing.
func TestJobRefusals(t *testing.T) {
	clock := &fakeClock{at: time.Now()}
	_, reg, _ := jobHub(t, clock)
	ctx := t.Context()
	tags := hub.Twin{Tags: map[string]any{"x": 1}}
	if _, err := reg.ScheduleTwinUpdate(ctx, "dup", siteA(), tags); err != nil {
		t.Fatal(err)
	}
	var conflict *hub.Error
	if _, err := reg.ScheduleTwinUpdate(ctx, "dup", siteA(), tags); !errors.As(err, &conflict) || conflict.StatusCode != 409 {
		t.Errorf("a second job dup: %v, want 409", err)
	}
	for _, tc := range []struct {
		name string
		id   string
		s    service.JobSchedule
		twin hub.Twin
		want *hub.Error
	}{
		{"bad id", "no_underscores", siteA(), tags, hub.ErrArgumentInvalid},
		{"long id", string(make([]byte, 65)), siteA(), tags, hub.ErrArgumentInvalid},
		{"no condition", "j1", service.JobSchedule{}, tags, hub.ErrArgumentNull},
		{"bad condition", "j2", service.JobSchedule{QueryCondition: "tags.site = "}, tags, hub.ErrArgumentInvalid},
		{"nothing to update", "j3", siteA(), hub.Twin{}, hub.ErrArgumentInvalid},
		{"negative max execution", "j4", service.JobSchedule{QueryCondition: "*", MaxExecution: -time.Second}, tags, hub.ErrArgumentInvalid},
	} {
		if _, err := reg.ScheduleTwinUpdate(ctx, tc.id, tc.s, tc.twin); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := reg.ScheduleDeviceMethod(ctx, "m1", siteA(), service.MethodRequest{MethodName: "a b"}); !errors.Is(err, hub.ErrArgumentInvalid) {
		t.Errorf("bad method name: %v", err)
	}
	if _, err := reg.GetJob(ctx, "nope"); !errors.Is(err, hub.ErrJobNotFound) {
		t.Errorf("get unknown: %v", err)
	}
	if _, err := reg.CancelJob(ctx, "nope"); !errors.Is(err, hub.ErrJobNotFound) {
		t.Errorf("cancel unknown: %v", err)
	}
	n := 0
	for _, err := range reg.QueryJobs(ctx, "", "", 0) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1 {
		t.Errorf("%d jobs kept, want only dup", n)
	}
}

// TestQueryJobs: the job queries filter by type and status and page by
// x-ms-max-item-count and x-ms-continuation.
func TestQueryJobs(t *testing.T) {
	clock := &fakeClock{at: time.Now()}
	s, reg, _ := jobHub(t, clock)
	ctx := t.Context()
	later := siteA()
	later.StartTime = clock.now().Add(time.Hour)
	for _, id := range []string{"q1", "q2", "q3"} {
		if _, err := reg.ScheduleTwinUpdate(ctx, id, later, hub.Twin{Tags: map[string]any{"q": id}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := reg.ScheduleDeviceMethod(ctx, "q4", siteA(), service.MethodRequest{MethodName: "m"}); err != nil {
		t.Fatal(err)
	}
	awaitJob(t, s, "q4", hub.JobStatusCompleted)
	page, err := reg.QueryJobsPage(ctx, hub.JobTypeScheduleUpdateTwin, hub.JobStatusScheduled, 2, "")
	if err != nil || len(page.Jobs) != 2 || page.Jobs[0].JobID != "q1" || page.ContinuationToken == "" {
		t.Fatalf("first page %+v %v", page, err)
	}
	if page, err = reg.QueryJobsPage(ctx, hub.JobTypeScheduleUpdateTwin, hub.JobStatusScheduled, 2, page.ContinuationToken); err != nil || len(page.Jobs) != 1 || page.Jobs[0].JobID != "q3" || page.ContinuationToken != "" {
		t.Fatalf("second page %+v %v", page, err)
	}
	var ids []string
	for j, err := range reg.QueryJobs(ctx, hub.JobTypeScheduleDeviceMethod, "", 0) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.JobID)
	}
	if len(ids) != 1 || ids[0] != "q4" {
		t.Errorf("method jobs %v", ids)
	}
	if _, err := reg.QueryJobsPage(ctx, "export", "", 0, ""); !errors.Is(err, hub.ErrArgumentInvalid) {
		t.Errorf("unknown type: %v", err)
	}
}

// TestJobsNeedServiceConnect: registryReadWrite cannot schedule or read
// jobs; service can.
func TestJobsNeedServiceConnect(t *testing.T) {
	clock := &fakeClock{at: time.Now()}
	s, _, _ := jobHub(t, clock)
	for policy, ok := range map[string]bool{"registryReadWrite": false, "service": true} {
		cs, err := s.PolicyConnectionString(policy)
		if err != nil {
			t.Fatal(err)
		}
		reg, err := service.NewRegistryClient(cs, service.WithTLSConfig(s.TLSConfig()))
		if err != nil {
			t.Fatal(err)
		}
		_, err = reg.ScheduleTwinUpdate(t.Context(), "by-"+policy, siteA(), hub.Twin{Tags: map[string]any{"x": 1}})
		if (err == nil) != ok || !ok && !errors.Is(err, hub.ErrUnauthorized) {
			t.Errorf("%s: %v", policy, err)
		}
	}
}
