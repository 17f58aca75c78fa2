package steps

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/hub"
)

// mqttSteps are the device's and the module's side: their own MQTT
// connection with their own keys, as the apps on them would open it.
func mqttSteps(sc *godog.ScenarioContext) {
	sc.Step(`^(device|module) "([^"]+)" is connected$`, connect)
	sc.Step(`^(device|module) "([^"]+)" connects with a wrong key$`, connectWithWrongKey)
	sc.Step(`^the hub refuses the connection as not authorized$`, connectionRefusedNotAuthorized)
	sc.Step(`^(device|module) "([^"]+)" receives a desired patch with "([^"]+)" equal to (.+)$`, receivesDesiredPatch)
	sc.Step(`^the patch (device|module) "([^"]+)" received has the twin's desired version$`, patchHasTwinVersion)
	sc.Step(`^(device|module) "([^"]+)" reports "([^"]+)" as (.+)$`, reportProperty)
	sc.Step(`^the twin of (device|module) "([^"]+)" as the (?:device|module) reads it (has|does not have) "([^"]+)"(?: equal to (.+))?$`, ownTwinHas)
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

func (w *world) dial(ctx context.Context, i ident, cs string) (*hub.MQTTClient, error) {
	if i.kind == "device" {
		return hub.DialDevice(ctx, cs, w.target.DialOptions()...)
	}
	return hub.DialModule(ctx, cs, w.target.DialOptions()...)
}

// connect connects the identity with its own key. A live hub may refuse
// an identity created a moment ago (CONNACK 5, or 3 while the identity is
// unavailable) until it has reached its gateway, so those refusals are
// retried until waitFor; any other failure ends the step at once (paho
// reports a network error as code 254, which is no refusal).
func connect(ctx context.Context, kind, alias string) error {
	w := worldFrom(ctx)
	i := ident{kind, alias}
	cs, err := w.connectionString(i, "")
	if err != nil {
		return err
	}
	var c *hub.MQTTClient
	var dialErr error
	err = Eventually(ctx, waitFor, func(ctx context.Context) error {
		c, dialErr = w.dial(ctx, i, cs)
		var refused *hub.ConnectRefusedError
		if errors.As(dialErr, &refused) && (refused.Code == 5 || refused.Code == 3) {
			return dialErr
		}
		return nil
	})
	if err != nil {
		return err
	}
	if dialErr != nil {
		return dialErr
	}
	w.clients[i] = c
	w.sc.Defer("disconnect "+i.String(), func(context.Context) error { return c.Close() })
	return nil
}

// connectWithWrongKey signs with a random key of the right shape; the
// refusal is recorded for the next step.
func connectWithWrongKey(ctx context.Context, kind, alias string) error {
	w := worldFrom(ctx)
	i := ident{kind, alias}
	cs, err := w.connectionString(i, randomKey())
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	c, err := w.dial(dctx, i, cs)
	if err == nil {
		c.Close()
		return fmt.Errorf("%s connected with a wrong key", i)
	}
	w.lastRefusal = err
	return nil
}

// connectionRefusedNotAuthorized checks for CONNACK 5, what IoT Hub answers
// for a bad key (protocol.md §2.5).
func connectionRefusedNotAuthorized(ctx context.Context) error {
	w := worldFrom(ctx)
	err := w.lastRefusal
	w.lastRefusal = nil
	var refused *hub.ConnectRefusedError
	if !errors.As(err, &refused) {
		return fmt.Errorf("expected the hub to refuse the connection, got %v", err)
	}
	if refused.Code != 5 {
		return fmt.Errorf("expected CONNACK 5 (not authorized), got %d", refused.Code)
	}
	return nil
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
	w := worldFrom(ctx)
	c, err := w.client(ident{kind, alias})
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	if _, err = c.UpdateReported(rctx, map[string]any{key: parseValue(value)}); err != nil {
		return w.refused(err)
	}
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
