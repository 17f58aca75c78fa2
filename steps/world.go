// Package steps holds Hubspec's godog step definitions: thin glue from
// Gherkin sentences to a per-scenario world that drives a real registry
// client and real MQTT clients against a harness.Target.
//
// The world travels in the context.Context godog hands each step; there is
// no package-level mutable state, so scenarios run concurrently.
//
// Every step's traffic with the hub (REST exchanges, MQTT packets, twin
// snapshots) is attached to it in the report, secrets masked: see
// evidence.go for the contract.
//
// Steps are defined once, as data, in per-domain tables (catalogue.go),
// from which docs/steps.md is generated. Tags form a closed set (tags.go).
package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hubspec/hubspec/hub/service"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/hub"
)

// waitFor bounds every wait on the hub (a patch arriving, a connection).
const waitFor = 10 * time.Second

// settleWithin bounds how long a read after a write polls (see Eventually)
// before its step fails: a live hub is eventually consistent.
const settleWithin = 10 * time.Second

// world is one scenario's state. Identities are known by the aliases the
// feature file uses; the hub sees unique names made by harness.Scenario.
type world struct {
	sc       *harness.Scenario
	target   harness.Target
	registry *service.RegistryClient
	evidence *evidenceLog // what the current step sent and received

	// identities are the identities the scenario named, by kind and
	// alias; named keeps them in the order it first named them.
	identities map[ident]*identityState
	named      []ident
	// lastRefusal is the hub's refusal of the last action, until a step
	// checks it; one left unchecked fails the scenario (see Initialize).
	lastRefusal error
}

type worldKey struct{}

func worldFrom(ctx context.Context) *world { return ctx.Value(worldKey{}).(*world) }

// Initialize returns the godog scenario initializer for a run: every
// scenario gets a fresh world and a cleanup stack that runs even when the
// scenario failed.
func Initialize(run *harness.Run) func(*godog.ScenarioContext) {
	return func(sc *godog.ScenarioContext) {
		sc.Before(func(ctx context.Context, s *godog.Scenario) (context.Context, error) {
			if err := scenarioGate(s, run.Target); err != nil {
				if errors.Is(err, godog.ErrSkip) {
					// godog prints no reason beside skipped steps: log it.
					godog.Logf(ctx, "scenario %q %v", s.Name, err)
				}
				return ctx, err
			}
			w, err := newWorld(run)
			if err != nil {
				return ctx, err
			}
			return context.WithValue(ctx, worldKey{}, w), nil
		})
		sc.After(func(ctx context.Context, _ *godog.Scenario, scenarioErr error) (context.Context, error) {
			w, ok := ctx.Value(worldKey{}).(*world)
			if !ok {
				return ctx, nil
			}
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if err := w.sc.Cleanup(cctx); err != nil {
				// The cleanup's traffic explains its failure, reported on
				// the last step; a clean cleanup's traffic is no step's.
				ctx = godog.Attach(ctx, w.evidence.take()...)
				if scenarioErr == nil {
					return ctx, err
				}
			}
			if w.lastRefusal != nil && scenarioErr == nil {
				// Otherwise a scenario whose action the hub refused
				// would pass as long as nothing after it looked.
				return ctx, fmt.Errorf("the hub refused the last action and no step checked it: %w", w.lastRefusal)
			}
			return ctx, nil
		})
		sc.StepContext().After(attachEvidence)
		registerCatalogue(sc)
		identitySteps(sc)
		twinSteps(sc)
		mqttSteps(sc)
		faultSteps(sc)
	}
}

func newWorld(run *harness.Run) (*world, error) {
	sc := run.NewScenario()
	ev := &evidenceLog{sc: sc}
	opts := append(slices.Clone(run.Target.RegistryOptions()), service.WithObserver(ev.http))
	reg, err := service.NewRegistryClient(run.Target.ServiceConnectionString(), opts...)
	if err != nil {
		return nil, fmt.Errorf("registry client: %w", err)
	}
	w := &world{sc: sc, target: run.Target, registry: reg, evidence: ev, identities: map[ident]*identityState{}}
	// Pushed first, so run last: after the other cleanups, such as
	// clearing a device's registry faults before the device is deleted.
	sc.Defer("the scenario's identities", w.cleanup)
	return w, nil
}

// refused records a refusal from the hub for a later "the hub refuses"
// step; anything that is not an answer from the hub fails the step, and so
// does a refusal while an earlier one is still unchecked.
func (w *world) refused(err error) error {
	if _, ok := hub.AsError(err); !ok {
		return err
	}
	if w.lastRefusal != nil {
		return fmt.Errorf("the hub refused again (%w) before a step checked its earlier refusal: %w", err, w.lastRefusal)
	}
	w.lastRefusal = err
	return nil
}

// takeRefusal returns the hub's refusal of the last action, if any, and
// takes it as checked.
func (w *world) takeRefusal() error {
	err := w.lastRefusal
	w.lastRefusal = nil
	return err
}
