package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain turns testcontainers' Ryuk reaper off unless the caller chose:
// its image cannot be pulled where there is no registry, and testcontainers
// reads the setting once, at its first call.
func TestMain(m *testing.M) {
	if _, ok := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !ok {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	os.Exit(m.Run())
}

// TestOpenContainerRunsOnlyPresentImages: the harness never builds or
// pulls; an image the engine lacks is ErrNoImage, and the error says how to
// build it.
func TestOpenContainerRunsOnlyPresentImages(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := PingDocker(ctx); err != nil {
		if os.Getenv("HUBSPEC_REQUIRE_DOCKER") != "" {
			t.Fatalf("HUBSPEC_REQUIRE_DOCKER is set and no Docker engine answered: %v", err)
		}
		t.Skipf("no Docker engine answered: %v", err)
	}
	absent := fmt.Sprintf("hubspec/iothub-emulator:absent-%d", time.Now().UnixNano())
	tg, err := Open(ctx, Config{Target: "container", Image: absent}, nil)
	if err == nil {
		tg.Close()
		t.Fatalf("the container target opened absent image %s", absent)
	}
	if !errors.Is(err, ErrNoImage) || !strings.Contains(err.Error(), "`make image IMAGE="+absent+"`") {
		t.Fatalf("error %v, want ErrNoImage saying to run make image IMAGE=%s", err, absent)
	}
	if _, err := EmulatorImageSource(ctx, absent); !errors.Is(err, ErrNoImage) {
		t.Fatalf("EmulatorImageSource(%s) = %v, want ErrNoImage", absent, err)
	}
}

func TestMakeImageCommandAndHosts(t *testing.T) {
	for image, want := range map[string]string{
		DefaultEmulatorImage:                 "make image",
		"hubspec/iothub-emulator:wt":         "make image IMAGE=hubspec/iothub-emulator:wt",
		"registry:5000/hubspec/emulator:1.2": "make image IMAGE=registry:5000/hubspec/emulator:1.2",
	} {
		if got := makeImageCommand(image); got != want {
			t.Errorf("makeImageCommand(%q) = %q, want %q", image, got, want)
		}
	}
	for host, want := range map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true, "172.17.0.1": false, "docker": false} {
		if isLoopback(host) != want {
			t.Errorf("isLoopback(%q) = %v", host, !want)
		}
	}
}
