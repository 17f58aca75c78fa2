package loadgen

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/device"
)

// loadProperty is the twin property the patches set, desired and reported.
const loadProperty = "hubspecLoad"

// connect dials every identity at the ramp's pace. The rate is the
// connects over the time from the first dial to the last connected.
func (l *load) connect(ctx context.Context, errs *int) Connects {
	lat := samples{quoted: &l.quoted}
	var mu sync.Mutex
	var first, last time.Time
	each(ctx, len(l.ids), l.cfg.Concurrency, l.cfg.Ramp, func(i int) {
		start := time.Now()
		c, err := l.dial(ctx, l.ids[i])
		end := time.Now()
		lat.add(ctx, end.Sub(start), err)
		if err != nil {
			return
		}
		l.ids[i].client = c
		mu.Lock()
		defer mu.Unlock()
		if first.IsZero() || start.Before(first) {
			first = start
		}
		if end.After(last) {
			last = end
		}
	})
	*errs += lat.errors
	return Connects{Rate: rateOf(len(lat.d), last.Sub(first)), Latency: latencyOf(lat.d)}
}

// dial connects one identity with the target's options: it returns once
// connected, subscribed and its twin read, as an app's client starts.
func (l *load) dial(ctx context.Context, id identity) (*device.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	cs := hub.ConnectionString{HostName: l.host, DeviceID: id.deviceID, ModuleID: id.moduleID, SharedAccessKey: id.key}.String()
	if id.moduleID != "" {
		return device.DialModule(ctx, cs, l.target.DialOptions()...)
	}
	return device.DialDevice(ctx, cs, l.target.DialOptions()...)
}

// patch gives every connected identity Patches desired patches, each
// awaited on its connection, and as many reported patches.
func (l *load) patch(ctx context.Context, errs *Errors) (desired, reported Latency) {
	want := samples{quoted: &l.quoted}
	got := samples{quoted: &l.quoted}
	each(ctx, len(l.ids), l.cfg.Concurrency, 0, func(i int) {
		id := l.ids[i]
		if id.client == nil {
			return
		}
		for r := 1; r <= l.cfg.Patches && ctx.Err() == nil; r++ {
			start := time.Now()
			err := l.desired(ctx, id, r)
			want.add(ctx, time.Since(start), err)
			start = time.Now()
			_, err = id.client.UpdateReported(ctx, map[string]any{loadProperty: r})
			if err != nil {
				err = fmt.Errorf("report %s: %w", id, err)
			}
			got.add(ctx, time.Since(start), err)
		}
	})
	errs.Desired += want.errors
	errs.Reported += got.errors
	return latencyOf(want.d), latencyOf(got.d)
}

// desired patches the identity's twin through the service and waits for
// the patch of that $version (or a later one) on its connection.
func (l *load) desired(ctx context.Context, id identity, r int) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	tw, err := l.reg.PatchDesired(ctx, id.deviceID, id.moduleID, map[string]any{loadProperty: r}, "")
	if err != nil {
		return err
	}
	for {
		select {
		case p, ok := <-id.client.DesiredPatches():
			if !ok {
				return fmt.Errorf("%s: connection closed before desired $version %d arrived", id, tw.DesiredVersion)
			}
			if p.Version >= tw.DesiredVersion {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("%s: desired $version %d did not arrive: %w", id, tw.DesiredVersion, ctx.Err())
		}
	}
}

// disconnect closes every client at once: each waits a moment for its
// DISCONNECT to leave.
func (l *load) disconnect() {
	var wg sync.WaitGroup
	for _, id := range l.ids {
		if id.client != nil {
			wg.Go(func() { id.client.Close() })
		}
	}
	wg.Wait()
}

func (id identity) String() string {
	if id.moduleID == "" {
		return id.deviceID
	}
	return id.deviceID + "/" + id.moduleID
}
