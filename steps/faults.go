package steps

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/hubspec/hubspec/steps/internal/vocab"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/hub"
)

// faultVocabulary make a hub fail on purpose: the faults IoT Hub's own
// SDK test suites request with a telemetry message (any target accepts the
// message; only an emulator still honours it), and the emulator's
// controls, reached through the optional harness capabilities. Reads with
// a retry policy of the scenario's choosing are in registry_retry.go.
var faultVocabulary = []vocab.Def{
	step(faults, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) requests the fault (\w+)(?: after (\d+(?:\.\d+)?) seconds?)?(?: lasting (\d+(?:\.\d+)?) seconds?)?( on its bare connection)?$`, requestFault,
		"The device or module sends the SDK test suites' fault-injection telemetry message (KillTcp, ShutDownMqtt, InvokeThrottling, InvokeAuthError), after a delay and lasting a while, on its connection or its latest bare one; only an emulator honours it.",
		"", "", "<fault> the AzIoTHub_FaultOperationType: KillTcp, ShutDownMqtt, InvokeThrottling or InvokeAuthError (others are acknowledged and ignored)"),
	step(faults, `^the hub drops the connection of (device|module) ("[^"]+"(?: on device "[^"]+")?)$`, dropConnection,
		"The emulator closes the identity's MQTT connection as a network failure would; the hub keeps its session."),
	step(faults, `^the hub has accepted (\d+) connections? of (device|module) ("[^"]+"(?: on device "[^"]+")?)$`, acceptedConnections,
		"Waits until the emulator has accepted this many MQTT connections of the identity since it started."),
	step(faults, `^the hub throttles the next (\d+) registry calls? for device "([^"]+)"$`, throttleRegistryCalls,
		"The emulator answers the next registry calls that name the device (the device, its modules and their twins) with 429 ThrottlingException."),
	step(faults, `^the hub fails the next (\d+) registry calls? for device "([^"]+)" with (\d{3}) (\w+)$`, failRegistryCalls,
		"The emulator answers the next registry calls that name the device with this status and IoT Hub error, in the hub's own shape."),
	step(faults, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) reads its own twin$`, readOwnTwin,
		"The connected device or module reads its twin over MQTT; a refusal is left for the next step to check."),
	step(faults, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) keeps (reading its own twin|reporting "([^"]+)" as (.+)) until the hub accepts it$`, keepTryingUntilAccepted,
		"The connected device or module repeats a twin read or a report, backing off, until the hub stops refusing it."),
}

// faultRequest is the captures of requestFault.
type faultRequest struct{ Kind, Alias, Fault, Delay, Duration, Bare string }

// requestFault sends the SDK suites' fault-injection telemetry message
// (see faultProperties) and waits for the hub's PUBACK on the identity's
// connection, or on its latest bare one.
func requestFault(ctx context.Context, f faultRequest) error {
	w, s, err := identityIn(ctx, f.Kind, f.Alias)
	if err != nil {
		return err
	}
	props := faultProperties(f.Fault, f.Delay, f.Duration)
	dctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	if f.Bare != "" {
		return w.publishEventBare(dctx, s.ident, props, "the fault request "+f.Fault)
	}
	c, err := s.connection()
	if err != nil {
		return err
	}
	return c.SendEvent(dctx, nil, props)
}

// faultProperties are the properties of the fault-injection message the
// SDK test suites send (C# FaultInjection.ComposeErrorInjectionProperties):
// fault type, close reason, delay and duration in seconds.
func faultProperties(fault, delay, duration string) map[string]string {
	return map[string]string{
		"AzIoTHub_FaultOperationType":           fault,
		"AzIoTHub_FaultOperationCloseReason":    "boom",
		"AzIoTHub_FaultOperationDelayInSecs":    orZero(delay),
		"AzIoTHub_FaultOperationDurationInSecs": orZero(duration),
	}
}

func orZero(seconds string) string {
	if seconds == "" {
		return "0"
	}
	return seconds
}

// skipWithout skips the rest of a scenario on a target without a power it
// needs (a live hub has none of the emulator's controls).
func skipWithout(ctx context.Context, target harness.Target, power string) error {
	godog.Logf(ctx, "target %q cannot %s: the scenario is skipped", target.Name(), power)
	return fmt.Errorf("%w: target %q cannot %s", godog.ErrSkip, target.Name(), power)
}

// dropConnection closes the identity's connection on the hub's side, as a
// network failure would; only an emulator can (harness.ConnectionDropper).
func dropConnection(ctx context.Context, kind, alias string) error {
	w := worldFrom(ctx)
	dropper, ok := w.target.(harness.ConnectionDropper)
	if !ok {
		return skipWithout(ctx, w.target, "drop a connection")
	}
	i, err := w.who(kind, alias)
	if err != nil {
		return err
	}
	d, m, err := w.ids(i)
	if err != nil {
		return err
	}
	dropped, err := dropper.DropConnection(ctx, d, m)
	if err != nil {
		return err
	}
	if !dropped {
		return fmt.Errorf("%s: expected a live connection to drop, found none", i)
	}
	return nil
}

