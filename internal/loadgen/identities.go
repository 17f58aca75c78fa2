package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hubspec/hubspec/hub"
)

// cleanupTimeout bounds the deletes after the run: long enough for a
// throttled live hub to take a thousand deletes with back-off, short
// enough that a dead hub does not hold the terminal. `hubspec sweep`
// removes what it could not.
const cleanupTimeout = 10 * time.Minute

// deviceID names the n-th device (from 1) so that harness.Sweep
// recognises it: "{run prefix}-load-{n}".
func (l *load) deviceID(n int) string { return fmt.Sprintf("%s-load-%05d", l.cfg.Prefix, n) }

// create creates the devices and their modules, each device's modules
// after it, and keeps the identities that will connect.
func (l *load) create(ctx context.Context, errs *int) Rate {
	l.created = make([]string, l.cfg.Devices)
	perDevice := max(l.cfg.ModulesPerDevice, 1)
	ids := make([]identity, l.cfg.Devices*perDevice)
	var mu sync.Mutex
	count := 0
	start := time.Now()
	each(ctx, l.cfg.Devices, l.cfg.Concurrency, 0, func(i int) {
		d := l.deviceID(i + 1)
		l.created[i] = d // before the request: a create cut short may still have happened
		n, err := l.createDevice(ctx, d, ids[i*perDevice:(i+1)*perDevice])
		mu.Lock()
		defer mu.Unlock()
		count += n
		if err != nil && ctx.Err() == nil { // cut short by the run's end is no failure
			*errs++
			l.quoted.add(err)
		}
	})
	elapsed := time.Since(start)
	for _, id := range ids {
		if id.key != "" {
			l.ids = append(l.ids, id)
		}
	}
	return rateOf(count, elapsed)
}

// createDevice creates device d and its modules into ids, and says how many
// creates succeeded; it stops at the first failure.
func (l *load) createDevice(ctx context.Context, d string, ids []identity) (int, error) {
	dev, err := l.reg.CreateDevice(ctx, &hub.Device{DeviceID: d})
	if err != nil {
		return 0, err
	}
	if l.cfg.ModulesPerDevice == 0 {
		ids[0] = identity{deviceID: d, key: primaryKey(dev.Authentication)}
		return 1, nil
	}
	for j := range ids {
		m, err := l.reg.CreateModule(ctx, &hub.Module{DeviceID: d, ModuleID: fmt.Sprintf("m%d", j+1)})
		if err != nil {
			return 1 + j, err
		}
		ids[j] = identity{deviceID: d, moduleID: m.ModuleID, key: primaryKey(m.Authentication)}
	}
	return 1 + len(ids), nil
}

func primaryKey(a *hub.Authentication) string {
	if a == nil || a.SymmetricKey == nil {
		return ""
	}
	return a.SymmetricKey.PrimaryKey
}

// cleanup deletes every device whose create was sent (its modules and
// twins go with it), on a context of its own so a cancelled run still
// cleans up. A device already gone is no error: its create never happened.
func (l *load) cleanup(ctx context.Context, errs *Errors) Rate {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	var mu sync.Mutex
	deleted := 0
	start := time.Now()
	each(ctx, len(l.created), l.cfg.Concurrency, 0, func(i int) {
		if l.created[i] == "" {
			return
		}
		err := l.reg.DeleteDevice(ctx, l.created[i], "*")
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			deleted++
		case !errors.Is(err, hub.ErrDeviceNotFound):
			errs.Cleanup++
			l.quoted.add(err)
		}
	})
	return rateOf(deleted, time.Since(start))
}
