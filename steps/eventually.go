package steps

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/hubspec/hubspec/harness"
)

// Polling starts fast, because an emulator (and usually a live hub) is
// consistent at once or within a few hundred milliseconds, and slows down
// so that a hub that takes seconds (a new identity may take a few seconds
// to be retrievable) is not flooded with reads that count against its
// throttle.
//
// Woken by registry changes (eventually), a check still leaves retryGap
// between tries: while it waits for something time will bring (a fault
// that passes), the other scenarios' changes would otherwise wake it for
// every one.
const (
	firstPoll = 25 * time.Millisecond
	maxPoll   = time.Second
	retryGap  = 5 * time.Millisecond
)

// Eventually calls fn until it returns nil, and returns nil then. When
// timeout has passed it stops and returns fn's last error, saying how many
// tries it made; when ctx ends first it returns at once with ctx's error
// joined to the last one. The first call is immediate, so a target that is
// already consistent (the emulator) costs nothing; later calls wait 25 ms,
// doubling up to 1 s, on a timer that ctx can interrupt.
//
// fn gets a context that ends at the deadline, so a call that blocks (a
// throttled request backing off) is cut short too; an error from such a
// cut-short call says less than the one before it, which is kept instead.
//
// Live hubs are eventually consistent (a read just after a write may still
// show the state before it, see docs/writing-scenarios.md, "Polling"):
// steps read after a write through Eventually. It is exported for projects
// that add their own steps beside Hubspec's and want the same behaviour.
func Eventually(ctx context.Context, timeout time.Duration, fn func(context.Context) error) error {
	return eventuallyWoken(ctx, timeout, nil, fn)
}

// eventually is Eventually for a step: on a target that tells of registry
// changes (harness.RegistryChangeNotifier, the emulators) it also tries
// again the moment the registry changes, so a read after a write, or a
// state the hub reaches on its own (a connection state), costs no poll
// interval; the back-off stays as the bound on each wait. On other targets
// it is Eventually.
func eventually(ctx context.Context, timeout time.Duration, fn func(context.Context) error) error {
	var changes harness.RegistryChangeNotifier
	if w, ok := ctx.Value(worldKey{}).(*world); ok {
		changes, _ = w.target.(harness.RegistryChangeNotifier)
	}
	return eventuallyWoken(ctx, timeout, changes, fn)
}

// eventuallyWoken is Eventually, woken early by changes when it is not nil.
func eventuallyWoken(ctx context.Context, timeout time.Duration, changes harness.RegistryChangeNotifier, fn func(context.Context) error) error {
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	delay := firstPoll
	var last error
	var seen uint64 // the change count before the last try; 0 until a try failed
	for tries := 1; ; tries++ {
		err := fn(dctx)
		if err == nil {
			return nil
		}
		if last == nil || dctx.Err() == nil {
			last = err
		}
		if !rest(dctx, delay, changes, &seen) {
			if ctx.Err() != nil {
				return fmt.Errorf("%w (stopped after %d tries: %w)", last, tries, ctx.Err())
			}
			return fmt.Errorf("%w (still so after %d tries in %s)", last, tries, timeout)
		}
		delay = min(2*delay, maxPoll)
	}
}

// rest waits for d, or only until the registry changes after *seen when
// changes is not nil, and reports false as soon as ctx is done. The first
// time (*seen 0) it only learns the count: a change between the failed
// try and that costs at most d.
func rest(ctx context.Context, d time.Duration, changes harness.RegistryChangeNotifier, seen *uint64) bool {
	if changes == nil {
		return pause(ctx, d)
	}
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if *seen == 0 {
		*seen, _ = changes.AwaitRegistryChange(wctx, 0)
	}
	if n, err := changes.AwaitRegistryChange(wctx, *seen); err == nil {
		*seen = n
		return pause(ctx, retryGap)
	}
	<-wctx.Done() // a remote answer may come a little early; the wait is d
	return ctx.Err() == nil
}

// pause waits for d and reports true, or reports false as soon as ctx is
// done (at once if it already is).
func pause(ctx context.Context, d time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// pollDoc reads a document until judge accepts it, for up to within (see
// Eventually).
func pollDoc(ctx context.Context, within time.Duration, read func(context.Context) (any, error), judge func(any) error) error {
	return eventually(ctx, within, func(ctx context.Context) error {
		doc, err := read(ctx)
		if err != nil {
			return err
		}
		return judge(doc)
	})
}

// receive waits for the next value on ch until ctx ends (then err is
// ctx's); closed says ch was closed instead.
func receive[T any](ctx context.Context, ch <-chan T) (v T, closed bool, err error) {
	select {
	case v, ok := <-ch:
		return v, !ok, nil
	case <-ctx.Done():
		return v, false, ctx.Err()
	}
}

// seconds is a whole number of seconds as a step writes it.
func seconds(s string) time.Duration {
	n, _ := strconv.Atoi(s)
	return time.Duration(n) * time.Second
}
