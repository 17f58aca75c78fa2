package steps

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"

	"github.com/hubspec/hubspec/hub"
)

// The checks of identities, and of the hub's refusals. Those that read the
// hub read afresh and poll (see Eventually); the others check what the hub
// last answered the service.

// hasHubAssignedKeys checks the keys the hub generated: two different
// base64 keys of 32 bytes each (protocol.md §3.9).
func hasHubAssignedKeys(ctx context.Context, kind, alias string) error {
	v, err := worldFrom(ctx).state(ident{kind, alias}).view()
	if err != nil {
		return err
	}
	keys := v.keys
	for i, k := range []string{keys.PrimaryKey, keys.SecondaryKey} {
		raw, err := base64.StdEncoding.DecodeString(k)
		if err != nil || len(raw) != 32 {
			return fmt.Errorf("%s %q key %d: want 32 random bytes in base64, got %d characters", kind, alias, i+1, len(k))
		}
	}
	if keys.PrimaryKey == keys.SecondaryKey {
		return fmt.Errorf("%s %q: primary and secondary keys are the same", kind, alias)
	}
	return nil
}

// hasKeys reads the identity afresh until its keys are the ones it was
// created with, or the ones the service last gave it.
func hasKeys(ctx context.Context, kind, alias, which string) error {
	w := worldFrom(ctx)
	i := ident{kind, alias}
	want := w.state(i).firstKeys
	if which == "the keys the service gave it" {
		want = w.state(i).givenKeys
	}
	if want == nil {
		return fmt.Errorf("%s: the scenario has no record of %s", i, which)
	}
	return Eventually(ctx, settleWithin, func(ctx context.Context) error {
		v, err := w.readIdentity(ctx, i)
		if err == nil && v.keys != *want {
			err = fmt.Errorf("%s: want %s, got other keys", i, which)
		}
		return err
	})
}

// hasGenerationAndEtag checks the identity as the hub last answered it.
func hasGenerationAndEtag(ctx context.Context, kind, alias string) error {
	v, err := worldFrom(ctx).state(ident{kind, alias}).view()
	if err != nil {
		return err
	}
	if v.generationID == "" || v.etag == "" {
		return fmt.Errorf("%s %q: want a generation id and an etag, got %q and %q", kind, alias, v.generationID, v.etag)
	}
	return nil
}

// hasEtag reads the identity afresh until its etag is the one it was
// created with, or another one.
func hasEtag(ctx context.Context, kind, alias, which string) error {
	w := worldFrom(ctx)
	i := ident{kind, alias}
	seen := w.state(i).etags
	if len(seen) == 0 {
		return fmt.Errorf("%s: the scenario never created it", i)
	}
	first := seen[0]
	return Eventually(ctx, settleWithin, func(ctx context.Context) error {
		v, err := w.readIdentity(ctx, i)
		etag := v.etag
		switch {
		case err != nil:
			return err
		case which == "a new etag" && etag == first:
			return fmt.Errorf("%s: still has the etag %s it was created with", i, first)
		case which != "a new etag" && etag != first:
			return fmt.Errorf("%s: want the etag %s it was created with, got %s", i, first, etag)
		}
		return nil
	})
}

// hubRefuses checks, and consumes, the refusal of the last action.
func hubRefuses(ctx context.Context, status, name string) error {
	w := worldFrom(ctx)
	return refusedAs(w.takeRefusal(), status, name)
}

// refusedAs returns nil when err is the hub refusing with this status and
// IoT Hub error, named (DeviceNotFound) or by its 6-digit code (404001),
// and otherwise an error saying what happened instead.
func refusedAs(err error, status, name string) error {
	if err == nil {
		return fmt.Errorf("expected the hub to refuse with %s %s, but it accepted", status, name)
	}
	e, ok := hub.AsError(err)
	if !ok {
		return fmt.Errorf("expected the hub to refuse with %s %s, got %w", status, name, err)
	}
	if strconv.Itoa(e.StatusCode) != status || e.Name != name && strconv.Itoa(e.Code) != name {
		return fmt.Errorf("expected the hub to refuse with %s %s, got %s", status, name, e.StatusText())
	}
	return nil
}
