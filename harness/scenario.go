package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Run is one suite run against one target. Every identity it creates is
// named under Prefix, so concurrent runs never collide and a live hub's
// leftovers can be swept by prefix.
type Run struct {
	Target Target
	Prefix string

	feedback cloudFeedback // the run's reader of cloud-to-device feedback (feedback.go)
}

// NewRun returns a run with a fresh prefix that says when the run began:
// "hs", the Unix minute in base 36 (five digits until 2084) and two random
// hex digits, e.g. "hshq3x0a7". The registry keeps no creation time, so
// Sweep reads a leftover's age from its name; the random digits keep two
// runs started in the same minute apart. Names stay short: ids may have
// 128 characters and a scenario's are "{prefix}-{alias}-{8 hex}".
func NewRun(t Target) *Run {
	return &Run{Target: t, Prefix: runPrefix(time.Now())}
}

// runPrefixTag starts every run prefix; Sweep touches nothing else.
const runPrefixTag = "hs"

// runPrefix is the prefix of a run started at now.
func runPrefix(now time.Time) string {
	return runPrefixTag + strconv.FormatInt(now.Unix()/60, 36) + randomHex(1)
}

// runStarted reads the start minute back from a run prefix or from an id
// made under one ("{prefix}-..."). ok is false for anything a run did not
// name: another prefix, too few base-36 digits, a bad random suffix.
func runStarted(id string) (time.Time, bool) {
	prefix, _, _ := strings.Cut(id, "-")
	minutes, ok := strings.CutPrefix(prefix, runPrefixTag)
	if !ok || len(minutes) < 5+2 {
		return time.Time{}, false
	}
	minutes, random := minutes[:len(minutes)-2], minutes[len(minutes)-2:]
	if _, err := hex.DecodeString(random); err != nil || strings.ToLower(random) != random {
		return time.Time{}, false
	}
	m, err := strconv.ParseInt(minutes, 36, 64)
	if err != nil || strings.ToLower(minutes) != minutes || m <= 0 || m > 1<<40 {
		return time.Time{}, false
	}
	return time.Unix(m*60, 0), true
}

// Scenario is the lifecycle of one scenario: a short unique id and a LIFO
// cleanup stack.
type Scenario struct {
	Run *Run
	ID  string

	mu       sync.Mutex
	cleanups []cleanup
}

type cleanup struct {
	what string
	fn   func(context.Context) error
}

// NewScenario starts a scenario's lifecycle.
func (r *Run) NewScenario() *Scenario {
	return &Scenario{Run: r, ID: randomHex(4)}
}

// Name is the unique resource name for an alias used in a feature file:
// "{run prefix}-{alias}-{scenario id}". Identity ids allow '-' and the
// result stays far below the 128-character limit for sensible aliases.
func (s *Scenario) Name(alias string) string {
	return fmt.Sprintf("%s-%s-%s", s.Run.Prefix, alias, s.ID)
}

// Defer pushes a cleanup; what names it in errors.
func (s *Scenario) Defer(what string, fn func(context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, cleanup{what: what, fn: fn})
}

// Cleanup runs every cleanup, last pushed first, even after one fails, and
// returns their errors joined.
func (s *Scenario) Cleanup(ctx context.Context) error {
	s.mu.Lock()
	cs := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	var errs []error
	for i := len(cs) - 1; i >= 0; i-- {
		if err := cs[i].fn(ctx); err != nil {
			errs = append(errs, fmt.Errorf("cleanup %s: %w", cs[i].what, err))
		}
	}
	return errors.Join(errs...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
