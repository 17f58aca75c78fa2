package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/features"
	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/steps"
)

// runFlags are the run command's flags; everything else about the target
// comes from the environment through harness.ConfigFromEnv.
type runFlags struct {
	target      string
	tags        string
	format      string
	noColors    bool
	junit       string
	cucumber    string
	html        string
	concurrency int
	random      int64
	strict      bool
	shardSpec   string
	shard       shard // shardSpec, once checked
}

func (f *runFlags) bind(fs *flag.FlagSet, envTarget string) {
	fs.StringVar(&f.target, "target", envTarget, "the hub to run against, `TARGET`: embedded (an emulator in this process), container or live;\nIOTHUB_TARGET sets the default")
	fs.StringVar(&f.tags, "tags", defaultTags, "run only the scenarios whose tags match `EXPR`: @smoke, ~@wip (not wip),\n@a,@b (either), @a && ~@slow (both); by default everything but @wip")
	fs.StringVar(&f.format, "format", "pretty", "terminal output `FORMAT`: pretty (every step) or progress (one character per step)")
	fs.BoolVar(&f.noColors, "no-colors", false, "print without ANSI colors (automatic when stdout is not a terminal, or NO_COLOR is set)")
	fs.StringVar(&f.junit, "junit", "", "also write a JUnit XML report to `FILE` (parent directories are created)")
	fs.StringVar(&f.cucumber, "cucumber", "", "also write a Cucumber JSON report to `FILE` (parent directories are created)")
	fs.StringVar(&f.html, "html", "", "also write an HTML report to `FILE`: one page, readable offline, with each step's\nevidence (rendered from the run's Cucumber JSON; parent directories are created)")
	fs.IntVar(&f.concurrency, "concurrency", 4, "run up to `N` scenarios at a time")
	fs.Int64Var(&f.random, "random", -1, "shuffle the scenarios with `SEED` to replay an earlier order;\n-1 picks a fresh seed (printed at the end), 0 keeps file order")
	fs.StringVar(&f.shardSpec, "shard", "", "run only the `I/N`-th part of the scenarios (e.g. 2/4), for a CI matrix of N runners;\nthe split is by each scenario's file and line, the same on every machine; merge the parts' reports\nwith \"hubspec report --merge\"")
	fs.BoolVar(&f.strict, "strict", true, "fail on pending steps (--strict=false lets them pass); an undefined step always fails, naming the closest steps")
}

// check reports the flag values godog would reject late, panic on, or
// silently misread.
func (f *runFlags) check() error {
	switch {
	case f.target != "embedded" && f.target != "container" && f.target != "live":
		return fmt.Errorf("unknown target %q (from --target or IOTHUB_TARGET): want embedded, container or live", f.target)
	case f.format != "pretty" && f.format != "progress":
		return fmt.Errorf("unknown format %q: want pretty or progress", f.format)
	case f.concurrency < 1:
		return fmt.Errorf("--concurrency %d: want 1 or more", f.concurrency)
	case f.random < -1:
		return fmt.Errorf("--random %d: want a seed, -1 or 0", f.random)
	}
	var err error
	if f.shard, err = parseShard(f.shardSpec); err != nil {
		return err
	}
	return checkTags(f.tags)
}

// defaultTags leaves out work in progress unless a run asks for it.
const defaultTags = "~@wip"

// checkTags rejects an empty term in a tag expression ("@a,", "@a && "),
// which godog v0.15.1's filter indexes and panics on.
func checkTags(expr string) error {
	if expr == "" {
		return nil
	}
	for _, and := range strings.Split(expr, "&&") {
		for _, term := range strings.Split(and, ",") {
			if strings.ReplaceAll(strings.TrimSpace(term), "@", "") == "" {
				return fmt.Errorf("--tags %q: empty tag in the expression", expr)
			}
		}
	}
	return nil
}

