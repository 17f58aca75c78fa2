// Command hubspec-bench is the project's benchmark, what `make bench`
// runs: the feature suite's wall time, the desired patch's and the MQTT
// path's latency, memory per connection, connections held, connect and
// registry rates, each measured on the emulator and, where a plain broker
// has the same thing, on Debian's Mosquitto in the same run (package
// internal/bench says how). It makes --runs runs and prints one table of
// the medians, with the ratio emulator over Mosquitto; --json also writes
// every run.
//
// It is a developer's tool, not part of the emulator or the harness: it
// needs the emulator binary (--emulator) and Mosquitto (`make setup`
// installs Debian's).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/cucumber/godog"

	// Imported for their start-up only: no "go env" at start (package doc).
	_ "github.com/hubspec/hubspec/internal/nogotool"
	_ "github.com/hubspec/hubspec/internal/nogotool/restore"

	"github.com/hubspec/hubspec/features"
	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/internal/bench"
	"github.com/hubspec/hubspec/steps"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command line.
type options struct {
	cfg   bench.Config
	runs  int
	suite bool
	json  string
}

// errPrinted is a command-line mistake the flag package has told.
var errPrinted = errors.New("usage error, printed")

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("hubspec-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: hubspec-bench --emulator PATH [flags]\n\n"+
			"The project's benchmark (make bench): the emulator binary and Debian's Mosquitto measured side by\n"+
			"side, --runs times; prints the median of each figure and the ratio emulator / Mosquitto.\n"+
			"README.md, \"Benchmark\", says what each row measures.\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.cfg.Emulator, "emulator", "", "the iothub-emulator binary to measure, `PATH` (make bench builds it)")
	fs.StringVar(&o.cfg.Mosquitto, "mosquitto", defaultMosquitto(), "Mosquitto's broker binary, `PATH`")
	fs.IntVar(&o.runs, "runs", 3, "make `N` runs and print each figure's median")
	fs.BoolVar(&o.suite, "suite", true, "time the built-in feature suite on the embedded emulator in each run")
	fs.IntVar(&o.cfg.Connections, "connections", 2000, "hold `N` idle connections on each broker for the memory figure\n(the emulator binary takes 10000 MQTT connections at once; more wait for one to close)")
	fs.DurationVar(&o.cfg.Hold, "hold", 5*time.Second, "hold the connections `DURATION` before reading the broker's resident set")
	fs.IntVar(&o.cfg.Concurrency, "concurrency", 8, "run `N` MQTT path clients, and N load-run operations, at a time")
	fs.IntVar(&o.cfg.RoundTrips, "round-trips", 2000, "time `N` MQTT path round trips on each broker")
	fs.IntVar(&o.cfg.MessageBytes, "message-bytes", 128, "send MQTT path message bodies of `N` bytes")
	fs.IntVar(&o.cfg.Devices, "devices", 100, "load run: create `N` devices")
	fs.IntVar(&o.cfg.ModulesPerDevice, "modules-per-device", 10, "load run: give each device `M` modules, the clients of the desired patches")
	fs.IntVar(&o.cfg.Patches, "patches", 3, "load run: send each module `K` desired patches")
	fs.StringVar(&o.json, "json", "", "also write every run and the medians as JSON to `FILE`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, errPrinted // with the usage, by the flag package
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.runs < 1 {
		return o, fmt.Errorf("--runs %d: want 1 or more", o.runs)
	}
	return o, o.cfg.Check()
}

// defaultMosquitto is mosquitto on the PATH, else where Debian puts it
// (/usr/sbin, which a user's PATH may lack).
func defaultMosquitto() string {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	return "/usr/sbin/mosquitto"
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errPrinted):
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "hubspec-bench: %v\n", err)
		return 2
	}
	for _, bin := range []string{o.cfg.Emulator, o.cfg.Mosquitto} {
		if _, err := os.Stat(bin); err != nil {
			fmt.Fprintf(stderr, "hubspec-bench: %v (make bench builds the emulator; make setup installs Debian's mosquitto)\n", err)
			return 2
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	version := bench.MosquittoVersion(o.cfg.Mosquitto)
	fmt.Fprintf(stderr, "hubspec-bench: %d runs; %d connections held %s; MQTT path: %d round trips of %d-byte messages on %d clients; load run: %d modules, %d desired patches each; Mosquitto %s\n",
		o.runs, o.cfg.Connections, o.cfg.Hold, o.cfg.RoundTrips, o.cfg.MessageBytes, o.cfg.Concurrency,
		o.cfg.Devices*o.cfg.ModulesPerDevice, o.cfg.Patches, version)
	start := time.Now()
	var runs []bench.Figures
	for i := range o.runs {
		progress := func(what string) { fmt.Fprintf(stderr, "run %d/%d: %s\n", i+1, o.runs, what) }
		f, err := bench.Run(ctx, o.cfg, progress)
		if err == nil && o.suite {
			progress("feature suite on the embedded emulator")
			f.SuiteSeconds, err = timeSuite(ctx)
		}
		if err != nil {
			fmt.Fprintf(stderr, "hubspec-bench: run %d: %v\n", i+1, err)
			return 1
		}
		runs = append(runs, f)
	}
	lines := bench.Table(runs)
	fmt.Fprintf(stdout, "hubspec-bench: median of %d runs in %.0f s, Mosquitto %s; ratio = emulator / Mosquitto\n", o.runs, time.Since(start).Seconds(), version)
	if err := bench.WriteTable(stdout, lines); err != nil {
		fmt.Fprintf(stderr, "hubspec-bench: %v\n", err)
		return 1
	}
	if err := writeJSON(o, version, runs, lines); err != nil {
		fmt.Fprintf(stderr, "hubspec-bench: %v\n", err)
		return 1
	}
	return 0
}

// timeSuite runs the built-in features on an embedded emulator as `make
// bench-suite` does (steps.BenchmarkSuite: hubspec run's defaults,
// concurrency 4, random order, strict) and returns the wall time, the
// emulator's start left out.
func timeSuite(ctx context.Context) (float64, error) {
	emb, err := harness.StartEmbedded(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer emb.Close()
	opts := godog.Options{
		Format: "progress", Output: io.Discard, FS: features.FS, Paths: []string{"."},
		Strict: true, Concurrency: 4, Randomize: -1, Tags: "~@wip", DefaultContext: ctx,
	}
	start := time.Now()
	status := godog.TestSuite{Name: "hubspec-bench", ScenarioInitializer: steps.Initialize(harness.NewRun(emb)), Options: &opts}.Run()
	if status != 0 {
		return 0, fmt.Errorf("feature suite failed (status %d): run make run to see which scenario", status)
	}
	return time.Since(start).Seconds(), nil
}

// writeJSON writes the settings, every run and the medians, if --json
// names a file.
func writeJSON(o options, version string, runs []bench.Figures, lines []bench.Line) error {
	if o.json == "" {
		return nil
	}
	doc := struct {
		Mosquitto    string          `json:"mosquittoVersion"`
		Connections  int             `json:"connections"`
		HoldSeconds  float64         `json:"holdSeconds"`
		Concurrency  int             `json:"concurrency"`
		RoundTrips   int             `json:"roundTrips"`
		MessageBytes int             `json:"messageBytes"`
		Modules      int             `json:"loadModules"`
		Patches      int             `json:"loadPatches"`
		Runs         []bench.Figures `json:"runs"`
		Median       []bench.Line    `json:"median"`
	}{version, o.cfg.Connections, o.cfg.Hold.Seconds(), o.cfg.Concurrency, o.cfg.RoundTrips, o.cfg.MessageBytes,
		o.cfg.Devices * o.cfg.ModulesPerDevice, o.cfg.Patches, runs, lines}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(o.json), 0o755); err != nil {
		return err
	}
	return os.WriteFile(o.json, append(b, '\n'), 0o644)
}
