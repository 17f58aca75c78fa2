// Package clock is a clock that keeps pace with the wall clock and that a
// test can move forward: what a hub or a client does after some time (a
// fault window ending, a method call timing out, a token renewed) then
// happens at once instead of after real seconds, and happens as it would
// have, because every timer on the clock fires when its moment comes,
// whether the wall clock brought it or a move did.
//
// The emulator keeps one per device (Server.AdvanceDeviceClock) and a
// scenario gives one to its clients, so moving the time of one scenario
// leaves the others that share the emulator where they were. The clock
// only moves forward: time that went back would break the order of what
// was stamped with it.
package clock

import (
	"sync"
	"time"
)

// Clock is the wall clock (or the base a test gives New) plus how far it
// was moved forward. The zero value is not usable; use New.
type Clock struct {
	base func() time.Time

	mu     sync.Mutex
	offset time.Duration
	timers map[*timer]struct{} // armed, not yet fired or stopped
}

// timer is one AfterFunc: due at deadline on the clock, armed on the wall
// clock for what is left of it, re-armed whenever the clock moves.
type timer struct {
	deadline time.Time
	fn       func()
	wall     *time.Timer
}

// New returns a clock that reads base (time.Now when nil) moved by nothing.
func New(base func() time.Time) *Clock {
	if base == nil {
		base = time.Now
	}
	return &Clock{base: base, timers: map[*timer]struct{}{}}
}

// Now is the clock's time: the base's, plus every move so far.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base().Add(c.offset)
}

// Offset is how far the clock has been moved in all.
func (c *Clock) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

// AfterFunc runs fn on its own goroutine once d has passed on the clock,
// by the wall clock or by Advance, whichever comes first, unless stop is
// called before; stop reports whether it prevented the call, as
// time.Timer.Stop does.
func (c *Clock) AfterFunc(d time.Duration, fn func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{deadline: c.base().Add(c.offset + d), fn: fn}
	c.timers[t] = struct{}{}
	t.wall = time.AfterFunc(max(d, 0), func() { c.fire(t) })
	return func() bool { return c.stop(t) }
}

// After is AfterFunc as a channel, for a select: it is closed once d has
// passed on the clock. stop releases the timer when the caller gives up.
func (c *Clock) After(d time.Duration) (done <-chan struct{}, stop func() bool) {
	ch := make(chan struct{})
	return ch, c.AfterFunc(d, func() { close(ch) })
}

// Advance moves the clock forward by d (nothing for d <= 0) and fires, each
// on its own goroutine, every timer whose moment that reaches; the others
// are armed again for what is left of their time. It returns how many
// timers it fired, without waiting for their functions to finish.
func (c *Clock) Advance(d time.Duration) (fired int) {
	if d <= 0 {
		return 0
	}
	c.mu.Lock()
	c.offset += d
	now := c.base().Add(c.offset)
	var due []func()
	for t := range c.timers {
		if left := t.deadline.Sub(now); left > 0 {
			t.wall.Reset(left)
			continue
		}
		t.wall.Stop()
		delete(c.timers, t)
		due = append(due, t.fn)
	}
	c.mu.Unlock()
	for _, fn := range due {
		go fn()
	}
	return len(due)
}

// Pending is how many timers are armed and have not fired or been stopped.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// fire runs t's function when its wall-clock timer goes off, unless it
// already ran (Advance) or was stopped. The wall timer was armed for what
// was left of t's time, so real time alone has made t due; with a base
// that stands still (a test's pinned clock) real time is what moves it.
func (c *Clock) fire(t *timer) {
	c.mu.Lock()
	_, armed := c.timers[t]
	delete(c.timers, t)
	c.mu.Unlock()
	if armed {
		t.fn()
	}
}

func (c *Clock) stop(t *timer) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, armed := c.timers[t]; !armed {
		return false
	}
	delete(c.timers, t)
	t.wall.Stop()
	return true
}