// acceptedConnections waits until the hub has accepted the n-th connection
// of the identity (a reconnect, a token renewal); only an emulator can tell
// (harness.ConnectionAwaiter).
func acceptedConnections(ctx context.Context, count, kind, alias string) error {
	w := worldFrom(ctx)
	awaiter, ok := w.target.(harness.ConnectionAwaiter)
	if !ok {
		return skipWithout(ctx, w.target, "count connections")
	}
	i, err := w.who(kind, alias)
	if err != nil {
		return err
	}
	d, m, err := w.ids(i)
	if err != nil {
		return err
	}
	n, _ := strconv.Atoi(count)
	dctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	if err := awaiter.AwaitConnections(dctx, d, m, n); err != nil {
		return fmt.Errorf("%s: expected the hub to accept connection %d within %s: %w", i, n, waitFor, err)
	}
	return nil
}

// throttleRegistryCalls makes the next n registry calls naming the device
// (it, its modules, their twins) answer 429 ThrottlingException.
func throttleRegistryCalls(ctx context.Context, count, alias string) error {
	return failRegistryWith(ctx, count, alias, hub.ErrThrottled.Name)
}

// failRegistryCalls makes the next n registry calls naming the device fail
// with the IoT Hub error named; its status must be that error's.
func failRegistryCalls(ctx context.Context, count, alias, status, name string) error {
	e, ok := hub.LookupErrorName(name)
	if !ok || strconv.Itoa(e.StatusCode) != status {
		return fmt.Errorf("%s %s is not an IoT Hub error Hubspec knows", status, name)
	}
	return failRegistryWith(ctx, count, alias, name)
}

// failRegistryWith asks the target for registry faults
// (harness.RegistryFaulter) and clears what is left in cleanup, before the
// scenario's device is deleted.
func failRegistryWith(ctx context.Context, count, alias, name string) error {
	w := worldFrom(ctx)
	faulter, ok := w.target.(harness.RegistryFaulter)
	if !ok {
		return skipWithout(ctx, w.target, "fail registry calls")
	}
	d, _, err := w.ids(ident{"device", alias, ""})
	if err != nil {
		return err
	}
	n, _ := strconv.Atoi(count)
	if err := faulter.FailRegistryCalls(ctx, d, n, name); err != nil {
		return err
	}
	w.sc.Defer("clear the registry faults of device "+d, func(ctx context.Context) error {
		return faulter.FailRegistryCalls(ctx, d, 0, "")
	})
	return nil
}

// readOwnTwin reads the twin over MQTT once, as the app on the device or
// module would; the hub's refusal is recorded.
func readOwnTwin(ctx context.Context, kind, alias string) error {
	w, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	c, err := s.connection()
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	if _, err := c.GetTwin(dctx); err != nil {
		return w.refused(err)
	}
	return nil
}

// retried is the captures of keepTryingUntilAccepted: what it repeats, a
// report's key and value when it is one.
type retried struct{ Kind, Alias, What, Key, Value string }

// keepTryingUntilAccepted repeats a twin read or a report over MQTT while
// the hub answers 429, until it accepts or waitFor has passed; any other
// refusal ends the step at once (see whileThrottled). A report's
// acknowledged version is kept.
func keepTryingUntilAccepted(ctx context.Context, r retried) error {
	_, s, err := identityIn(ctx, r.Kind, r.Alias)
	if err != nil {
		return err
	}
	c, err := s.connection()
	if err != nil {
		return err
	}
	err = whileThrottled(ctx, func(ctx context.Context) error {
		if r.Key == "" {
			_, err := c.GetTwin(ctx)
			return err
		}
		v, err := c.UpdateReported(ctx, map[string]any{r.Key: parseValue(r.Value)})
		if err == nil {
			s.acked = &v
		}
		return err
	})
	if errors.Is(err, hub.ErrThrottled) {
		return fmt.Errorf("%s: expected the hub to accept %s within %s: %w", s.ident, r.What, waitFor, err)
	}
	return err
}

// whileThrottled calls fn until the hub answers anything but 429
// ThrottlingException, for up to waitFor (see Eventually), and returns
// that answer; when it never does, the last 429 (wrapping
// hub.ErrThrottled).
func whileThrottled(ctx context.Context, fn func(context.Context) error) error {
	var final error
	err := Eventually(ctx, waitFor, func(ctx context.Context) error {
		err := fn(ctx)
		if err != nil && !errors.Is(err, hub.ErrThrottled) {
			final = err
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	return final
}
