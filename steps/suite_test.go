package steps_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/internal/paralleltest"
	"github.com/hubspec/hubspec/steps"
)

// godogOptions are the suite's options; -godog.format=pretty and friends
// override them from the command line (see the Makefile's run target).
//
// The suite's runs on different hubs (TestFeatures and the runs on the
// container, on the live stand-in and on the eventually consistent hub) run
// in parallel with each other: each has a hub of its own, and a run spends
// much of its time waiting on the hub (container start-up, the network,
// the hub's timers), so together they take little more than the longest.
var godogOptions = godog.Options{
	Format:      "progress",
	Paths:       []string{"../features"},
	Strict:      true,
	Concurrency: 4,
	Randomize:   -1,
	Tags:        "~@wip", // work in progress runs only when asked for (-godog.tags=@wip)
}

func TestMain(m *testing.M) {
	godog.BindFlags("godog.", flag.CommandLine, &godogOptions)
	flag.Parse()
	paralleltest.Allow(8) // the suite's runs, all at once (see godogOptions)
	os.Exit(m.Run())
}

// TestFeatures runs every feature against the target IOTHUB_TARGET names
// (the embedded emulator by default): strict, concurrent, in random order.
func TestFeatures(t *testing.T) {
	t.Parallel() // with the suite's runs on other hubs (see godogOptions)
	ctx := context.Background()
	target, err := harness.Open(ctx, harness.ConfigFromEnv(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Close() })

	opts := godogOptions
	opts.TestingT = t
	status := godog.TestSuite{
		Name:                "hubspec",
		ScenarioInitializer: steps.Initialize(harness.NewRun(target)),
		Options:             &opts,
	}.Run()
	if status != 0 {
		t.Fatalf("feature suite failed (status %d)", status)
	}
}

// TestFeaturesFailWhenThePatchIsLost proves the suite can fail: against an
// emulator that silently drops desired-property pushes, the tutorial's
// "module receives the patch" scenarios must turn red.
func TestFeaturesFailWhenThePatchIsLost(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a patch that never comes")
	}
	t.Parallel() // its own emulator; it mostly waits
	ctx := context.Background()
	emb, err := harness.StartEmbedded(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emb.Close() })
	if err := emb.DropDesiredPushes(ctx, -1); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	status := godog.TestSuite{
		Name:                "hubspec-lost-patch",
		ScenarioInitializer: steps.Initialize(harness.NewRun(emb)),
		Options: &godog.Options{
			Format:      "pretty",
			Paths:       []string{"../features/module_twin_tutorial.feature"},
			Strict:      true,
			Concurrency: 4,
			Output:      &out,
			NoColors:    true,
		},
	}.Run()
	if status == 0 {
		t.Fatalf("suite passed against an emulator that drops desired patches:\n%s", out.String())
	}
	for _, want := range []string{"received no desired patch", "2 failed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
