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

	"github.com/hubspec/hubspec/hub/device"
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

	devices   map[string]*hub.Device        // device alias → as last returned by the hub
	modules   map[string]*hub.Module        // module alias → as last returned by the hub
	deviceOf  map[string]string             // module alias → device alias
	gone      map[ident]bool                // identities the scenario deleted
	firstKeys map[ident]hub.SymmetricKey    // keys when first created
	givenKeys map[ident]hub.SymmetricKey    // keys the service last chose for it
	etags     map[ident][]string            // identity etags seen, oldest first
	twins     map[ident]*hub.Twin           // twin as the service last read or wrote it (its etag is the one held)
	readTwin  map[ident]*hub.Twin           // twin as the service last read it: what "since the service read it" compares with
	twinEtags map[ident][]string            // twin etags seen, oldest first
	clients   map[ident]*device.Client      // connected devices and modules
	lastPatch map[ident]device.DesiredPatch // the last desired patch each received
	acked     map[ident]int64               // reported $version the hub answered to the last report
	bare      map[ident][]*bareConn         // bare MQTT connections, oldest first (mqtt_bare.go)
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
	return &world{
		sc:        sc,
		target:    run.Target,
		registry:  reg,
		evidence:  ev,
		devices:   map[string]*hub.Device{},
		modules:   map[string]*hub.Module{},
		deviceOf:  map[string]string{},
		gone:      map[ident]bool{},
		firstKeys: map[ident]hub.SymmetricKey{},
		givenKeys: map[ident]hub.SymmetricKey{},
		etags:     map[ident][]string{},
		twins:     map[ident]*hub.Twin{},
		readTwin:  map[ident]*hub.Twin{},
		twinEtags: map[ident][]string{},
		clients:   map[ident]*device.Client{},
		lastPatch: map[ident]device.DesiredPatch{},
		acked:     map[ident]int64{},
		bare:      map[ident][]*bareConn{},
	}, nil
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

// module returns a module the scenario created, with its device id.
func (w *world) module(alias string) (*hub.Module, error) {
	m, ok := w.modules[alias]
	if !ok {
		return nil, fmt.Errorf("module %q: the scenario has not created it", alias)
	}
	return m, nil
}

func (w *world) device(alias string) (*hub.Device, error) {
	d, ok := w.devices[alias]
	if !ok {
		return nil, fmt.Errorf("device %q: the scenario has not created it", alias)
	}
	return d, nil
}
