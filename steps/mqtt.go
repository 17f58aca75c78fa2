package steps

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/hub"
)

// mqttSteps are the device's and the module's side: their own MQTT
// connection with their own keys, as the apps on them would open it.
func mqttSteps(sc *godog.ScenarioContext) {
	sc.Step(`^(device|module) "([^"]+)" receives a desired patch with "([^"]+)" equal to (.+)$`, receivesDesiredPatch)
	sc.Step(`^the patch (device|module) "([^"]+)" received has the twin's desired version$`, patchHasTwinVersion)
	sc.Step(`^(device|module) "([^"]+)" reports "([^"]+)" as (.+)$`, reportProperty)
	sc.Step(`^the twin of (device|module) "([^"]+)" as the (?:device|module) reads it (has|does not have) "([^"]+)"(?: equal to (.+))?$`, ownTwinHas)
	connectionSteps(sc)
	bareSteps(sc)
	patchSteps(sc)
	groupSteps(sc)
}

// connectionString builds the identity's connection string from its keys
// (its primary key unless key is given), as the app on it receives it.
func (w *world) connectionString(i ident, key string) (string, error) {
	d, m, err := w.ids(i)
	if err != nil {
		return "", err
	}
	if key == "" {
		keys, err := w.currentKeys(i.kind, i.alias)
		if err != nil {
			return "", err
		}
		key = keys.PrimaryKey
	}
	svc, err := hub.ParseConnectionString(w.target.ServiceConnectionString())
	if err != nil {
		return "", err
	}
	return hub.ConnectionString{HostName: svc.HostName, DeviceID: d, ModuleID: m, SharedAccessKey: key}.String(), nil
}

// dial connects the identity's client with the target's options and then
// the step's own (a later option wins).
func (w *world) dial(ctx context.Context, i ident, cs string, extra ...hub.DialOption) (*hub.MQTTClient, error) {
	opts := append(w.target.DialOptions(), extra...)
	if i.kind == "device" {
		return hub.DialDevice(ctx, cs, opts...)
	}
	return hub.DialModule(ctx, cs, opts...)
}

func (w *world) client(i ident) (*hub.MQTTClient, error) {
	c, ok := w.clients[i]
	if !ok {
		return nil, fmt.Errorf("%s is not connected", i)
	}
	return c, nil
}

// receivesDesiredPatch waits, with a deadline, for the next desired patch
// and checks the property in it.
func receivesDesiredPatch(ctx context.Context, kind, alias, key, value string) error {
	w := worldFrom(ctx)
	i := ident{kind, alias}
	c, err := w.client(i)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	select {
	case p, ok := <-c.DesiredPatches():
		if !ok {
			return fmt.Errorf("%s: connection closed before a desired patch arrived", i)
		}
		w.lastPatch[i] = p
		return sameValue(fmt.Sprintf("desired patch to %s, %q", i, key), p.Properties[key], value)
	case <-dctx.Done():
		return fmt.Errorf("%s received no desired patch within %s", i, waitFor)
	}
}

func patchHasTwinVersion(ctx context.Context, kind, alias string) error {
	w := worldFrom(ctx)
	i := ident{kind, alias}
	p, ok := w.lastPatch[i]
	if !ok {
		return fmt.Errorf("%s has received no patch", i)
	}
	t, ok := w.twins[i]
	if !ok {
		return fmt.Errorf("the service holds no twin of %s", i)
	}
	if p.Version != t.DesiredVersion() {
		return fmt.Errorf("patch to %s has $version %d, the twin's desired $version is %d", i, p.Version, t.DesiredVersion())
	}
	return nil
}

// reportProperty sends a reported patch of one property. The hub's
// refusal (400 for a name it does not allow) is recorded.
func reportProperty(ctx context.Context, kind, alias, key, value string) error {
	return worldFrom(ctx).report(ctx, ident{kind, alias}, func(ctx context.Context, c *hub.MQTTClient) (int64, error) {
		return c.UpdateReported(ctx, map[string]any{key: parseValue(value)})
	})
}

// report sends a reported patch and remembers the $version the hub's
// answer carried; a refusal is recorded.
func (w *world) report(ctx context.Context, i ident, send func(context.Context, *hub.MQTTClient) (int64, error)) error {
	c, err := w.client(i)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	v, err := send(rctx, c)
	if err != nil {
		return w.refused(err)
	}
	w.acked[i] = v
	return nil
}

// ownTwinHas gets the twin over MQTT, as the app on the device or module
// would, and checks a dotted path ("desired.mode", "tags") in the answer
// exactly as the hub sent it. It polls like the service's checks: a device
// may not see a service write at once.
func ownTwinHas(ctx context.Context, kind, alias, has, path, value string) error {
	w := worldFrom(ctx)
	i := ident{kind, alias}
	c, err := w.client(i)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("the twin %s reads, at %s", i, path)
	return Eventually(ctx, waitFor, func(ctx context.Context) error {
		raw, err := c.GetTwinJSON(ctx)
		if err != nil {
			return err
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("%s: the twin it read is not JSON: %w", i, err)
		}
		got, present := lookup(v, strings.Split(path, "."))
		holds := present && (value == "" || sameValue(what, got, value) == nil)
		switch {
		case holds == (has == "has"):
			return nil
		case has == "has" && present:
			return sameValue(what, got, value)
		case has == "has":
			return fmt.Errorf("%s: want %s, got nothing", what, cmp.Or(value, "a value"))
		}
		return fmt.Errorf("%s: want no %s, got %s", what, cmp.Or(value, "value"), canonical(got))
	})
}
