package harness

import (
	"context"
	"fmt"
	"log/slog"
	"os"
)

// Config is what the environment says about the target, read in one place.
type Config struct {
	// Target is IOTHUB_TARGET: "embedded" (default), "container" or "live".
	Target string
	// ConnectionString is IOTHUB_CONNECTION_STRING, for the live target.
	ConnectionString string
	// CAFile is IOTHUB_CA_FILE, a PEM the live target's TLS must trust.
	CAFile string
	// Image is IOTHUB_EMULATOR_IMAGE, for the container target.
	Image string
}

// ConfigFromEnv reads the IOTHUB_* variables.
func ConfigFromEnv() Config {
	c := Config{
		Target:           os.Getenv("IOTHUB_TARGET"),
		ConnectionString: os.Getenv("IOTHUB_CONNECTION_STRING"),
		CAFile:           os.Getenv("IOTHUB_CA_FILE"),
		Image:            os.Getenv("IOTHUB_EMULATOR_IMAGE"),
	}
	if c.Target == "" {
		c.Target = "embedded"
	}
	return c
}

// Open starts or connects to the configured target.
func Open(ctx context.Context, c Config, log *slog.Logger) (Target, error) {
	switch c.Target {
	case "embedded":
		return StartEmbedded(ctx, log)
	case "container", "live":
		return nil, fmt.Errorf("IOTHUB_TARGET=%s: this target is not available yet; use IOTHUB_TARGET=embedded", c.Target)
	default:
		return nil, fmt.Errorf("IOTHUB_TARGET=%q: want embedded, container or live", c.Target)
	}
}
