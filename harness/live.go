package harness

import (
	"context"
	"errors"
)

// OpenLive connects to a live hub. (Being written.)
func OpenLive(ctx context.Context, c Config) (Target, error) {
	return nil, errors.New("IOTHUB_TARGET=live: not available yet")
}