// runCmd runs the features: read and filter them first (a path or tag
// mistake costs no container start and no hub connection), then open the
// target, run every scenario with the steps package's world, close the
// target (deferred, so an interrupted run still removes its container).
func runCmd(args []string, stdout, stderr io.Writer) int {
	cfg := harness.ConfigFromEnv()
	fs := newFlagSet("run", "run the features against a target hub.", stderr)
	var f runFlags
	f.bind(fs, cfg.Target)
	paths, err := parseInterspersed(fs, args)
	if err != nil {
		return parseStatus(err)
	}
	if err := f.check(); err != nil {
		return usageError(fs, "%v", err)
	}
	cfg.Target = f.target

	opts := godog.Options{
		Format:      f.format,
		Tags:        f.tags,
		Strict:      f.strict,
		Concurrency: f.concurrency,
		Randomize:   f.random,
		NoColors:    f.noColors || !colorful(stdout),
		Output:      stdout,
		Paths:       paths,
	}
	if len(paths) == 0 {
		opts.FS, opts.Paths = features.FS, []string{"."}
	}

	selected, rows, err := selectLines(opts)
	if err != nil {
		return usageError(fs, "%v", parseProblem(err))
	}
	if causes := lineCauses(opts); causes != "" {
		fmt.Fprintf(stderr, "hubspec: nothing ran: %s\n", causes)
		return exitFailed
	}
	opts = selected
	scenarios, problems, err := steps.Preflight(opts)
	if err != nil {
		return usageError(fs, "%v", parseProblem(err))
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "hubspec: nothing ran: fix %s in the features first\n", plural(len(problems), "mistake"))
		for _, p := range problems {
			fmt.Fprintf(stderr, "%s\n", p)
		}
		return exitFailed // as godog would for an undefined step
	}
	if !f.shard.whole() && scenarios > 0 {
		mine, n, err := f.shard.paths(opts)
		if err != nil {
			return usageError(fs, "%v", parseProblem(err))
		}
		fmt.Fprintf(stderr, "hubspec: shard %d/%d: %d of %d scenarios\n", f.shard.index, f.shard.count, n, scenarios)
		if n == 0 {
			// Another shard runs them all: with more runners than
			// scenarios, this one has nothing to do, which is no failure.
			return exitPassed
		}
		opts.Paths, scenarios = mine, n
	}
	if scenarios == 0 {
		// A tag typo must not turn a conformance check green.
		fmt.Fprintf(stderr, "hubspec: no scenario to run: %s\n", noScenarioCause(opts))
		return exitFailed
	}
	out := &outputs{stdout: stdout, colors: !opts.NoColors, rows: rows}
	html, err := out.open(f.junit, f.cucumber, f.html)
	if err != nil {
		fmt.Fprintf(stderr, "hubspec: %v\n", err)
		return exitUsage
	}
	defer out.close()
	if html != nil {
		defer html.close()
	}
	suite, forget := out.register()
	defer forget()
	opts.Format = out.formats(f.format)

	ctx, stop := signalContext()
	defer stop()
	target, err := harness.Open(ctx, cfg, nil)
	if err != nil {
		fmt.Fprintf(stderr, "hubspec: %v\n", err)
		return exitFailed
	}
	defer func() {
		if err := target.Close(); err != nil {
			fmt.Fprintf(stderr, "hubspec: close the %s target: %v\n", target.Name(), err)
		}
	}()
	r := harness.NewRun(target)
	fmt.Fprintf(stderr, "hubspec: %d scenarios on the %s target%s, run prefix %s\n",
		scenarios, target.Name(), hostOf(target), r.Prefix)

	opts.DefaultContext = ctx
	status := godog.TestSuite{
		Name:                suite,
		ScenarioInitializer: steps.Initialize(r),
		Options:             &opts,
	}.Run()
	if err := out.close(); err != nil {
		fmt.Fprintf(stderr, "hubspec: %v\n", err)
		return exitUsage
	}
	if html != nil && status <= 1 { // the Cucumber JSON is written
		if err := html.finish(); err != nil {
			fmt.Fprintf(stderr, "hubspec: report %s: %v\n", f.html, err)
			return exitUsage
		}
	}
	switch status {
	case 0:
		return exitPassed
	case 1:
		return exitFailed
	default: // godog could not start: a report file it could not create
		return exitUsage
	}
}

// plural is "1 mistake", "2 mistakes".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// hostOf names the hub a target points at, for the run's first line;
// never the connection string, which holds a key.
func hostOf(t harness.Target) string {
	cs, err := hub.ParseConnectionString(t.ServiceConnectionString())
	if err != nil || cs.HostName == "" {
		return ""
	}
	return " (" + cs.HostName + ")"
}
