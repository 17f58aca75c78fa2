package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/internal/loadgen"
)

// loadFlags are the load command's flags; the target's settings come from
// the environment, as for run.
type loadFlags struct {
	target string
	cfg    loadgen.Config
	json   string
}

func (f *loadFlags) bind(fs *flag.FlagSet, envTarget string) {
	fs.StringVar(&f.target, "target", envTarget, "the hub to load, `TARGET`: embedded, container or live; IOTHUB_TARGET sets the default")
	fs.IntVar(&f.cfg.Devices, "devices", 100, "create `N` devices")
	fs.IntVar(&f.cfg.ModulesPerDevice, "modules-per-device", 0, "give each device `M` modules and connect the modules; 0 connects the devices")
	fs.Float64Var(&f.cfg.Ramp, "ramp", 50, "start `RATE` connects per second; 0 as fast as --concurrency allows")
	fs.DurationVar(&f.cfg.Hold, "hold", 10*time.Second, "keep the connections up `DURATION` after the last one connected, patches included")
	fs.IntVar(&f.cfg.Concurrency, "concurrency", 16, "run up to `N` registry calls, connects or patch round trips at a time")
	fs.IntVar(&f.cfg.Patches, "patches", 3, "send each identity `K` desired patches (service to client) and K reported ones")
	fs.StringVar(&f.json, "json", "", "also write the figures as JSON to `FILE` (parent directories are created)")
}

// check names the flag of a value the run cannot use.
func (f *loadFlags) check() error {
	if f.target != "embedded" && f.target != "container" && f.target != "live" {
		return fmt.Errorf("unknown target %q (from --target or IOTHUB_TARGET): want embedded, container or live", f.target)
	}
	var bad *loadgen.InvalidSetting
	if err := f.cfg.Check(); errors.As(err, &bad) {
		return fmt.Errorf("--%s %s: want %s", bad.Name, bad.Value, bad.Want)
	} else if err != nil {
		return err
	}
	return nil
}

// loadCmd puts the target under load (internal/loadgen), prints the
// figures and writes them as JSON. Its exit status says whether the run met
// errors, so CI can gate on it; throttling retried is no error.
func loadCmd(args []string, stdout, stderr io.Writer) int {
	cfg := harness.ConfigFromEnv()
	fs := newFlagSet("load", "create devices or modules on a target, connect them at a ramp, patch their\n"+
		"twins both ways, hold, and measure; everything created is deleted at the end.", stderr)
	var f loadFlags
	f.bind(fs, cfg.Target)
	if err := fs.Parse(args); err != nil {
		return parseStatus(err)
	}
	if fs.NArg() > 0 {
		return usageError(fs, "load takes no arguments, got %q", fs.Args())
	}
	if err := f.check(); err != nil {
		return usageError(fs, "%v", err)
	}
	cfg.Target = f.target

	ctx, stop := signalContext()
	defer stop()
	target, err := harness.Open(ctx, cfg, nil)
	if err != nil {
		fmt.Fprintf(stderr, "hubspec load: %v\n", err)
		return exitFailed
	}
	defer func() {
		if err := target.Close(); err != nil {
			fmt.Fprintf(stderr, "hubspec load: close the %s target: %v\n", target.Name(), err)
		}
	}()
	f.cfg.Prefix = harness.NewRun(target).Prefix
	fmt.Fprintf(stderr, "hubspec load: %s on the %s target%s, run prefix %s\n",
		identities(f.cfg), target.Name(), hostOf(target), f.cfg.Prefix)
	rep, err := loadgen.Run(ctx, target, f.cfg)
	if rep != nil {
		writeLoadTable(stdout, rep)
		if werr := writeLoadJSON(f.json, rep); werr != nil {
			fmt.Fprintf(stderr, "hubspec load: %v\n", werr)
			return exitFailed
		}
	}
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "hubspec load: %v\n", err)
		return exitFailed
	case rep.Errors.Total() > 0:
		fmt.Fprintf(stderr, "hubspec load: %s; the first: %q\n", plural(rep.Errors.Total(), "error"), rep.Samples)
		return exitFailed
	}
	return exitPassed
}

// identities says what a run connects, e.g. "1000 modules on 100 devices".
func identities(c loadgen.Config) string {
	if c.ModulesPerDevice == 0 {
		return plural(c.Devices, "device")
	}
	return fmt.Sprintf("%s on %s", plural(c.Devices*c.ModulesPerDevice, "module"), plural(c.Devices, "device"))
}

// writeLoadTable prints one row per phase: how many, how fast, how long.
func writeLoadTable(w io.Writer, r *loadgen.Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(name string, cells ...any) { // name left-aligned, figures right
		fmt.Fprintf(tw, "%-18s\t", name)
		for i := range 6 {
			if i < len(cells) {
				fmt.Fprint(tw, cells[i])
			}
			fmt.Fprint(tw, "\t")
		}
		fmt.Fprintln(tw)
	}
	perSecond := func(x loadgen.Rate) string { return fmt.Sprintf("%.1f", x.PerSecond) }
	latency := func(name string, rate string, l loadgen.Latency) {
		row(name, l.Count, rate, fmt.Sprintf("%.1f", l.P50), fmt.Sprintf("%.1f", l.P90), fmt.Sprintf("%.1f", l.P99), fmt.Sprintf("%.1f", l.Max))
	}
	row("", "count", "per s", "p50 ms", "p90 ms", "p99 ms", "max ms")
	row("registry creates", r.Registry.Count, perSecond(r.Registry))
	latency("connects", perSecond(r.Connect.Rate), r.Connect.Latency)
	latency("desired patches", "", r.DesiredPatch)
	latency("reported patches", "", r.ReportedPatch)
	row("cleanup (devices)", r.Cleanup.Count, perSecond(r.Cleanup))
	row("throttled (429)", r.Throttled)
	row("errors", r.Errors.Total())
	tw.Flush()
	e := r.Errors
	fmt.Fprintf(w, "errors by phase: create %d, connect %d, desired %d, reported %d, cleanup %d; %.1f s in all\n",
		e.Create, e.Connect, e.Desired, e.Reported, e.Cleanup, r.Seconds)
}

// writeLoadJSON writes the report to path, if one is given.
func writeLoadJSON(path string, r *loadgen.Report) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
