package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/steps/internal/vocab"
)

// receivedVocabulary check what devices and modules received as a whole:
// a desired patch against a JSON document, and silence on several
// connections at once.
var receivedVocabulary = []vocab.Def{
	step(mqtt, `^the desired patch (device|module) ("[^"]+"(?: on device "[^"]+")?) received (is|contains):$`, patchIs,
		"Checks the last desired patch the identity received (waiting for one if it has received none) against the JSON document below the step: exactly those members (is), or at least those, others may be anything (contains); its $version is not part of it.").JSONDoc(),
	step(mqtt, `^none of (devices|modules) (.+) receives anything within (\d+) seconds$`, noneReceives,
		"Watches every identity named at once for the given time: a desired patch or a message on any of them fails the step (proved at once on an emulator target, as receives nothing within). Each must be connected.",
		"", `<aliases> the aliases, each in quotes, a module with its device where needed: "a", "b" and "c" on device "gw"`, "<seconds> how long to watch"),
}

// patchIs compares the last desired patch the identity received with the
// document: all of it, or the members the document names.
func patchIs(ctx context.Context, kind, alias, how string, doc *godog.DocString) error {
	var want any
	if err := json.Unmarshal([]byte(doc.Content), &want); err != nil {
		return fmt.Errorf("the expected patch is not JSON: %w", err)
	}
	w, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	p := s.lastPatch
	if p == nil {
		next, err := w.nextPatch(ctx, s)
		if err != nil {
			return err
		}
		p = &next
	}
	got := generic(p.Properties)
	what := "the desired patch " + s.ident.String() + " received"
	if how == "contains" {
		return contains(what, got, want)
	}
	if g, w := canonical(got), canonical(want); g != w {
		return fmt.Errorf("%s: want %s, got %s", what, w, g)
	}
	return nil
}

// aliasList reads `"a", "b" and "c" on device "gw"` into references as
// who takes them.
var aliasList = regexp.MustCompile(`^\s*("[^"]+"(?: on device "[^"]+")?)\s*(?:,|and|$)`)

func refsOf(list string) ([]string, error) {
	var refs []string
	rest := list
	for strings.TrimSpace(rest) != "" {
		m := aliasList.FindStringSubmatchIndex(rest)
		if m == nil {
			return nil, fmt.Errorf(`cannot read the aliases %s: write each in quotes, separated by commas or "and": "a", "b" and "c"`, list)
		}
		refs = append(refs, rest[m[2]:m[3]])
		rest = rest[m[1]:]
	}
	return refs, nil
}

// noneReceives watches every identity's connections together for the
// time given: one wait, not one after another (see expectNothing). Every
// identity must be connected: one that is not could receive nothing anyway.
func noneReceives(ctx context.Context, kinds, list, secs string) error {
	refs, err := refsOf(list)
	if err != nil {
		return err
	}
	w := worldFrom(ctx)
	var sources []source
	for _, ref := range refs {
		i, err := w.who(strings.TrimSuffix(kinds, "s"), ref)
		if err != nil {
			return err
		}
		mine := w.sourcesOf(w.state(i))
		if len(mine) == 0 {
			return fmt.Errorf("%s is not connected, so it could receive nothing anyway: connect it first, e.g. Given %s is connected", i, i)
		}
		sources = append(sources, mine...)
	}
	return w.expectNothing(ctx, seconds(secs), sources, func(i ident, what string) error {
		return fmt.Errorf("%s: expected nothing within %ss, got %s", i, secs, what)
	})
}
