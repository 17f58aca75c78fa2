package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStartsWithoutTheGoToolchain runs the built binary with a "go" first
// on its PATH that leaves a mark when run: a released hubspec runs on
// machines without Go, and must not spend seconds asking a Go it finds.
// That the PATH is back once start-up is over, this very test shows: it
// is linked with the same start-up, and finds go on the PATH to build.
func TestStartsWithoutTheGoToolchain(t *testing.T) {
	t.Parallel()
	bin := installedRunner(t)
	dir := t.TempDir()
	fake := filepath.Join(dir, "fakego")
	mark := filepath.Join(dir, "go-was-run")
	if err := os.Mkdir(fake, 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho \"$@\" >> " + mark + "\n"
	if err := os.WriteFile(filepath.Join(fake, "go"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	path := fake + string(os.PathListSeparator) + os.Getenv("PATH")
	cmd := exec.Command(bin, "help")
	cmd.Env = append(os.Environ(), "PATH="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("hubspec help: %v\n%s", err, out)
	}
	if ran, err := os.ReadFile(mark); err == nil {
		t.Errorf("hubspec ran go at start-up: go %s", strings.TrimSpace(string(ran)))
	}
}
