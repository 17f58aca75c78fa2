package harness

import (
	"context"
	"errors"
	"log/slog"
)

// OpenContainer starts the emulator image in a container. (Being written.)
func OpenContainer(ctx context.Context, c Config, log *slog.Logger) (Target, error) {
	return nil, errors.New("IOTHUB_TARGET=container: not available yet")
}
