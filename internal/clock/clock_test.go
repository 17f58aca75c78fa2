package clock

import (
	"testing"
	"time"
)

// fired reports whether ch is closed within a generous wall-clock bound,
// long enough for a goroutine to run on a loaded machine and far shorter
// than the hours the timers below are set for.
func fired(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-time.After(5 * time.Second):
		return false
	}
}

func TestAdvanceFiresWhatItReachesAndNothingElse(t *testing.T) {
	c := New(nil)
	soon, _ := c.After(time.Hour)
	later, _ := c.After(3 * time.Hour)
	if n := c.Advance(time.Hour); n != 1 {
		t.Fatalf("Advance fired %d timers, want 1", n)
	}
	if !fired(soon) {
		t.Fatal("a timer an hour away did not fire when the clock moved an hour")
	}
	select {
	case <-later:
		t.Fatal("a timer three hours away fired after a move of one")
	default:
	}
	if got := c.Pending(); got != 1 {
		t.Fatalf("Pending = %d, want 1 (the three-hour timer)", got)
	}
	c.Advance(2 * time.Hour)
	if !fired(later) {
		t.Fatal("the three-hour timer did not fire once the clock had moved three hours")
	}
	if got := c.Pending(); got != 0 {
		t.Fatalf("Pending = %d after every timer fired", got)
	}
}

func TestNowIsTheBasePlusEveryMove(t *testing.T) {
	base := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	c := New(func() time.Time { return base })
	c.Advance(90 * time.Second)
	c.Advance(-time.Hour) // the clock never goes back
	if got, want := c.Now(), base.Add(90*time.Second); !got.Equal(want) {
		t.Fatalf("Now = %v, want %v", got, want)
	}
	if got := c.Offset(); got != 90*time.Second {
		t.Fatalf("Offset = %v, want 1m30s", got)
	}
}

func TestTheWallClockStillFiresTimers(t *testing.T) {
	c := New(nil)
	done, _ := c.After(time.Millisecond)
	if !fired(done) {
		t.Fatal("a one-millisecond timer never fired on the wall clock")
	}
}

func TestStopPreventsTheCall(t *testing.T) {
	c := New(nil)
	called := make(chan struct{})
	stop := c.AfterFunc(time.Hour, func() { close(called) })
	if !stop() {
		t.Fatal("stop of an armed timer reported false")
	}
	if stop() {
		t.Fatal("a second stop reported true")
	}
	if n := c.Advance(2 * time.Hour); n != 0 {
		t.Fatalf("Advance past a stopped timer fired %d timers", n)
	}
}

func TestATimerSetAfterAMoveCountsFromTheMovedClock(t *testing.T) {
	c := New(nil)
	c.Advance(time.Hour)
	done, _ := c.After(time.Hour)
	c.Advance(59 * time.Minute)
	select {
	case <-done:
		t.Fatal("a timer set after a move fired before its hour on the clock")
	default:
	}
	c.Advance(time.Minute)
	if !fired(done) {
		t.Fatal("the timer did not fire once its hour had passed on the clock")
	}
}
