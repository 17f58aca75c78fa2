package steps

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hubspec/hubspec/steps/internal/vocab"
)

// groupVocabulary act on numbered identities "P-1" to "P-N" at once
// (created by "the service creates N modules on device" or the devices
// step here), for scale scenarios: many identities, each seeing only its
// own traffic.
var groupVocabulary = []vocab.Def{
	step(mqtt, `^the service creates devices "([^"]+)-1" to "([^"]+)-(\d+)"$`, createDeviceRange,
		"The service creates the devices P-1 to P-N with hub-assigned keys; the first refusal stops it.",
		rangeFirstDoc, rangeLastDoc),
	step(mqtt, `^(devices|modules) "([^"]+)-1" to "([^"]+)-(\d+)" are connected$`, connectRange,
		"Connects each of the devices or modules P-1 to P-N with its own key.",
		"", rangeFirstDoc, rangeLastDoc),
	step(mqtt, `^the service sets desired "([^"]+)" of (devices|modules) "([^"]+)-1" to "([^"]+)-(\d+)" to their own names$`, setRangeToNames,
		"The service sets a desired property of each of P-1 to P-N to that identity's own alias.",
		keyDoc, "", rangeFirstDoc, rangeLastDoc),
	step(mqtt, `^(devices|modules) "([^"]+)-1" to "([^"]+)-(\d+)" each receive their own name in "([^"]+)" and nothing else within (\d+) seconds$`, rangeReceivesOwn,
		"Checks that each of P-1 to P-N receives a desired patch with its own alias, and then no other patch for the given time.",
		"", rangeFirstDoc, rangeLastDoc, "", keyDoc, "<seconds> how long to watch for cross-talk"),
}

const (
	rangeFirstDoc = "<P> the prefix of the aliases P-1 to P-N"
	rangeLastDoc  = "<P> the same prefix"
)

// aliasRange expands "P-1" to "P-N" into the aliases; both ends must name
// the same prefix.
func aliasRange(first, last, count string) ([]string, error) {
	if first != last {
		return nil, fmt.Errorf("a range runs from \"%s-1\" to \"%s-N\" with one prefix, got %q and %q", first, first, first, last)
	}
	return numbered(first, count), nil
}

// numbered are the aliases "P-1" to "P-count".
func numbered(prefix, count string) []string {
	n, _ := strconv.Atoi(count)
	aliases := make([]string, n)
	for k := range aliases {
		aliases[k] = fmt.Sprintf("%s-%d", prefix, k+1)
	}
	return aliases
}

// forRange runs step for every alias of the range, in order; the first
// failure (or unchecked refusal) ends it.
func forRange(ctx context.Context, first, last, count string, step func(alias string) error) error {
	aliases, err := aliasRange(first, last, count)
	if err != nil {
		return err
	}
	return worldFrom(ctx).untilRefused(aliases, step)
}

// untilRefused runs step for every alias, in order; the first failure (or
// unchecked refusal) ends it.
func (w *world) untilRefused(aliases []string, step func(alias string) error) error {
	for _, a := range aliases {
		if err := step(a); err != nil || w.lastRefusal != nil {
			return err
		}
	}
	return nil
}

func createDeviceRange(ctx context.Context, first, last, count string) error {
	return forRange(ctx, first, last, count, func(a string) error { return createDevice(ctx, a, "") })
}

func connectRange(ctx context.Context, kinds, first, last, count string) error {
	kind := strings.TrimSuffix(kinds, "s")
	return forRange(ctx, first, last, count, func(a string) error { return connect(ctx, kind, a, "", "") })
}

func setRangeToNames(ctx context.Context, key, kinds, first, last, count string) error {
	kind := strings.TrimSuffix(kinds, "s")
	return forRange(ctx, first, last, count, func(a string) error {
		return setDesired(ctx, key, kind, a, strconv.Quote(a), "")
	})
}

// ownNames is the captures of rangeReceivesOwn.
type ownNames struct{ Kinds, First, Last, Count, Key, Seconds string }

// rangeReceivesOwn waits for each identity's first patch, which must carry
// its own name, then watches all of them together for the given time: any
// further patch is cross-talk (or a duplicate) and fails the step.
func rangeReceivesOwn(ctx context.Context, r ownNames) error {
	kind := strings.TrimSuffix(r.Kinds, "s")
	if err := forRange(ctx, r.First, r.Last, r.Count, func(a string) error {
		return receivesDesiredPatch(ctx, kind, a, r.Key, strconv.Quote(a))
	}); err != nil {
		return err
	}
	return worldFrom(ctx).quietFor(ctx, kind, numbered(r.First, r.Count), seconds(r.Seconds))
}

// quietFor watches the identities' connections together for d: a desired
// patch on any of them fails (see expectNothing).
func (w *world) quietFor(ctx context.Context, kind string, aliases []string, d time.Duration) error {
	var sources []source
	for _, a := range aliases {
		i, err := w.who(kind, a)
		if err != nil {
			return err
		}
		c, err := w.state(i).connection()
		if err != nil {
			return err
		}
		sources = append(sources, w.patchSource(i, c))
	}
	return w.expectNothing(ctx, d, sources, func(i ident, what string) error {
		return fmt.Errorf("%s %q: expected nothing after its own patch, got %s", kind, i.alias, what)
	})
}
