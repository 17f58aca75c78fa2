package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"

	"github.com/cucumber/godog"
	builtin "github.com/hubspec/hubspec/hub/events"
	"github.com/hubspec/hubspec/steps/internal/vocab"
)

// builtInVocabulary is the service's side of the built-in endpoint:
// telemetry from devices and modules, and the hub's own twin-change and
// lifecycle events, read with the Event Hubs client (hub/events). The
// reader keeps the events of the scenario's own identities only, so
// concurrent scenarios never read each other's.
var builtInVocabulary = []vocab.Def{
	step(telemetry, `^the service reads the built-in endpoint$`, readBuiltIn,
		"Starts reading the hub's built-in endpoint (Event Hubs-compatible, over AMQP) from its end: the steps below wait for what comes after this one. Only events of the scenario's own identities are kept."),
	step(telemetry, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) sends telemetry (.+?)(?: with properties (\{.*\}))?$`, sendTelemetry,
		"The identity's connection sends a device-to-cloud message (QoS 1, waiting for the hub's PUBACK) with the body and, if given, application properties.",
		"", "", bodyDoc, propertiesDoc),
	step(telemetry, `^the service receives telemetry (.+?) from (device|module) ("[^"]+"(?: on device "[^"]+")?)(?: with properties (\{.*\}))?$`, receiveTelemetry,
		"Waits for the next telemetry message from the identity on the built-in endpoint and checks it is exactly the body and application properties given (none when none are given), sent by that identity.",
		bodyDoc, "", "", propertiesDoc),
	step(events, `^the service receives a twin-change event for (device|module) ("[^"]+"(?: on device "[^"]+")?) whose (desired|reported) properties contain:$`, receiveTwinChange,
		"Waits for the next twin-change event (opType updateTwin) of the identity's twin on the built-in endpoint and checks that the section it carries holds at least the members of the JSON document below the step, with their $metadata.",
		"", "", "<section> the twin section the change is in").JSONDoc(),
	step(events, `^the service receives a lifecycle event (createDeviceIdentity|deleteDeviceIdentity|createModuleIdentity|deleteModuleIdentity) for (device|module) ("[^"]+"(?: on device "[^"]+")?)$`, receiveLifecycle,
		"Waits for the next lifecycle event of the identity on the built-in endpoint and checks its opType, its schema and that its body is the identity's twin.",
		"<opType> the operation the event reports"),
}

const (
	bodyDoc       = `<body> a JSON value: a string is sent as its characters ("on" sends on), anything else as its JSON text`
	propertiesDoc = `<properties> a JSON object of string values: {"unit":"C"}`
)

// readBuiltIn opens the scenario's reader of the built-in endpoint, closed
// when the scenario ends.
func readBuiltIn(ctx context.Context) error {
	w := worldFrom(ctx)
	if w.builtIn != nil {
		return nil
	}
	ep := w.target.AMQP()
	if ep.EventHubConnectionString == "" {
		return fmt.Errorf("the target gives no built-in endpoint connection string (IOTHUB_EVENTHUB_CONNECTION_STRING on a live hub)")
	}
	prefix, suffix := w.sc.Run.Prefix+"-", "-"+w.sc.ID
	r, err := builtin.Open(ctx, ep.EventHubConnectionString, builtin.WithTLSConfig(ep.TLS), builtin.WithAddress(ep.Address),
		builtin.WithFilter(func(deviceID, _ string) bool {
			return strings.HasPrefix(deviceID, prefix) && strings.HasSuffix(deviceID, suffix)
		}))
	if err != nil {
		return err
	}
	w.builtIn = r
	w.sc.Defer("the built-in endpoint reader", func(context.Context) error { return r.Close() })
	return nil
}

// sendTelemetry sends a message on the identity's current connection.
func sendTelemetry(ctx context.Context, kind, ref, body, props string) error {
	b, p, err := telemetryOf(body, props)
	if err != nil {
		return err
	}
	_, s, err := identityIn(ctx, kind, ref)
	if err != nil {
		return err
	}
	if s.client == nil {
		return fmt.Errorf("%s is not connected", s.ident)
	}
	sctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	return s.client.SendEvent(sctx, b, p)
}

// receiveTelemetry takes the identity's next telemetry message and
// compares it with the one expected.
func receiveTelemetry(ctx context.Context, body, kind, ref, props string) error {
	b, p, err := telemetryOf(body, props)
	if err != nil {
		return err
	}
	ev, err := awaitEvent(ctx, kind, ref, builtin.KindTelemetry, "telemetry")
	if err != nil {
		return err
	}
	got := map[string]string{}
	for k, v := range ev.Properties {
		got[k] = fmt.Sprint(v)
	}
	if string(ev.Body) != string(b) || !maps.Equal(got, p) {
		return fmt.Errorf("telemetry: want body %q with properties %v, got %q with %v", b, p, ev.Body, got)
	}
	return nil
}

// receiveTwinChange takes the identity's next twin-change event and checks
// the section it carries.
func receiveTwinChange(ctx context.Context, kind, ref, section string, doc *godog.DocString) error {
	var want map[string]any
	if err := json.Unmarshal([]byte(doc.Content), &want); err != nil {
		return fmt.Errorf("the expected properties are not a JSON object: %w", err)
	}
	ev, err := awaitEvent(ctx, kind, ref, builtin.KindTwinChange, "a twin-change event")
	if err != nil {
		return err
	}
	if op := ev.Properties["opType"]; op != "updateTwin" || ev.Properties["iothub-message-schema"] != "twinChangeNotification" {
		return fmt.Errorf("twin-change event: opType %v, schema %v; want updateTwin, twinChangeNotification", op, ev.Properties["iothub-message-schema"])
	}
	var b struct {
		Properties map[string]map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(ev.Body, &b); err != nil {
		return fmt.Errorf("twin-change event body %q: %w", ev.Body, err)
	}
	got := b.Properties[section]
	if err := contains("the twin-change event's "+section+" properties", generic(got), generic(want)); err != nil {
		return err
	}
	meta, _ := got["$metadata"].(map[string]any)
	for k := range want {
		if meta[k] == nil {
			return fmt.Errorf("the twin-change event's %s properties have no $metadata for %q: %s", section, k, ev.Body)
		}
	}
	return nil
}

// receiveLifecycle takes the identity's next lifecycle event and checks it.
func receiveLifecycle(ctx context.Context, opType, kind, ref string) error {
	ev, err := awaitEvent(ctx, kind, ref, builtin.KindLifecycle, "a lifecycle event")
	if err != nil {
		return err
	}
	if op := ev.Properties["opType"]; op != opType {
		return fmt.Errorf("lifecycle event: opType %v, want %s", op, opType)
	}
	var twin struct {
		DeviceID   string         `json:"deviceId"`
		ModuleID   string         `json:"moduleId"`
		Properties map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(ev.Body, &twin); err != nil || twin.DeviceID != ev.DeviceID || twin.ModuleID != ev.ModuleID || twin.Properties == nil {
		return fmt.Errorf("lifecycle event body is not the identity's twin (%v): %s", err, ev.Body)
	}
	return nil
}

// awaitEvent takes the next event of a kind from the identity, waiting
// for it.
func awaitEvent(ctx context.Context, kind, ref string, k builtin.Kind, what string) (builtin.Event, error) {
	w, s, err := identityIn(ctx, kind, ref)
	if err != nil {
		return builtin.Event{}, err
	}
	if w.builtIn == nil {
		return builtin.Event{}, fmt.Errorf("the service is not reading the built-in endpoint: add the step \"the service reads the built-in endpoint\" before what it must see")
	}
	deviceID, moduleID, err := w.ids(s.ident)
	if err != nil {
		return builtin.Event{}, err
	}
	actx, cancel := context.WithTimeout(ctx, settleWithin)
	defer cancel()
	ev, err := w.builtIn.Await(actx, func(e builtin.Event) bool {
		return e.Kind == k && e.DeviceID == deviceID && e.ModuleID == moduleID
	})
	if err != nil {
		return ev, fmt.Errorf("%s from %s on the built-in endpoint: %w", what, s.ident, err)
	}
	return ev, nil
}

// telemetryOf reads a step's body and properties.
func telemetryOf(body, props string) ([]byte, map[string]string, error) {
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		return nil, nil, fmt.Errorf("the body %s is not a JSON value: %w", body, err)
	}
	b := []byte(body)
	if s, ok := v.(string); ok {
		b = []byte(s)
	}
	p := map[string]string{}
	if props != "" {
		if err := json.Unmarshal([]byte(props), &p); err != nil {
			return nil, nil, fmt.Errorf("the properties %s are not a JSON object of strings: %w", props, err)
		}
	}
	return b, p, nil
}
