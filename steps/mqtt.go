package steps

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/hub"
)

func mqttSteps(sc *godog.ScenarioContext) {
	sc.Step(`^module "([^"]+)" is connected$`, connectModule)
	sc.Step(`^module "([^"]+)" connects with a wrong key$`, connectModuleWithWrongKey)
	sc.Step(`^the hub refuses the connection as not authorized$`, connectionRefusedNotAuthorized)
	sc.Step(`^module "([^"]+)" receives a desired patch with "([^"]+)" equal to (.+)$`, receivesDesiredPatch)
	sc.Step(`^the patch module "([^"]+)" received has the twin's desired version$`, patchHasTwinVersion)
	sc.Step(`^module "([^"]+)" reports "([^"]+)" as (.+)$`, reportProperty)
}

// moduleConnectionString builds the module's connection string from its
// keys, as the tutorial's module app receives it.
func (w *world) moduleConnectionString(alias, key string) (string, error) {
	m, err := w.module(alias)
	if err != nil {
		return "", err
	}
	svc, err := hub.ParseConnectionString(w.target.ServiceConnectionString())
	if err != nil {
		return "", err
	}
	if key == "" {
		key = keysOf(m.Authentication).PrimaryKey
	}
	return hub.ConnectionString{HostName: svc.HostName, DeviceID: m.DeviceID, ModuleID: m.ModuleID, SharedAccessKey: key}.String(), nil
}

// connectModule connects the module with its own key. A live hub may
// refuse a module created a moment ago (CONNACK 5, or 3 while the identity
// is unavailable) until the identity has reached its gateway, so those
// refusals are retried until waitFor; any other failure ends the step at
// once (paho reports a network error as code 254, which is no refusal).
func connectModule(ctx context.Context, alias string) error {
	w := worldFrom(ctx)
	cs, err := w.moduleConnectionString(alias, "")
	if err != nil {
		return err
	}
	var c *hub.MQTTClient
	var dialErr error
	err = Eventually(ctx, waitFor, func(ctx context.Context) error {
		c, dialErr = hub.DialModule(ctx, cs, w.target.DialOptions()...)
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
	w.clients[alias] = c
	w.sc.Defer("disconnect module "+alias, func(context.Context) error { return c.Close() })
	return nil
}

// connectModuleWithWrongKey signs with a random key of the right shape;
// the refusal is recorded for the next step.
func connectModuleWithWrongKey(ctx context.Context, alias string) error {
	w := worldFrom(ctx)
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	cs, err := w.moduleConnectionString(alias, base64.StdEncoding.EncodeToString(raw))
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	c, err := hub.DialModule(dctx, cs, w.target.DialOptions()...)
	if err == nil {
		c.Close()
		return errors.New("module connected with a wrong key")
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

func (w *world) client(alias string) (*hub.MQTTClient, error) {
	c, ok := w.clients[alias]
	if !ok {
		return nil, fmt.Errorf("module %q is not connected", alias)
	}
	return c, nil
}

// receivesDesiredPatch waits, with a deadline, for the next desired patch
// and checks the property in it.
func receivesDesiredPatch(ctx context.Context, alias, key, value string) error {
	w := worldFrom(ctx)
	c, err := w.client(alias)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	select {
	case p, ok := <-c.DesiredPatches():
		if !ok {
			return fmt.Errorf("module %q: connection closed before a desired patch arrived", alias)
		}
		w.lastPatch[alias] = p
		return sameValue(fmt.Sprintf("desired patch to module %q, %q", alias, key), p.Properties[key], value)
	case <-dctx.Done():
		return fmt.Errorf("module %q received no desired patch within %s", alias, waitFor)
	}
}

func patchHasTwinVersion(ctx context.Context, alias string) error {
	w := worldFrom(ctx)
	p, ok := w.lastPatch[alias]
	if !ok {
		return fmt.Errorf("module %q has received no patch", alias)
	}
	t, ok := w.twins[alias]
	if !ok {
		return fmt.Errorf("the service holds no twin of module %q", alias)
	}
	if p.Version != t.DesiredVersion() {
		return fmt.Errorf("patch to module %q has $version %d, the twin's desired $version is %d", alias, p.Version, t.DesiredVersion())
	}
	return nil
}

func reportProperty(ctx context.Context, alias, key, value string) error {
	w := worldFrom(ctx)
	c, err := w.client(alias)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	_, err = c.UpdateReported(rctx, map[string]any{key: parseValue(value)})
	return err
}
