package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/features"
	"github.com/hubspec/hubspec/internal/paralleltest"
)

// embedded is the environment that points the runner at the emulator in
// its own process, whatever the environment the tests run in says (a CI
// job may set a live hub).
var embedded = []string{"IOTHUB_TARGET=embedded", "IOTHUB_CONNECTION_STRING=", "IOTHUB_CA_FILE="}

// embeddedEnv sets embedded in this process, for a test that calls hubspec.
func embeddedEnv(t *testing.T) {
	t.Helper()
	setEnv(t, embedded)
}

// setEnv sets each NAME=value of env in this process for the test.
func setEnv(t *testing.T, env []string) {
	t.Helper()
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		t.Setenv(name, value)
	}
}

// hubspec runs the command and returns its exit status, stdout and stderr.
func hubspec(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	status := run(args, &stdout, &stderr)
	return status, stdout.String(), stderr.String()
}

// commandArgs names the variable that makes this test binary the hubspec
// command: TestMain runs run with the arguments it holds (a JSON array)
// instead of the tests. See hubspecWith.
const commandArgs = "HUBSPEC_TEST_COMMAND_ARGS"

func TestMain(m *testing.M) {
	if j, ok := os.LookupEnv(commandArgs); ok {
		var args []string
		if err := json.Unmarshal([]byte(j), &args); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", commandArgs, err)
			os.Exit(exitUsage)
		}
		os.Exit(run(args, os.Stdout, os.Stderr)) // as main does
	}
	paralleltest.Allow(8) // the long runs, all at once
	status := m.Run()
	if installedRunnerDir != "" {
		os.RemoveAll(installedRunnerDir)
	}
	os.Exit(status)
}

