package steps_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/steps"
)

// BenchmarkSuite runs the built-in features against the embedded emulator
// with the suite's own options (godogOptions: concurrency 4, as `hubspec
// run` defaults to, random order, strict) and reports the wall time of one
// run as s/suite; the emulator's start is not counted. `make bench-suite`
// runs it three times and prints the median.
func BenchmarkSuite(b *testing.B) {
	emb, err := harness.StartEmbedded(context.Background(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { emb.Close() })
	opts := godogOptions
	opts.Output = io.Discard
	opts.Format = "progress"
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		status := godog.TestSuite{
			Name:                "hubspec-bench",
			ScenarioInitializer: steps.Initialize(harness.NewRun(emb)),
			Options:             &opts,
		}.Run()
		if status != 0 {
			b.Fatalf("feature suite failed (status %d)", status)
		}
	}
	b.ReportMetric(time.Since(start).Seconds()/float64(b.N), "s/suite")
}
