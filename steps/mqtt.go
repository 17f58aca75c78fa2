package steps

import (
	"context"
	"fmt"

	"github.com/hubspec/hubspec/steps/internal/vocab"

	"github.com/hubspec/hubspec/hub/device"

	"github.com/hubspec/hubspec/hub"
)

// mqttVocabulary are the device's and the module's side: their own MQTT
// connection with their own keys, as the apps on them would open it
// (mqtt_connect.go), and what goes over it.
var mqttVocabulary = []vocab.Def{
	step(mqtt, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) receives a desired patch with "([^"]+)" equal to (.+?)( on its bare connection)?$`, receivesPatch,
		"Waits for the next desired patch to reach the identity's connection, or its latest bare connection, and checks a property in it.",
		"", "", keyDoc),
	step(mqtt, `^the patch (device|module) ("[^"]+"(?: on device "[^"]+")?) received has the twin's desired version$`, patchHasTwinVersion,
		"Checks that the last desired patch the identity received carries the desired $version of the twin the service holds."),
	step(mqtt, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) reports "([^"]+)" as (.+)$`, reportProperty,
		"The device or module reports one property over its connection; a refusal is left for the next step to check.",
		"", "", keyDoc),
	step(mqtt, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) reports properties of (\d+) bytes$`, reportOfSize,
		"The device or module reports properties of exactly N bytes, as IoT Hub counts a twin section's size (members p00, p01, ... of strings), to try the hub's limit; a refusal is left for the next step to check."),
}

// receivesPatch is the one step for a desired patch arriving, on the
// identity's twin client or on its latest bare connection.
func receivesPatch(ctx context.Context, kind, alias, key, value, bare string) error {
	if bare != "" {
		return bareDesired(ctx, kind, alias, key, value)
	}
	return receivesDesiredPatch(ctx, kind, alias, key, value)
}

// connectionString builds the identity's connection string from its keys
// (its primary key unless key is given), as the app on it receives it.
func (w *world) connectionString(i ident, key string) (string, error) {
	d, m, err := w.ids(i)
	if err != nil {
		return "", err
	}
	if key == "" {
		v, err := w.state(i).view()
		if err != nil {
			return "", err
		}
		key = v.keys.PrimaryKey
	}
	svc, err := hub.ParseConnectionString(w.target.ServiceConnectionString())
	if err != nil {
		return "", err
	}
	return hub.ConnectionString{HostName: svc.HostName, DeviceID: d, ModuleID: m, SharedAccessKey: key}.String(), nil
}

// dial connects the identity's client with the target's options, the
// scenario's clock, and then the step's own (a later option wins).
func (w *world) dial(ctx context.Context, i ident, cs string, extra ...device.Option) (*device.Client, error) {
	tap := newConnTap()
	opts := append(w.dialOptions(i), device.WithClock(w.clock))
	opts = append(opts, extra...)
	opts = append(opts, device.WithObserver(tap.observe(w.evidence.mqtt(i.String()))))
	dial := device.DialModule
	if i.kind == "device" {
		dial = device.DialDevice
	}
	c, err := dial(ctx, cs, opts...)
	if err == nil {
		w.state(i).taps[c] = tap
	}
	return c, err
}

// receivesDesiredPatch waits, with a deadline, for the next desired patch
// and checks the property in it.
func receivesDesiredPatch(ctx context.Context, kind, alias, key, value string) error {
	w, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	p, err := w.nextPatch(ctx, s)
	if err != nil {
		return err
	}
	return sameValue(fmt.Sprintf("desired patch to %s, %q", s.ident, key), p.Properties[key], value)
}

func patchHasTwinVersion(ctx context.Context, kind, alias string) error {
	_, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	switch {
	case s.lastPatch == nil:
		return fmt.Errorf("%s has received no patch", s.ident)
	case s.twin == nil:
		return fmt.Errorf("the service holds no twin of %s", s.ident)
	}
	return errorIf(s.lastPatch.Version != s.twin.DesiredVersion(), "patch to %s has $version %d, the twin's desired $version is %d",
		s.ident, s.lastPatch.Version, s.twin.DesiredVersion())
}

// nextPatch is the next desired patch on the identity's connection, within
// waitFor; it becomes the last patch it received.
func (w *world) nextPatch(ctx context.Context, s *identityState) (device.DesiredPatch, error) {
	c, err := s.connection()
	if err != nil {
		return device.DesiredPatch{}, err
	}
	dctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	p, closed, err := receive(dctx, c.DesiredPatches())
	switch {
	case closed:
		return p, fmt.Errorf("%s: connection closed before a desired patch arrived", s.ident)
	case err != nil:
		return p, fmt.Errorf("%s received no desired patch within %s", s.ident, waitFor)
	}
	s.lastPatch = &p
	return p, nil
}

// reportProperty sends a reported patch of one property. The hub's
// refusal (400 for a name it does not allow) is recorded.
func reportProperty(ctx context.Context, kind, alias, key, value string) error {
	w, i, err := whoIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	return w.report(ctx, i, func(ctx context.Context, c *device.Client) (int64, error) {
		return c.UpdateReported(ctx, map[string]any{key: parseValue(value)})
	})
}

// reportOfSize reports members of the size given (see membersOfSize).
func reportOfSize(ctx context.Context, kind, alias, size string) error {
	members, err := membersOfSize(size)
	if err != nil {
		return err
	}
	w, i, err := whoIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	return w.report(ctx, i, func(ctx context.Context, c *device.Client) (int64, error) {
		return c.UpdateReported(ctx, members)
	})
}

// report sends a reported patch and remembers the $version the hub's
// answer carried; a refusal is recorded.
func (w *world) report(ctx context.Context, i ident, send func(context.Context, *device.Client) (int64, error)) error {
	c, err := w.state(i).connection()
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	v, err := send(rctx, c)
	if err != nil {
		return w.refused(err)
	}
	w.state(i).acked = &v
	return nil
}
