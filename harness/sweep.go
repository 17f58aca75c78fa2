package harness

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hubspec/hubspec/hub/service"

	"github.com/hubspec/hubspec/hub"
)

// sweepPage is how many devices one listing asks for: the most the
// registry's GET /devices answers.
const sweepPage = 1000

// Sweep deletes the identities that runs under prefix left on a hub: every
// device whose id starts with prefix, is named like a run's identity
// ("{run prefix}-{alias}-{scenario id}", see NewRun) and whose run began at
// least olderThan before now. Deleting a device deletes its modules and
// twins. It returns the ids it deleted, in listing order.
//
// A run's age comes from its prefix alone (the registry records no creation
// time), counted from the start of the minute it began in; choose olderThan
// well above a run's length (an hour) so a run still going is never swept.
//
// Safety first, since it deletes from a real hub: prefix must start with
// "hs" and have at least four characters (so a slip cannot take every
// hubspec leftover, let alone a whole hub), olderThan must not be negative,
// and ids that do not parse as a run's names are never touched, even under
// the prefix. A device already gone counts as deleted by someone else and
// is skipped; other failures do not stop the sweep and come back joined
// with the ids deleted so far.
//
// GET /devices answers at most 1000 devices and has no continuation; Sweep
// lists again after a full page from which it deleted something, so a hub
// with many leftovers is emptied in one call, but leftovers hidden behind
// 1000 other devices stay until those are gone.
func Sweep(ctx context.Context, reg *service.RegistryClient, prefix string, olderThan time.Duration, now time.Time) ([]string, error) {
	switch {
	case reg == nil:
		return nil, errors.New("sweep: no registry client")
	case !strings.HasPrefix(prefix, runPrefixTag) || len(prefix) < 4:
		return nil, fmt.Errorf("sweep: prefix %q refused: it must start with %q and have at least 4 characters", prefix, runPrefixTag)
	case olderThan < 0:
		return nil, fmt.Errorf("sweep: negative age %s refused", olderThan)
	}
	var deleted []string
	var errs []error
	tried := map[string]bool{} // a device that failed to delete is not tried again
	for {
		devices, err := reg.ListDevices(ctx, sweepPage)
		if err != nil {
			return deleted, errors.Join(append(errs, fmt.Errorf("sweep: %w", err))...)
		}
		n := 0
		for _, d := range devices {
			if !sweepable(d.DeviceID, prefix, olderThan, now) || tried[d.DeviceID] {
				continue
			}
			tried[d.DeviceID] = true
			err := reg.DeleteDevice(ctx, d.DeviceID, "*")
			switch {
			case err == nil:
				deleted = append(deleted, d.DeviceID)
				n++
			case errors.Is(err, hub.ErrDeviceNotFound):
			case ctx.Err() != nil:
				return deleted, errors.Join(append(errs, fmt.Errorf("sweep: %w", err))...)
			default:
				errs = append(errs, fmt.Errorf("sweep: %w", err))
			}
		}
		if len(devices) < sweepPage || n == 0 {
			return deleted, errors.Join(errs...)
		}
	}
}

// sweepable says whether a device id is a leftover Sweep may delete.
func sweepable(id, prefix string, olderThan time.Duration, now time.Time) bool {
	if !strings.HasPrefix(id, prefix) || strings.Count(id, "-") < 2 {
		return false
	}
	started, ok := runStarted(id)
	return ok && !started.Add(olderThan).After(now)
}
