package harness

import (
	"context"
	"errors"
	"time"

	"github.com/hubspec/hubspec/hub"
)

// Sweep deletes a live hub's leftover identities of a run prefix. (Being written.)
func Sweep(ctx context.Context, reg *hub.RegistryClient, prefix string, olderThan time.Duration, now time.Time) ([]string, error) {
	return nil, errors.New("sweep: not available yet")
}
