package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/hubspec/hubspec/steps/internal/vocab"

	"github.com/hubspec/hubspec/hub"
)

// The steps that remember values as variables (internal/vocab/variables.go), and the
// check that compares an identity's value with one.

var rememberIdentityVocabulary = []vocab.Def{
	step(identities, `^the service remembers the (etag|generation id|primary key|secondary key) of (device|module) ("[^"]+"(?: on device "[^"]+")?) as "([^"]+)"$`, rememberIdentityValue,
		"The service reads the identity and remembers one of its values for later steps to use as ${name}; a key is kept secret, out of every message.",
		"", "", "", variableNameDoc),
	step(identities, `^the (etag|generation id|primary key|secondary key) of (device|module) ("[^"]+"(?: on device "[^"]+")?) (is not|is) (.+)$`, identityValueIs,
		"Reads the identity until the value is, or is not, the one given, usually a variable the scenario remembered.",
		"", "", "", "", "<value> the value, e.g. ${before}; a key is never shown in a message"),
}

var rememberTwinVocabulary = []vocab.Def{
	step(twins, `^the service remembers (?:(desired|reported|tag) )?"([^"]+)" of the twin of (device|module) ("[^"]+"(?: on device "[^"]+")?) as "([^"]+)"$`, rememberTwinValue,
		"The service reads the twin and remembers a member's value for later steps to use as ${name}: a string as its text, anything else as JSON.",
		"", pathDoc, "", "", variableNameDoc),
}

const (
	variableNameDoc = "<name> the variable's name: a letter, then letters, digits, _ or -"
	pathDoc         = "<path> a member of the section (desired properties, reported properties or tags), " +
		`dotted for a nested one ("config.rate"); without a section, a path from the twin's root ("etag")`
)

// identityValue is one value of the identity as the hub last answered it,
// and whether it is a secret.
func (w *world) identityValue(i ident, which string) (string, bool, error) {
	v, err := w.state(i).view()
	if err != nil {
		return "", false, err
	}
	switch which {
	case "etag":
		return v.etag, false, nil
	case "generation id":
		return v.generationID, false, nil
	case "primary key":
		return v.keys.PrimaryKey, true, nil
	}
	return v.keys.SecondaryKey, true, nil
}

// rememberIdentityValue reads the identity afresh (as "the service reads"
// does, waiting out a stale answer) and remembers the value.
func rememberIdentityValue(ctx context.Context, which, kind, alias, name string) error {
	if err := vocab.CheckVariableName(name); err != nil {
		return err
	}
	if err := readIdentityStep(ctx, kind, alias); err != nil {
		return err
	}
	w, i, err := whoIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	v, secret, err := w.identityValue(i, which)
	if err != nil {
		return err
	}
	return vocab.Remember(ctx, name, v, secret)
}

// identityValueIs reads the identity until the value is (or is not) the
// one given. A key appears in no message: only whether it matched.
func identityValueIs(ctx context.Context, which, kind, alias, is, value string) error {
	w, i, err := whoIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	want := textOf(parseValue(value))
	return eventually(ctx, settleWithin, func(ctx context.Context) error {
		if _, err := w.readIdentity(ctx, i); err != nil {
			return err
		}
		got, secret, err := w.identityValue(i, which)
		switch {
		case err != nil:
			return err
		case (got == want) == (is == "is"):
			return nil
		case secret && is == "is":
			return fmt.Errorf("the %s of %s: want the one given, got another", which, i)
		case secret:
			return fmt.Errorf("the %s of %s: want another than the one given, got that one", which, i)
		case is == "is":
			return fmt.Errorf("the %s of %s: want %s, got %s", which, i, want, got)
		}
		return fmt.Errorf("the %s of %s: want another than %s, got that one", which, i, got)
	})
}

// rememberTwinValue reads the twin until it has the member (and is not
// older than the twin the service holds), then remembers its value. The
// read is a check's: the twin the service holds, and what "since the
// service read it" compares with, stay as they were.
func rememberTwinValue(ctx context.Context, section, path, kind, alias, name string) error {
	if err := vocab.CheckVariableName(name); err != nil {
		return err
	}
	w, i, err := whoIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	at := sectionPath(section, path)
	return w.checkTwin(ctx, i, func(t *hub.Twin) error {
		if held := w.state(i).twin; held != nil && t.Version < held.Version {
			return fmt.Errorf("twin of %s: the hub still shows version %d, older than %d", i, t.Version, held.Version)
		}
		v, ok := lookup(generic(t), at)
		if !ok {
			return fmt.Errorf("the twin of %s has nothing at %s to remember", i, strings.Join(at, "."))
		}
		return vocab.Remember(ctx, name, textOf(v), false)
	})
}

// textOf is a value as a variable holds it: a string as its text, any
// other value as JSON.
func textOf(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return canonical(v)
}
