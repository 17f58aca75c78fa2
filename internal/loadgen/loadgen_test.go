package loadgen_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/hub/service"
	"github.com/hubspec/hubspec/internal/loadgen"
)

// embedded starts an emulator for one test and its registry client.
func embedded(t *testing.T) (*harness.Embedded, *service.RegistryClient) {
	t.Helper()
	target, err := harness.StartEmbedded(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Close() })
	reg, err := service.NewRegistryClient(target.ServiceConnectionString(), target.RegistryOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	return target, reg
}

// leftovers are the devices under prefix still on the hub.
func leftovers(t *testing.T, reg *service.RegistryClient, prefix string) []string {
	t.Helper()
	devices, err := reg.ListDevices(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, d := range devices {
		if strings.HasPrefix(d.DeviceID, prefix) {
			left = append(left, d.DeviceID)
		}
	}
	return left
}

func TestRunMeasuresEveryPhaseAndCleansUp(t *testing.T) {
	target, reg := embedded(t)
	cfg := loadgen.Config{Prefix: harness.NewRun(target).Prefix, Devices: 10, ModulesPerDevice: 2, Concurrency: 4, Patches: 3}
	rep, err := loadgen.Run(context.Background(), target, cfg)
	if err != nil {
		t.Fatalf("Run: %v (report %+v)", err, rep)
	}
	const identities, creates, patches = 20, 30, 20 * 3
	switch {
	case rep.Errors.Total() != 0:
		t.Fatalf("errors %+v: %q", rep.Errors, rep.Samples)
	case rep.Identities != identities || rep.Registry.Count != creates || rep.Connect.Count != identities || rep.Connect.Latency.Count != identities:
		t.Errorf("identities %d, creates %d, connects %d (%d timed): want %d, %d, %d",
			rep.Identities, rep.Registry.Count, rep.Connect.Count, rep.Connect.Latency.Count, identities, creates, identities)
	case rep.DesiredPatch.Count != patches || rep.ReportedPatch.Count != patches:
		t.Errorf("desired %d, reported %d patches: want %d each", rep.DesiredPatch.Count, rep.ReportedPatch.Count, patches)
	case rep.Cleanup.Count != 10:
		t.Errorf("cleanup deleted %d devices, want 10", rep.Cleanup.Count)
	}
	for name, r := range map[string]loadgen.Rate{"registry": rep.Registry, "connect": rep.Connect.Rate, "cleanup": rep.Cleanup} {
		if r.Seconds <= 0 || r.PerSecond <= 0 {
			t.Errorf("%s rate %+v: want positive seconds and rate", name, r)
		}
	}
	for name, l := range map[string]loadgen.Latency{"connect": rep.Connect.Latency, "desired": rep.DesiredPatch, "reported": rep.ReportedPatch} {
		if l.P50 <= 0 || l.P50 > l.P90 || l.P90 > l.P99 || l.P99 > l.Max {
			t.Errorf("%s latency %+v: want 0 < p50 <= p90 <= p99 <= max", name, l)
		}
	}
	if left := leftovers(t, reg, cfg.Prefix); len(left) > 0 {
		t.Errorf("left on the hub: %q", left)
	}
}

func TestRunCancelledMidwayStillCleansUp(t *testing.T) {
	target, reg := embedded(t)
	cfg := loadgen.Config{Prefix: harness.NewRun(target).Prefix, Devices: 40, ModulesPerDevice: 1, Concurrency: 2, Patches: 1}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // Ctrl-C once the registry has taken a few creates
		_, err := target.AwaitRegistryChange(ctx, 10)
		if err == nil {
			cancel()
		}
	}()
	rep, err := loadgen.Run(ctx, target, cfg)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want context.Canceled", err)
	}
	if rep.Cleanup.Count == 0 {
		t.Errorf("cleanup deleted nothing: %+v", rep)
	}
	if left := leftovers(t, reg, cfg.Prefix); len(left) > 0 {
		t.Errorf("left on the hub after the cancel: %q", left)
	}
}

func TestRunCountsThrottlingAndFailures(t *testing.T) {
	target, reg := embedded(t)
	cfg := loadgen.Config{Prefix: harness.NewRun(target).Prefix, Devices: 3, Concurrency: 3, Patches: 1}
	ctx := context.Background()
	// The second device's create is throttled once and retried; the
	// third's is refused for good.
	if err := target.FailRegistryCalls(ctx, cfg.Prefix+"-load-00002", 1, "ThrottlingException"); err != nil {
		t.Fatal(err)
	}
	if err := target.FailRegistryCalls(ctx, cfg.Prefix+"-load-00003", 1, "IotHubQuotaExceeded"); err != nil {
		t.Fatal(err)
	}
	rep, err := loadgen.Run(ctx, target, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.Throttled != 1 || rep.Errors.Create != 1 || rep.Registry.Count != 2 || rep.Connect.Count != 2 || len(rep.Samples) != 1 {
		t.Errorf("throttled %d, create errors %d (%q), creates %d, connects %d: want 1, 1, 2, 2",
			rep.Throttled, rep.Errors.Create, rep.Samples, rep.Registry.Count, rep.Connect.Count)
	}
	if rep.Cleanup.Count != 2 || rep.Errors.Cleanup != 0 {
		t.Errorf("cleanup deleted %d with %d errors: want 2 and none", rep.Cleanup.Count, rep.Errors.Cleanup)
	}
	if left := leftovers(t, reg, cfg.Prefix); len(left) > 0 {
		t.Errorf("left on the hub: %q", left)
	}
}

func TestRunHoldsTheConnections(t *testing.T) {
	target, _ := embedded(t)
	cfg := loadgen.Config{Prefix: harness.NewRun(target).Prefix, Devices: 2, Concurrency: 2, Hold: 300 * time.Millisecond}
	rep, err := loadgen.Run(context.Background(), target, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Seconds < cfg.Hold.Seconds() || rep.Connect.Count != 2 {
		t.Errorf("run of %.3fs with %d connects: want at least the hold, %s, and 2", rep.Seconds, rep.Connect.Count, cfg.Hold)
	}
}
