package loadgen

import (
	"context"
	"sync"
	"time"
)

// each calls fn(i) for i in [0, n), at most limit at a time, starting call
// i no sooner than i/rate seconds after the first (rate 0: no pacing). It
// starts nothing more once ctx is done, and returns when every call it
// started has returned.
func each(ctx context.Context, n, limit int, rate float64, fn func(i int)) {
	slots := make(chan struct{}, limit)
	var wg sync.WaitGroup
	defer wg.Wait()
	start := time.Now()
	for i := range n {
		if rate > 0 && !waitUntil(ctx, start.Add(time.Duration(float64(i)/rate*float64(time.Second)))) {
			return
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { <-slots }()
			fn(i)
		})
	}
}

// waitUntil waits for the clock to reach t; false if ctx ended first.
func waitUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
