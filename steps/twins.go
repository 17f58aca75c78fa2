package steps

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/hub"
)

func twinSteps(sc *godog.ScenarioContext) {
	sc.Step(`^the service (?:reads|has read) the twin of module "([^"]+)"$`, readModuleTwin)
	sc.Step(`^the service sets desired "([^"]+)" of module "([^"]+)" to (.+) with the twin's etag$`, setDesiredWithEtag)
	sc.Step(`^someone else has since set desired "([^"]+)" of module "([^"]+)" to (.+)$`, setDesiredUnconditionally)
	sc.Step(`^the twin of module "([^"]+)" has desired "([^"]+)" equal to (.+)$`, twinHasDesired)
	sc.Step(`^the desired version of module "([^"]+)" is higher than when the service first read it$`, desiredVersionWentUp)
	sc.Step(`^the service sees reported "([^"]+)" of module "([^"]+)" equal to (.+)$`, serviceSeesReported)
}

// moduleIDs resolves a module alias to the hub's device and module ids.
func (w *world) moduleIDs(alias string) (string, string, error) {
	m, err := w.module(alias)
	if err != nil {
		return "", "", err
	}
	return m.DeviceID, m.ModuleID, nil
}

// readModuleTwin reads the twin whose etag later patches use. A live hub
// may answer 404 for the twin of a module created a moment ago, so the
// read polls until settleWithin.
func readModuleTwin(ctx context.Context, alias string) error {
	w := worldFrom(ctx)
	d, m, err := w.moduleIDs(alias)
	if err != nil {
		return err
	}
	return Eventually(ctx, settleWithin, func(ctx context.Context) error {
		t, err := w.registry.GetModuleTwin(ctx, d, m)
		if err != nil {
			return err
		}
		w.twins[alias] = t
		if _, ok := w.firstTwin[alias]; !ok {
			w.firstTwin[alias] = t
		}
		return nil
	})
}

// setDesiredWithEtag patches one desired property with the etag of the twin
// the service last read (reading it first if it has not), as the tutorial
// does. A refusal (412 when someone changed the twin since) is recorded.
func setDesiredWithEtag(ctx context.Context, key, alias, value string) error {
	w := worldFrom(ctx)
	if _, ok := w.twins[alias]; !ok {
		if err := readModuleTwin(ctx, alias); err != nil {
			return err
		}
	}
	return w.patchDesired(ctx, alias, key, value, w.twins[alias].ETag)
}

// setDesiredUnconditionally changes the twin behind the scenario's back
// (If-Match: *), leaving the etag the service holds outdated.
func setDesiredUnconditionally(ctx context.Context, key, alias, value string) error {
	w := worldFrom(ctx)
	held := w.twins[alias]
	if err := w.patchDesired(ctx, alias, key, value, "*"); err != nil {
		return err
	}
	if w.lastRefusal != nil {
		return w.lastRefusal
	}
	w.twins[alias] = held
	return nil
}

func (w *world) patchDesired(ctx context.Context, alias, key, value, etag string) error {
	d, m, err := w.moduleIDs(alias)
	if err != nil {
		return err
	}
	patch := &hub.Twin{Properties: &hub.TwinProperties{Desired: map[string]any{key: parseValue(value)}}}
	t, err := w.registry.UpdateModuleTwin(ctx, d, m, patch, etag)
	if err != nil {
		return w.refused(err)
	}
	w.twins[alias] = t
	return nil
}

// The checks below read the hub after a write: on a live hub the write
// may take a moment to show, so each polls (see checkTwin).

func twinHasDesired(ctx context.Context, alias, key, value string) error {
	return checkTwin(ctx, alias, func(t *hub.Twin) error {
		return sameValue(fmt.Sprintf("desired %q of module %q", key, alias), desired(t)[key], value)
	})
}

func desiredVersionWentUp(ctx context.Context, alias string) error {
	first, ok := worldFrom(ctx).firstTwin[alias]
	if !ok {
		return fmt.Errorf("the service never read the twin of module %q", alias)
	}
	return checkTwin(ctx, alias, func(t *hub.Twin) error {
		if t.DesiredVersion() <= first.DesiredVersion() {
			return fmt.Errorf("desired $version of module %q: was %d, now %d; want higher", alias, first.DesiredVersion(), t.DesiredVersion())
		}
		return nil
	})
}

func serviceSeesReported(ctx context.Context, key, alias, value string) error {
	return checkTwin(ctx, alias, func(t *hub.Twin) error {
		var reported map[string]any
		if t.Properties != nil {
			reported = t.Properties.Reported
		}
		return sameValue(fmt.Sprintf("reported %q of module %q", key, alias), reported[key], value)
	})
}

// checkTwin reads the module twin afresh, without replacing the one whose
// etag the scenario holds, until check accepts it or settleWithin passes;
// then the last read error or check failure is the step's.
func checkTwin(ctx context.Context, alias string, check func(*hub.Twin) error) error {
	w := worldFrom(ctx)
	d, m, err := w.moduleIDs(alias)
	if err != nil {
		return err
	}
	return Eventually(ctx, settleWithin, func(ctx context.Context) error {
		t, err := w.registry.GetModuleTwin(ctx, d, m)
		if err != nil {
			return err
		}
		return check(t)
	})
}

func desired(t *hub.Twin) map[string]any {
	if t.Properties == nil {
		return nil
	}
	return t.Properties.Desired
}

// parseValue reads a value written in a step as JSON (122, "slow", true,
// {"a":1}); a bare word is taken as a string.
func parseValue(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return s
	}
	return v
}

// sameValue compares a value from the hub with one written in a step, as
// JSON, so 122 and 122.0 agree and key order does not matter.
func sameValue(what string, got any, want string) error {
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(parseValue(want))
	if string(gotJSON) != string(wantJSON) {
		return fmt.Errorf("%s: want %s, got %s", what, wantJSON, gotJSON)
	}
	return nil
}
