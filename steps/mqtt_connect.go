package steps

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/hubspec/hubspec/steps/internal/vocab"

	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/internal/mqtttest"

	"github.com/hubspec/hubspec/hub"
)

// connectionVocabulary open, refuse and close MQTT connections of devices
// and modules. IoT Hub's MQTT support treats a module as a device with a
// longer client id and user name (devices/{d}/modules/{m}), so every step
// takes either.
var connectionVocabulary = []vocab.Def{
	step(mqtt, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) is connected(?: over (TLS|WebSockets))?(?: with a token that lasts (\d+) seconds)?$`, connect,
		"The device or module connects with its own key, as the app on it would (over MQTT over TLS unless WebSockets is asked for); a short-lived token is renewed by reconnecting.",
		"", "", "", "<seconds> how long each SAS token lasts"),
	step(mqtt, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) has renewed its token$`, renewed,
		"Waits until the identity's client has connected again with a fresh token (it renews a short-lived one by reconnecting before it expires, the hub taking a token only at CONNECT) and has read its twin again."),
	step(mqtt, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) connects with (its own key|its first key|the key "[^"]*"|a wrong key|an expired token|a token for another identity|the client id of another identity)$`, connectWith,
		"The device or module tries once to connect with the credentials named: its own key is its primary key as the hub last answered it, its first key the primary key it was created with (refused after a rotation), the key \"${name}\" one the scenario remembered; a refusal is left for the next step to check."),
	step(mqtt, `^the hub refuses the connection as (not authorized|the device is disabled)$`, connectionRefused,
		"Checks that the hub refused the last connection attempt: CONNACK 5 for bad credentials, 3 for a disabled device or a module of one."),
	step(mqtt, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) disconnects$`, disconnect,
		"The device or module closes its connection (its latest bare one when it has no other), as its app would on shutdown; the hub keeps its session."),
}

// transportOptions are the dial options for "over WebSockets": MQTT over
// WebSockets on the hub's HTTPS address (HostName, on 443 unless it names
// a port), as the SDKs use it (docs/fidelity.md, MQTT "MQTT over
// WebSockets").
func (w *world) transportOptions(transport string) ([]device.Option, error) {
	if transport != "WebSockets" {
		return nil, nil
	}
	svc, err := hub.ParseConnectionString(w.target.ServiceConnectionString())
	if err != nil {
		return nil, err
	}
	addr := svc.HostName
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(svc.HostWithoutPort(), "443")
	}
	return []device.Option{device.WithWebSockets(), device.WithAddress(addr)}, nil
}

// connect connects the identity with its own key, over MQTT over TLS
// unless WebSockets is asked for, and keeps the connection (see
// dialRetrying).
func connect(ctx context.Context, kind, alias, transport, lifetime string) error {
	w, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	opts, err := w.transportOptions(transport)
	if err != nil {
		return err
	}
	if ttl := seconds(lifetime); ttl > 0 {
		opts = append(opts, device.WithTokenTTL(ttl))
	}
	c, err := w.dialRetrying(ctx, s.ident, opts...)
	if err != nil {
		return err
	}
	s.keep(c)
	return nil
}

// renewed waits for the client's second accepted connection, which a
// short-lived token brings about, and for its catch-up read after it. The
// client sees it itself, so the step works on every target.
func renewed(ctx context.Context, kind, alias string) error {
	_, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	c, err := s.connection()
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	if err := s.taps[c].awaitConnects(dctx, 2); err != nil {
		return fmt.Errorf("%s: expected its client to connect again with a fresh token within %s: %w", s.ident, waitFor, err)
	}
	if err := c.AwaitConnected(dctx); err != nil {
		return fmt.Errorf("%s: connected again, but did not read its twin within %s: %w", s.ident, waitFor, err)
	}
	return nil
}

// connectWith dials once with the credentials named (see credentials). A
// refusal is recorded for the next step; a connection is kept.
func connectWith(ctx context.Context, kind, alias, credentials string) error {
	w, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	cs, opts, err := w.credentials(s.ident, credentials)
	if err != nil {
		return err
	}
	return w.connectOnce(ctx, s, cs, opts...)
}

// connectOnce dials once; a refusal is recorded for the next step, a
// connection kept.
func (w *world) connectOnce(ctx context.Context, s *identityState, cs string, opts ...device.Option) error {
	dctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	c, err := w.dial(dctx, s.ident, cs, opts...)
	if err != nil {
		w.lastRefusal = err
		return nil
	}
	s.keep(c)
	return nil
}

// connectionRefused checks the CONNACK code of the last connection
// attempt (see connackIs).
func connectionRefused(ctx context.Context, why string) error {
	return connackIs(worldFrom(ctx).takeRefusal(), why)
}

// connackIs checks that err is the hub refusing a connection with the
// CONNACK code IoT Hub answers: 5 for bad credentials, 3 for a disabled
// device or a module of one (docs/fidelity.md, MQTT "Refusals").
func connackIs(err error, why string) error {
	want := map[string]byte{"not authorized": 5, "the device is disabled": 3}[why]
	var refused *device.ConnectRefusedError
	if !errors.As(err, &refused) {
		return fmt.Errorf("expected the hub to refuse the connection with CONNACK %d, got %v", want, orNone(err, "a connection"))
	}
	return errorIf(refused.Code != want, "expected CONNACK %d (%s), got %d", want, why, refused.Code)
}

// orNone is err, or what happened instead when there was none.
func orNone(err error, none string) any {
	if err == nil {
		return none
	}
	return err
}

// disconnect closes the identity's connection as its app would on
// shutdown (its latest bare one when it has no other); the hub keeps its
// session.
func disconnect(ctx context.Context, kind, alias string) error {
	w, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	if c := s.client; c != nil {
		s.client = nil
		return c.Close()
	}
	b, err := w.bareOf(s.ident, "latest")
	if err != nil {
		return fmt.Errorf("%s is not connected", s.ident)
	}
	// paho sends DISCONNECT and waits up to 250 ms for its work in hand;
	// when the hub has processed it is for a later step to see.
	b.pc.Disconnect(250)
	return nil
}

// dialRetrying dials with the identity's own key until the hub accepts.
// A live hub may refuse an identity created a moment ago (CONNACK 5, or 3
// while the identity is unavailable) until it has reached its gateway, so
// those refusals are retried until waitFor; any other failure is the
// answer at once (paho reports a network error as code 254, which is no
// refusal).
func (w *world) dialRetrying(ctx context.Context, i ident, opts ...device.Option) (*device.Client, error) {
	cs, err := w.connectionString(i, "")
	if err != nil {
		return nil, err
	}
	return w.dialRetryingWith(ctx, i, cs, opts...)
}

// dialRetryingWith is dialRetrying with the connection string given.
func (w *world) dialRetryingWith(ctx context.Context, i ident, cs string, opts ...device.Option) (*device.Client, error) {
	var c *device.Client
	var dialErr error
	err := Eventually(ctx, waitFor, func(ctx context.Context) error {
		c, dialErr = w.dial(ctx, i, cs, opts...)
		var refused *device.ConnectRefusedError
		if errors.As(dialErr, &refused) && (refused.Code == 5 || refused.Code == 3) {
			return dialErr
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, dialErr
}

// credentials are the connection string and dial options for the
// credentials a step names: its own key, a random key of the right shape,
// a token that expired an hour ago (beyond any clock skew a hub allows),
// or one signed with its own key for a resource that is not its own (its
// resource URI with an "x" appended to its id), or its own user name and
// token with another identity's client id (the hub must take the identity
// from all three, agreeing).
func (w *world) credentials(i ident, phrase string) (string, []device.Option, error) {
	key := ""
	switch {
	case phrase == "a wrong key":
		key = randomKey()
	case phrase == "its first key":
		first := w.state(i).firstKeys
		if first == nil {
			return "", nil, fmt.Errorf("%s: the scenario did not create it, so it has no first key", i)
		}
		key = first.PrimaryKey
	case strings.HasPrefix(phrase, `the key "`):
		key = strings.TrimSuffix(strings.TrimPrefix(phrase, `the key "`), `"`)
		if key == "" {
			return "", nil, fmt.Errorf(`%s: the key "" is empty: remember one first, e.g. the service remembers the primary key of %s as "old", then write the key "${old}"`, i, i)
		}
	}
	cs, err := w.connectionString(i, key)
	if err != nil {
		return "", nil, err
	}
	switch phrase {
	case "an expired token":
		return cs, []device.Option{device.WithTokenTime(func() time.Time { return time.Now().Add(-2 * time.Hour) })}, nil
	case "a token for another identity":
		parsed, err := hub.ParseConnectionString(cs)
		if err != nil {
			return "", nil, err
		}
		token, err := hub.BuildSASToken(parsed.ResourceURI()+"x", parsed.SharedAccessKey, "", time.Now().Add(time.Hour))
		return cs, []device.Option{mqtttest.WithSASToken(token)}, err
	case "the client id of another identity":
		d, m, err := w.ids(i)
		other := d + "-other"
		if m != "" {
			other = d + "/" + m + "-other"
		}
		return cs, []device.Option{mqtttest.WithClientID(other)}, err
	}
	return cs, nil, nil
}
