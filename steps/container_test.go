package steps_test

import (
	"context"
	"testing"
	"time"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/internal/containertest"
	"github.com/hubspec/hubspec/steps"
)

// TestFeaturesOnContainer runs every feature against the emulator image in
// a container, so `go test ./...` proves the shipped image passes the very
// suite the embedded emulator passes. Without a Docker engine or the image
// it skips and says so; with HUBSPEC_REQUIRE_DOCKER set (CI) that is a
// failure instead.
//
// The image is IOTHUB_EMULATOR_IMAGE or harness.DefaultEmulatorImage, built
// by `make image` (make test builds it first); one built from other sources
// than this checkout fails the test (containertest.Image).
func TestFeaturesOnContainer(t *testing.T) {
	cfg := harness.ConfigFromEnv()
	if cfg.Target == "container" {
		t.Skip("IOTHUB_TARGET=container: TestFeatures already runs the suite on the container")
	}
	t.Parallel() // with the suite's other runs (see godogOptions)
	cfg.Image = containertest.Image(t)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	cfg.Target = "container"
	target, err := harness.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := target.Close(); err != nil {
			t.Errorf("close the container target: %v", err)
		}
	})
	t.Logf("container target ready in %s", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	opts := godogOptions
	opts.TestingT = t
	status := godog.TestSuite{
		Name:                "hubspec-container",
		ScenarioInitializer: steps.Initialize(harness.NewRun(target)),
		Options:             &opts,
	}.Run()
	t.Logf("feature suite on the container target took %s", time.Since(start).Round(time.Millisecond))
	if status != 0 {
		t.Fatalf("feature suite failed on the container target (status %d)", status)
	}
}
