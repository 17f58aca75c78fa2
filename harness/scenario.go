package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
)

// Run is one suite run against one target. Every identity it creates is
// named under Prefix, so concurrent runs never collide and a live hub's
// leftovers can be swept by prefix.
type Run struct {
	Target Target
	Prefix string
}

// NewRun returns a run with a fresh random prefix ("hs" + 6 hex digits).
func NewRun(t Target) *Run {
	return &Run{Target: t, Prefix: "hs" + randomHex(3)}
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
