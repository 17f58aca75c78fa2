// Command hubspec runs Hubspec's Gherkin features against an IoT hub: the
// emulator inside this process, the emulator in a container, or a live Azure
// IoT Hub. It is the suite `go test ./steps` runs, packaged for QA engineers
// (their own .feature files, readable output, tags) and for conformance
// checks in CI (JUnit XML and Cucumber JSON from the same run, an exit
// status that says whether every scenario passed).
//
// The features are built into the binary (package features), so hubspec runs
// the same suite from any directory; feature paths on the command line
// replace them.
//
// Run `hubspec help` for the usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	// Imported for their start-up only: no "go env" at start (package doc).
	_ "github.com/hubspec/hubspec/internal/nogotool"
	_ "github.com/hubspec/hubspec/internal/nogotool/restore"

	"github.com/hubspec/hubspec/steps"
)

// Exit statuses, the contract CI scripts rely on.
const (
	exitPassed = 0 // every scenario passed (or the command did its job)
	exitFailed = 1 // a scenario failed or had an undefined step, or a pending one under --strict; the target or hub failed
	exitUsage  = 2 // the command line or the environment cannot be understood
)

const usage = `hubspec runs Hubspec's Gherkin features against an Azure IoT hub.

Usage:
  hubspec [run] [flags] [feature paths...]        run the features (default: those built into hubspec)
  hubspec sweep --prefix P --older-than DURATION  delete a live hub's leftovers of run prefix P
  hubspec load [--devices N] [--modules-per-device M] [--ramp RATE] [--hold D] [--json FILE]
                                                  measure a target under load: creates/s, connects, patch latencies
  hubspec steps [--markdown]                      list the steps features can use, with an example of each
  hubspec report --html FILE cucumber.json        render a Cucumber JSON report as one HTML page
  hubspec report --merge [--cucumber F] [--junit F] [--html F] REPORTS...
                                                  merge the reports of a run's shards (run --shard i/n)
  hubspec init [DIR]                              write a starter features/ folder and a CI workflow into DIR (default .)
  hubspec help                                    print this text

Feature paths are .feature files (file.feature:LINE for one scenario) or
directories. Use "hubspec run steps" to run a directory named steps.

The target's settings come from the environment:
  IOTHUB_TARGET             embedded (default), container or live; --target overrides it
  IOTHUB_CONNECTION_STRING  live and sweep: a service policy connection string
                            (registry read/write and service connect)
  IOTHUB_CA_FILE            live and sweep: a PEM file of CAs to trust besides the system's
  IOTHUB_MQTT_ADDRESS       live: where MQTT clients dial when not HostName:8883
  IOTHUB_AMQP_ADDRESS       live: where AMQP clients (cloud-to-device) dial when not HostName:5671
  IOTHUB_EVENTHUB_CONNECTION_STRING
                            live: the built-in endpoint's Event Hubs-compatible connection string
                            (the portal's "Built-in endpoints"), for telemetry and event scenarios
  IOTHUB_EMULATOR_IMAGE     container: the emulator image to run (default hubspec/iothub-emulator:dev);
                            hubspec runs it and never builds it: "make image" builds it from a checkout

Exit status: 0 every scenario passed; 1 a scenario failed (or was undefined or
pending under --strict), or the target could not be opened; 2 usage error.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole program behind main, so tests call it with their own
// arguments and writers and read its exit status.
func run(args []string, stdout, stderr io.Writer) int {
	cmd, rest := "run", args
	if len(args) > 0 {
		switch args[0] {
		case "run", "sweep", "load", "steps", "report", "init", "help":
			cmd, rest = args[0], args[1:]
		}
	}
	switch cmd {
	case "sweep":
		return sweepCmd(rest, stdout, stderr)
	case "load":
		return loadCmd(rest, stdout, stderr)
	case "steps":
		return stepsCmd(rest, stdout, stderr)
	case "report":
		return reportCmd(rest, stdout, stderr)
	case "init":
		return initCmd(rest, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return exitPassed
	default:
		return runCmd(rest, stdout, stderr)
	}
}

// stepsCmd prints the step catalogue: every step by domain, with what it
// does, its parameters and an example from the built-in features; with
// --markdown, docs/steps.md itself. Both are written from the step tables
// the runner registers, so the list cannot drift from the steps.
func stepsCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("steps", "list the steps features can use.", stderr)
	markdown := fs.Bool("markdown", false, "print the catalogue as Markdown, the text of docs/steps.md:\n"+steps.RegenerateDocs)
	fs.Bool("no-colors", false, "accepted for scripts written for the earlier listing: the catalogue is plain text")
	if err := fs.Parse(args); err != nil {
		return parseStatus(err)
	}
	if fs.NArg() > 0 {
		return usageError(fs, "steps takes no arguments, got %q", fs.Args())
	}
	write := steps.WriteStepList
	if *markdown {
		write = steps.WriteStepMarkdown
	}
	if err := write(stdout); err != nil {
		fmt.Fprintf(stderr, "hubspec steps: %v\n", err)
		return exitFailed
	}
	return exitPassed
}

// newFlagSet returns a flag set whose -h prints the command's usage and
// flags, and whose errors go to stderr.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("hubspec "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		if synopsis != "" {
			fmt.Fprintf(fs.Output(), "\nhubspec %s: %s\n", name, synopsis)
		}
		fmt.Fprintf(fs.Output(), "\nFlags of hubspec %s:\n", name)
		fs.PrintDefaults()
	}
	return fs
}

// parseStatus is the exit status for a flag parse error: -h asked for help
// (the flag package printed it), anything else is a usage error.
func parseStatus(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitPassed
	}
	return exitUsage
}

// usageError reports a command-line mistake the flag package cannot see.
func usageError(fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(fs.Output(), "%s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	fmt.Fprintf(fs.Output(), "Run '%s -h' for usage.\n", fs.Name())
	return exitUsage
}

// parseInterspersed parses flags wherever they stand among the arguments
// ("hubspec x.feature --tags @wip" is how people type), unlike flag.Parse,
// which stops at the first argument. Everything after "--" is an argument.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		left := fs.Args()
		if consumed := len(args) - len(left); consumed > 0 && args[consumed-1] == "--" {
			return append(rest, left...), nil
		}
		if len(left) == 0 {
			return rest, nil
		}
		rest, args = append(rest, left[0]), left[1:]
	}
}

// colorful says whether w is a terminal that wants colors: escape codes in a
// CI log or a redirected file are noise. NO_COLOR (no-color.org) turns them off.
func colorful(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// signalContext is cancelled by the first SIGINT or SIGTERM: scenarios stop
// waiting, their cleanups still run (godog's After hooks clean up with a
// context that ignores the cancel) and the target closes, so a container is
// removed and a live hub keeps no identities. A second signal kills the
// process as usual.
func signalContext() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	return ctx, stop
}
