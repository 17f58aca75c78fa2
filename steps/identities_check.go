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

// hasHubAssignedKeys checks the keys the hub generated (see
// hubAssignedKeys), as the hub last answered the service.
func hasHubAssignedKeys(ctx context.Context, kind, alias string) error {
	_, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	v, err := s.view()
	if err != nil {
		return err
	}
	return hubAssignedKeys(s.ident, v.keys)
}

// hasKeys reads the identity afresh until its keys are the ones it was
// created with, or the ones the service last gave it.
func hasKeys(ctx context.Context, kind, alias, which string) error {
	w, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	want := s.firstKeys
	if which == "the keys the service gave it" {
		want = s.givenKeys
	}
	if want == nil {
		return fmt.Errorf("%s: the scenario has no record of %s", s.ident, which)
	}
	return w.pollIdentity(ctx, s.ident, func(v view) error {
		return errorIf(v.keys != *want, "%s: want %s, got other keys", s.ident, which)
	})
}

// hasGenerationAndEtag checks the identity as the hub last answered it.
func hasGenerationAndEtag(ctx context.Context, kind, alias string) error {
	_, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	v, err := s.view()
	if err != nil {
		return err
	}
	return errorIf(v.generationID == "" || v.etag == "", "%s: want a generation id and an etag, got %q and %q", s.ident, v.generationID, v.etag)
}

// hasEtag reads the identity afresh until its etag is the one it was
// created with, or another one.
func hasEtag(ctx context.Context, kind, alias, which string) error {
	w, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	if len(s.etags) == 0 {
		return fmt.Errorf("%s: the scenario never created it", s.ident)
	}
	first, wantNew := s.etags[0], which == "a new etag"
	return w.pollIdentity(ctx, s.ident, func(v view) error {
		if wantNew {
			return errorIf(v.etag == first, "%s: still has the etag %s it was created with", s.ident, first)
		}
		return errorIf(v.etag != first, "%s: want the etag %s it was created with, got %s", s.ident, first, v.etag)
	})
}

// hubRefuses checks, and consumes, the refusal of the last action.
func hubRefuses(ctx context.Context, status, name string) error {
	return refusedAs(worldFrom(ctx).takeRefusal(), status, name)
}

// hubAssignedKeys checks keys as the hub generates them: two different
// base64 keys of 32 random bytes each (docs/fidelity.md, "Create with
// empty or absent keys").
func hubAssignedKeys(i ident, keys hub.SymmetricKey) error {
	for n, k := range []string{keys.PrimaryKey, keys.SecondaryKey} {
		raw, err := base64.StdEncoding.DecodeString(k)
		if err != nil || len(raw) != 32 {
			return fmt.Errorf("%s key %d: want 32 random bytes in base64, got %d characters", i, n+1, len(k))
		}
	}
	return errorIf(keys.PrimaryKey == keys.SecondaryKey, "%s: primary and secondary keys are the same", i)
}

// errorIf is the error format and args make when failed, else nil.
func errorIf(failed bool, format string, args ...any) error {
	if failed {
		return fmt.Errorf(format, args...)
	}
	return nil
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
