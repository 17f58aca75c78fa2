// Package containertest gives the tests that run the emulator's container
// image the image to run, and makes sure it is this checkout's: the harness
// runs images and never builds them, `make image` builds and labels them
// (`make test` does so first), and these tests refuse an image built from
// other sources rather than pass on a stale emulator.
package containertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubspec/hubspec/harness"
)

// Image is the emulator image a container test runs: IOTHUB_EMULATOR_IMAGE,
// or harness.DefaultEmulatorImage when empty.
//
// With no Docker engine, or no such image, the test is skipped, saying why
// and how to build the image, unless HUBSPEC_REQUIRE_DOCKER is set (CI),
// where that is a failure. An image whose harness.EmulatorSourceLabel is not
// the hash of this checkout's sources (.ci/image-source-hash.sh) always
// fails the test: it would test another emulator than the one checked out.
//
// TESTCONTAINERS_RYUK_DISABLED defaults to true, since the reaper's image
// cannot be pulled without a registry; call Image before any other
// testcontainers call, which reads that setting once per process.
func Image(t testing.TB) string {
	t.Helper()
	if _, ok := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !ok {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	unavailable := t.Skipf
	if os.Getenv("HUBSPEC_REQUIRE_DOCKER") != "" {
		unavailable = t.Fatalf
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := harness.PingDocker(ctx); err != nil {
		unavailable("container target not tested: no Docker engine answered: %v", err)
	}
	image := os.Getenv("IOTHUB_EMULATOR_IMAGE")
	if image == "" {
		image = harness.DefaultEmulatorImage
	}
	got, err := harness.EmulatorImageSource(ctx, image)
	if errors.Is(err, harness.ErrNoImage) {
		unavailable("container target not tested: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	want, err := checkoutSource()
	if err != nil {
		t.Fatalf("hash of this checkout's emulator sources: %v", err)
	}
	if got != want {
		build := "make image"
		if image != harness.DefaultEmulatorImage {
			build += " IMAGE=" + image
		}
		t.Fatalf("image %s was not built from this checkout (its %s label is %q, the checkout's sources hash to %s): "+
			"it would test another emulator; rebuild it with `%s` (make test does)", image, harness.EmulatorSourceLabel, got, want, build)
	}
	return image
}

var source struct {
	once sync.Once
	hash string
	err  error
}

// checkoutSource runs .ci/image-source-hash.sh of the module the test runs
// in, once per process.
func checkoutSource() (string, error) {
	source.once.Do(func() {
		gomod, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			source.err = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(gomod)))
		var stderr strings.Builder
		cmd := exec.Command("bash", filepath.Join(root, ".ci", "image-source-hash.sh"))
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			source.err = fmt.Errorf("%s: %w\n%s", cmd, err, stderr.String())
			return
		}
		source.hash = strings.TrimSpace(string(out))
	})
	return source.hash, source.err
}
