package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/hubspec/hubspec/hub/service"

	"github.com/hubspec/hubspec/harness"
)

// sweepCmd deletes the identities a run left on a live hub (a killed
// process, a cleanup that met a throttled hub). Which identities qualify,
// and the refusal of prefixes short enough to hit someone else's devices,
// are harness.Sweep's rules; this command only insists that both limits are
// written out, because a sweep that guessed either could delete a run that
// is still going.
func sweepCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("sweep", "delete the devices (and their modules) that runs left on the hub\n"+
		"IOTHUB_CONNECTION_STRING names; prints each deleted id.", stderr)
	prefix := fs.String("prefix", "", "delete devices whose ids start with `P`: a run prefix printed by hubspec run,\nor its start (\"hs\" and 2 or more characters) for several runs (required)")
	olderThan := fs.Duration("older-than", 0, "spare the runs that began less than `DURATION` ago, e.g. 2h (required;\n0 also takes runs still going)")
	if err := fs.Parse(args); err != nil {
		return parseStatus(err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case fs.NArg() > 0:
		return usageError(fs, "sweep takes no arguments, got %q", fs.Args())
	case !set["prefix"] || *prefix == "":
		return usageError(fs, "--prefix is required")
	case !set["older-than"]:
		return usageError(fs, "--older-than is required")
	case *olderThan < 0:
		return usageError(fs, "--older-than %s: want 0 or more", *olderThan)
	}

	cfg := harness.ConfigFromEnv()
	if cfg.ConnectionString == "" {
		return usageError(fs, "IOTHUB_CONNECTION_STRING is not set: sweep needs the hub's service connection string")
	}
	ctx, stop := signalContext()
	defer stop()
	// The live target reads the connection string and CA file as a run
	// does, checks the policy may read and delete, and gives the registry
	// client the retries a throttled hub needs.
	hubTarget, err := harness.OpenLive(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "hubspec sweep: %v\n", err)
		return exitFailed
	}
	defer hubTarget.Close()
	reg, err := service.NewRegistryClient(hubTarget.ServiceConnectionString(), hubTarget.RegistryOptions()...)
	if err != nil {
		fmt.Fprintf(stderr, "hubspec sweep: %v\n", err)
		return exitFailed
	}
	deleted, err := harness.Sweep(ctx, reg, *prefix, *olderThan, time.Now())
	for _, id := range deleted { // what is gone, even when the sweep stopped half-way
		fmt.Fprintln(stdout, id)
	}
	if err != nil {
		fmt.Fprintf(stderr, "hubspec sweep: %v (%d deleted)\n", err, len(deleted))
		return exitFailed
	}
	fmt.Fprintf(stderr, "hubspec sweep: %d deleted under prefix %s\n", len(deleted), *prefix)
	return exitPassed
}