// hubspecWith runs the command as hubspec does, but in a process of its own
// (this test binary, race detector included, through TestMain) whose
// environment is this one's with env added: the long runs set their
// target's environment this way instead of with t.Setenv, which is for the
// whole process and so forbids t.Parallel, and run side by side.
func hubspecWith(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	j, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(append(os.Environ(), env...), commandArgs+"="+string(j))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	var exit *exec.ExitError
	if err := cmd.Run(); err != nil && !errors.As(err, &exit) {
		t.Fatalf("hubspec %s: %v", strings.Join(args, " "), err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// TestEmbeddedFeaturesPassWithReports is the lead's main job: the built-in
// features against the embedded target, with both reports from the run.
func TestEmbeddedFeaturesPassWithReports(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	junitPath := filepath.Join(dir, "reports", "deep", "junit.xml")
	cucumberPath := filepath.Join(dir, "reports", "cucumber.json")

	status, stdout, stderr := hubspecWith(t, embedded, "--junit", junitPath, "--cucumber", cucumberPath)
	if status != exitPassed {
		t.Fatalf("status %d, want 0\nstdout:\n%s\nstderr:\n%s", status, stdout, stderr)
	}
	want := builtInScenarios(t)
	if !strings.Contains(stderr, "on the embedded target") || !strings.Contains(stderr, "run prefix hs") {
		t.Errorf("stderr does not name the target and run prefix:\n%s", stderr)
	}
	if strings.Contains(stdout, "\x1b[") {
		t.Error("colors in output that is not a terminal")
	}
	if !strings.Contains(stdout, "Randomized with seed:") {
		t.Errorf("the run's seed is not printed:\n%s", stdout)
	}

	var junit struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Cases    []struct {
			Name   string `xml:"name,attr"`
			Status string `xml:"status,attr"`
		} `xml:"testsuite>testcase"`
	}
	if err := xml.Unmarshal(readFile(t, junitPath), &junit); err != nil {
		t.Fatalf("JUnit report: %v", err)
	}
	if junit.Tests != want || len(junit.Cases) != want || junit.Failures+junit.Errors != 0 {
		t.Errorf("JUnit report: tests=%d cases=%d failures=%d errors=%d, want %d passed",
			junit.Tests, len(junit.Cases), junit.Failures, junit.Errors, want)
	}
	for _, c := range junit.Cases {
		if c.Status != "passed" && c.Status != "skipped" { // skipped: a @live-only scenario
			t.Errorf("JUnit case %q: %s", c.Name, c.Status)
		}
	}

	var cucumber []struct {
		Elements []struct {
			Type string `json:"type"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(readFile(t, cucumberPath), &cucumber); err != nil {
		t.Fatalf("Cucumber report: %v", err)
	}
	got := 0
	for _, f := range cucumber {
		for _, e := range f.Elements {
			if e.Type == "scenario" {
				got++
			}
		}
	}
	if got != want {
		t.Errorf("Cucumber report has %d scenarios, want %d", got, want)
	}
}

// TestLiveTargetAgainstAnEmulatorElsewhere runs built-in features with
// --target live against a hub that is not in the runner's own target: the
// wiring a conformance check against a real hub goes through, the
// registry, MQTT, the AMQP address (@c2d) and the built-in endpoint's
// connection string (@events) among it, and the @emulator-only scenarios
// skipped. Every built-in feature runs on a live stand-in in the steps
// package (TestFeaturesOnLiveTarget); here the runner is under test, so
// the scenarios that only wait out real time on a live hub (@time) stay out.
func TestLiveTargetAgainstAnEmulatorElsewhere(t *testing.T) {
	t.Parallel()
	_, env := liveHub(t)
	status, stdout, stderr := hubspecWith(t, env, "--target", "live", "--format", "progress", "--tags", "@smoke,@c2d,@events && ~@time")
	if status != exitPassed {
		t.Fatalf("status %d, want 0\nstdout:\n%s\nstderr:\n%s", status, stdout, stderr)
	}
	if !strings.Contains(stderr, "on the live target (localhost:") {
		t.Errorf("stderr does not name the live target and its host:\n%s", stderr)
	}
}

// TestRunExitStatus: 0 only when every scenario ran and passed, 1 when one
// did not, 2 when the command line or environment is wrong.
func TestRunExitStatus(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		env        string // IOTHUB_TARGET, when not embedded
		want       int
		stdout     []string // in stdout
		notStdout  []string // not in stdout
		stderrHint string   // in stderr
	}{
		// The pre-flight check fails an undefined step before anything
		// runs, with or without --strict, naming its line and the closest
		// steps: godog's "undefined" result has no place for them.
		{name: "undefined step under strict", args: []string{"testdata/undefined.feature"}, want: exitFailed,
			stderrHint: "testdata/undefined.feature:7: no step reads like this: the service frobnicates device \"lamp\"\nthe closest steps:"},
		{name: "undefined step without strict", args: []string{"--strict=false", "testdata/undefined.feature"}, want: exitFailed,
			stderrHint: "the closest steps:"},
		{name: "expectation that cannot hold", args: []string{"testdata/failing.feature"}, want: exitFailed,
			stdout: []string{"1 failed"}},
		{name: "tags pick one scenario", args: []string{"--tags", "@smoke", "--format", "progress", "--random", "0", "testdata/tagged.feature"},
			want: exitPassed, stdout: []string{"1 scenarios (1 passed)"}, stderrHint: "1 scenarios"},
		{name: "flags after paths", args: []string{"testdata/tagged.feature", "--tags", "~@smoke && ~@wip"}, want: exitPassed,
			stdout: []string{"The beta scenario", "1 scenarios (1 passed)"}, notStdout: []string{"The alpha scenario"}},
		{name: "@wip left out by default", args: []string{"testdata/tagged.feature"}, want: exitPassed,
			stdout: []string{"2 scenarios (2 passed)"}, notStdout: []string{"The unfinished scenario"}},
		{name: "@wip runs when asked for", args: []string{"--tags", "@wip", "testdata/tagged.feature"}, want: exitFailed,
			stdout: []string{"The unfinished scenario", "1 failed"}},
		{name: "one scenario by line", args: []string{"testdata/tagged.feature:7"}, want: exitPassed,
			stdout: []string{"The alpha scenario", "1 scenarios (1 passed)"}},
		{name: "tags match nothing", args: []string{"--tags", "@nothing", "testdata"}, want: exitFailed, stderrHint: "no scenario to run"},
		{name: "bad flag", args: []string{"--colour"}, want: exitUsage, stderrHint: "flag provided but not defined"},
		{name: "unknown target flag", args: []string{"--target", "cloud"}, want: exitUsage, stderrHint: `unknown target "cloud"`},
		{name: "unknown target env", env: "cloud", want: exitUsage, stderrHint: `unknown target "cloud"`},
		{name: "report format on the terminal", args: []string{"--format", "junit"}, want: exitUsage, stderrHint: "unknown format"},
		{name: "no concurrency", args: []string{"--concurrency", "0"}, want: exitUsage, stderrHint: "--concurrency 0"},
		{name: "empty tag", args: []string{"--tags", "@smoke,"}, want: exitUsage, stderrHint: "empty tag"},
		{name: "missing feature", args: []string{"testdata/nothing.feature"}, want: exitUsage, stderrHint: "not available"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			embeddedEnv(t)
			if tc.env != "" {
				t.Setenv("IOTHUB_TARGET", tc.env)
			}
			status, stdout, stderr := hubspec(t, tc.args...)
			if status != tc.want {
				t.Fatalf("status %d, want %d\nstdout:\n%s\nstderr:\n%s", status, tc.want, stdout, stderr)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range tc.notStdout {
				if strings.Contains(stdout, s) {
					t.Errorf("stdout has %q:\n%s", s, stdout)
				}
			}
			if !strings.Contains(stderr, tc.stderrHint) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderrHint, stderr)
			}
		})
	}
}

// TestStepsPrintsTheCatalogue: `hubspec steps` lists every step by domain
// with its description, parameters and an example; --markdown prints
// docs/steps.md itself.
func TestStepsPrintsTheCatalogue(t *testing.T) {
	status, stdout, stderr := hubspec(t, "steps")
	if status != exitPassed {
		t.Fatalf("status %d\n%s", status, stderr)
	}
	for _, want := range []string{
		"\nIDENTITIES\n", "\nTWINS\n", "\nMQTT\n",
		"\n  device|module \"<alias>\"[ on device \"<device>\"] is connected[ over TLS|WebSockets][ with a token that lasts <seconds> seconds]\n      The device or module connects",
		"      <seconds>: optional; how long each SAS token lasts\n      e.g. Given ",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("steps lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "\x1b[") {
		t.Error("colors in the catalogue")
	}
	status, markdown, _ := hubspec(t, "steps", "--markdown", "--no-colors")
	if docs := readFile(t, "../../docs/steps.md"); status != exitPassed || markdown != string(docs) {
		t.Errorf("steps --markdown: status %d, and not the text of docs/steps.md", status)
	}
	if status, _, _ := hubspec(t, "steps", "extra"); status != exitUsage {
		t.Errorf("steps with an argument: status %d, want 2", status)
	}
}

func TestHelp(t *testing.T) {
	if status, stdout, _ := hubspec(t, "help"); status != exitPassed || !strings.Contains(stdout, "hubspec sweep --prefix") {
		t.Errorf("help: status %d\n%s", status, stdout)
	}
	if status, _, stderr := hubspec(t, "-h"); status != exitPassed || !strings.Contains(stderr, "-junit FILE") {
		t.Errorf("-h: status %d\n%s", status, stderr)
	}
}

// builtInScenarios counts the embedded scenarios with godog's parser, so
// the test follows the feature files as they grow.
func builtInScenarios(t *testing.T) int {
	t.Helper()
	feats, err := godog.TestSuite{Options: &godog.Options{FS: features.FS, Paths: []string{"."}}}.RetrieveFeatures()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range feats {
		n += len(f.Pickles)
	}
	if n == 0 {
		t.Fatal("no built-in scenarios")
	}
	return n
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
