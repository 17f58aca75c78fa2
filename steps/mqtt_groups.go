package steps

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
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
	n, _ := strconv.Atoi(count)
	aliases := make([]string, n)
	for k := range aliases {
		aliases[k] = fmt.Sprintf("%s-%d", first, k+1)
	}
	return aliases, nil
}

// forRange runs step for every alias of the range, in order; the first
// failure (or unchecked refusal) ends it.
func forRange(ctx context.Context, first, last, count string, step func(alias string) error) error {
	aliases, err := aliasRange(first, last, count)
	if err != nil {
		return err
	}
	for _, a := range aliases {
		if err := step(a); err != nil || worldFrom(ctx).lastRefusal != nil {
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

// rangeReceivesOwn waits for each identity's first patch, which must carry
// its own name, then watches all of them together for the given time: any
// further patch is cross-talk (or a duplicate) and fails the step.
func rangeReceivesOwn(ctx context.Context, kinds, first, last, count, key, seconds string) error {
	kind := strings.TrimSuffix(kinds, "s")
	if err := forRange(ctx, first, last, count, func(a string) error {
		return receivesDesiredPatch(ctx, kind, a, key, strconv.Quote(a))
	}); err != nil {
		return err
	}
	aliases, _ := aliasRange(first, last, count)
	n, _ := strconv.Atoi(seconds)
	dctx, cancel := context.WithTimeout(ctx, time.Duration(n)*time.Second)
	defer cancel()
	w := worldFrom(ctx)
	var wg sync.WaitGroup
	errs := make(chan error, len(aliases))
	for _, a := range aliases {
		c, err := w.client(ident{kind, a})
		if err != nil {
			return err
		}
		wg.Go(func() {
			select {
			case p := <-c.DesiredPatches():
				errs <- fmt.Errorf("%s %q: expected nothing after its own patch, got %v ($version %d)", kind, a, p.Properties, p.Version)
			case <-dctx.Done():
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}
