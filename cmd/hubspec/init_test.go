package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/internal/containertest"
	"github.com/hubspec/hubspec/steps"
)

// TestStarterPassesPreflight: every step of the starter feature reads like
// a step of the catalogue, so a QA team's first run cannot fail on it.
func TestStarterPassesPreflight(t *testing.T) {
	dir := t.TempDir()
	if status, _, stderr := hubspec(t, "init", dir); status != exitPassed {
		t.Fatalf("init: %s", stderr)
	}
	n, problems, err := steps.Preflight(godog.Options{Paths: []string{filepath.Join(dir, "features")}, Tags: defaultTags})
	if err != nil || len(problems) > 0 || n != 2 {
		t.Fatalf("starter: %d scenarios, problems %v, %v", n, problems, err)
	}
	wf, err := os.ReadFile(filepath.Join(dir, ".github", "workflows", "hubspec.yml"))
	if err != nil || !strings.Contains(string(wf), "go install github.com/hubspec/hubspec/cmd/hubspec@latest") ||
		strings.Contains(string(wf), "{{") {
		t.Fatalf("workflow: %v\n%s", err, wf)
	}
	if status, _, stderr := hubspec(t, "init", dir); status != exitFailed || !strings.Contains(stderr, "already exists: nothing written") {
		t.Errorf("init over existing files: status %d, %s", status, stderr)
	}
}

// installedRunner is the runner as `go install` builds it, built once for
// the tests that run the binary; TestMain removes it.
func installedRunner(t *testing.T) string {
	t.Helper()
	bin, err := installRunner()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

var (
	installRunner = sync.OnceValues(func() (string, error) {
		gobin, err := os.MkdirTemp("", "hubspec-gobin")
		if err != nil {
			return "", err
		}
		installedRunnerDir = gobin
		install := exec.Command("go", "install", ".")
		install.Env = append(os.Environ(), "GOBIN="+gobin)
		if out, err := install.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go install: %v\n%s", err, out)
		}
		return filepath.Join(gobin, "hubspec"), nil
	})
	installedRunnerDir string // for TestMain to remove
)

// TestInstalledRunnerOutsideTheModule: the documented path for a QA team
// with features in a repository of its own. The runner is built as `go
// install` builds it, init writes the starter into a directory outside this
// module, and the runner runs that folder from there, with no Go toolchain
// on its PATH, on the embedded target and on the container target.
func TestInstalledRunnerOutsideTheModule(t *testing.T) {
	t.Parallel()
	bin := installedRunner(t)
	qa := t.TempDir() // outside the module: no go.mod above it
	runner := func(env []string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = qa
		cmd.Env = append(os.Environ(), append([]string{"PATH=/usr/bin:/bin", "IOTHUB_CONNECTION_STRING="}, env...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("hubspec %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	runner(nil, "init")
	out := runner([]string{"IOTHUB_TARGET=embedded"}, "run", "--format", "progress", "features")
	if !strings.Contains(out, "2 scenarios (2 passed)") {
		t.Fatalf("embedded run of the starter:\n%s", out)
	}
	t.Run("container", func(t *testing.T) {
		image := containertest.Image(t)
		out := runner([]string{"IOTHUB_TARGET=container", "IOTHUB_EMULATOR_IMAGE=" + image, "TESTCONTAINERS_RYUK_DISABLED=true"},
			"run", "--format", "progress", "features")
		if !strings.Contains(out, "2 scenarios (2 passed)") || !strings.Contains(out, "on the container target") {
			t.Fatalf("container run of the starter:\n%s", out)
		}
	})
}
