package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/device"
)

// A step whose action the hub refuses does not fail: the scenario may
// expect the refusal. But it must say so at once: the very next step must
// be one of the refusal checks, which all read "the hub refuses ...".
// Otherwise the step that got the refusal fails, showing it. A refusal
// kept for any later step would let a refused write followed by a
// successful one pass "the hub refuses with 412", and would make an
// ordinary check after a refused write fail with its own timeout, far from
// the cause.

// refusalCheckPrefix starts the text of every step that checks a refusal
// (hubRefuses, connectionRefused, queryRefusedAt).
const refusalCheckPrefix = "the hub refuses"

// uncheckedRefusal is the After step hook that fails a step the hub
// refused when the next step does not check the refusal.
func uncheckedRefusal(ctx context.Context, st *godog.Step, _ godog.StepResultStatus, err error) (context.Context, error) {
	w, ok := ctx.Value(worldKey{}).(*world)
	if !ok || err != nil || w.lastRefusal == nil {
		return ctx, nil // godog adds a hook's error to the step's: never return it
	}
	if next := w.nextStep(st); next != nil && strings.HasPrefix(next.Text, refusalCheckPrefix) {
		return ctx, nil
	}
	refusal := w.takeRefusal()
	return ctx, fmt.Errorf("the hub refused this step: %w\nif the scenario expects that, check it in the very next step: Then %s", refusal, refusalCheckFor(refusal))
}

// nextStep is the step of the scenario after st, or nil for its last.
func (w *world) nextStep(st *godog.Step) *godog.Step {
	if w.scenario == nil {
		return nil
	}
	i := slices.IndexFunc(w.scenario.Steps, func(s *godog.Step) bool { return s.Id == st.Id })
	if i < 0 || i+1 == len(w.scenario.Steps) {
		return nil
	}
	return w.scenario.Steps[i+1]
}

// refusalCheckFor is the step that checks a refusal, as an example.
func refusalCheckFor(err error) string {
	if e, ok := hub.AsError(err); ok {
		return fmt.Sprintf("the hub refuses with %d %s", e.StatusCode, e.Name)
	}
	var c *device.ConnectRefusedError
	if errors.As(err, &c) && c.Code == 3 {
		return "the hub refuses the connection as the device is disabled"
	}
	return "the hub refuses the connection as not authorized"
}
