package emulator_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub"
)

// TestConfigurationClientPushesToAConnectedModule: the service client's
// configuration calls against the emulator, and a connected module whose
// tags bring it into a module configuration's scope receives the content
// as a desired patch.
func TestConfigurationClientPushesToAConnectedModule(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, reg, cs, opts := moduleOnEmulator(t)
	c := dialModule(t, cs, opts)

	in := hub.ConfigurationQueriesTestInput{TargetCondition: "tags.site = ", CustomMetricQueries: map[string]string{"ok": "SELECT deviceId FROM devices.modules"}}
	if res, err := reg.TestConfigurationQueries(ctx, in); err != nil || res.TargetConditionError == "" || len(res.CustomMetricQueryErrors) != 0 {
		t.Fatalf("test queries: %+v, %v", res, err)
	}
	cfg := &hub.Configuration{ID: "rate", Priority: 10, TargetCondition: "tags.site = 'x'",
		Content: &hub.ConfigurationContent{ModuleContent: map[string]any{"properties.desired.rate": 5}}}
	created, err := reg.CreateConfiguration(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.CreateConfiguration(ctx, cfg); !errors.Is(err, hub.ErrConfigurationAlreadyExists) {
		t.Fatalf("second create: %v", err)
	}
	if _, err := reg.UpdateModuleTwin(ctx, "dev1", "mod1", &hub.Twin{Tags: map[string]any{"site": "x"}}, "*"); err != nil {
		t.Fatal(err)
	}
	if p := nextPatch(t, c); p.Properties["rate"] == nil {
		t.Fatalf("patch %+v", p)
	}
	got, err := reg.GetConfiguration(ctx, "rate")
	if err != nil || got.SystemMetrics.Results["appliedCount"] != 1 || got.SystemMetrics.Results["targetedCount"] != 1 {
		t.Fatalf("get: %+v, %v", got, err)
	}
	cfg.Priority = 20
	if _, err := reg.UpdateConfiguration(ctx, cfg, "c3RhbGU="); !errors.Is(err, hub.ErrPreconditionFailed) {
		t.Fatalf("stale update: %v", err)
	}
	if _, err := reg.UpdateConfiguration(ctx, cfg, created.ETag); err != nil {
		t.Fatal(err)
	}
	if list, err := reg.ListConfigurations(ctx, 0); err != nil || len(list) != 1 || list[0].Priority != 20 {
		t.Fatalf("list: %v, %v", list, err)
	}
	if err := reg.DeleteConfiguration(ctx, "rate", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.GetConfiguration(ctx, "rate"); !errors.Is(err, hub.ErrConfigurationNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
}
