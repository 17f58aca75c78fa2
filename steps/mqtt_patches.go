package steps

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"

	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/steps/internal/vocab"
)

// patchVocabulary check the order and the absence of desired patches,
// the hub's answers to reports, and a device or module and the service
// working on one twin at once.
var patchVocabulary = []vocab.Def{
	step(mqtt, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) receives desired patches in version order until "([^"]+)" is (.+)$`, receivesPatchesUntil,
		"Reads desired patches until the properties they add up to hold the value, failing on any patch not newer than the one before.",
		"", "", keyDoc),
	step(mqtt, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) receives nothing within (\d+) seconds$`, receivesNothing,
		"Fails if a desired patch reaches the identity's connection or a message its latest bare connection within the given time. On an emulator target the hub proves at once that nothing more is on its way (a delivery barrier, then a marker the connection must have handled); a live hub is watched for the whole time.",
		"", "", "<seconds> how long to wait"),
	step(mqtt, `^the hub acknowledged the report of (device|module) ("[^"]+"(?: on device "[^"]+")?) with reported version (\d+)$`, reportAcknowledged,
		"Checks the reported $version the hub's answer to the identity's last report carried.",
		"", "", "<version> the reported $version"),
	step(mqtt, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) sends the reported patch (.+)$`, sendReportedJSON,
		"The device or module sends a reported patch of exactly the bytes written, even malformed; a refusal is left for the next step to check.",
		"", "", "<patch> the patch's bytes, e.g. {\"telemetryInterval\": 30}"),
	step(mqtt, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) reports (\d+) properties and reads its twin (\d+) times while the service sets (\d+) desired properties, all at once$`, overlap,
		"Sends reported patches r1, r2, ..., twin reads and desired patches d1, d2, ... all at once, and checks that the hub acknowledges every one.",
		"", "", "<reports> how many properties it reports, one patch each", "<reads> how many times it reads its twin", "<sets> how many desired properties the service sets, one patch each"),
}

// receivesPatchesUntil reads patches until the desired properties they add
// up to hold the value (see desiredSum): a stale patch must never arrive.
func receivesPatchesUntil(ctx context.Context, kind, alias, key, value string) error {
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
	var sum desiredSum
	for {
		p, closed, err := receive(dctx, c.DesiredPatches())
		switch {
		case closed:
			return fmt.Errorf("%s: connection closed before %q was %s", s.ident, key, value)
		case err != nil:
			return fmt.Errorf("%s: expected desired %q to become %s within %s, got %s", s.ident, key, value, waitFor, canonical(sum.props[key]))
		}
		if err := sum.add(p); err != nil {
			return fmt.Errorf("%s: %w", s.ident, err)
		}
		if s.lastPatch = &p; sameValue("", sum.props[key], value) == nil {
			return nil
		}
	}
}

// receivesNothing checks that no desired patch reaches the identity's
// client, and no message its latest bare connection, for the given time:
// proved at once where the target has a delivery barrier, else waited out
// (expectNothing).
func receivesNothing(ctx context.Context, kind, alias, secs string) error {
	w, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	return w.expectNothing(ctx, seconds(secs), w.sourcesOf(s), func(i ident, what string) error {
		return fmt.Errorf("%s: expected nothing within %ss, got %s", i, secs, what)
	})
}

// sourcesOf are what a negative check watches of an identity: its twin
// client's desired patches and its latest bare connection.
func (w *world) sourcesOf(s *identityState) []source {
	var sources []source
	if s.client != nil {
		sources = append(sources, w.patchSource(s.ident, s.client))
	}
	if b, err := w.bareOf(s.ident, "latest"); err == nil {
		sources = append(sources, b.source(s.ident))
	}
	return sources
}

func reportAcknowledged(ctx context.Context, kind, alias, version string) error {
	_, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	if s.acked == nil {
		return fmt.Errorf("%s: no report of it was acknowledged", s.ident)
	}
	want, _ := strconv.ParseInt(version, 10, 64)
	return errorIf(*s.acked != want, "%s: expected the answer to carry reported $version %d, got %d", s.ident, want, *s.acked)
}

// sendReportedJSON sends the bytes as written, so that a malformed patch
// reaches the hub; its refusal is recorded.
func sendReportedJSON(ctx context.Context, kind, alias, body string) error {
	w, i, err := whoIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	return w.report(ctx, i, func(ctx context.Context, c *device.Client) (int64, error) {
		return c.UpdateReportedJSON(ctx, []byte(body))
	})
}

// overlapping is the captures of overlap.
type overlapping struct{ Kind, Alias, Reports, Reads, Sets string }

// overlap sends reported patches r1…rN (rk = k), twin reads and desired
// patches d1…dM (dk = k) at the same time; every one must be acknowledged.
// The final state is for later steps to check.
func overlap(ctx context.Context, o overlapping) error {
	w, s, err := identityIn(ctx, o.Kind, o.Alias)
	if err != nil {
		return err
	}
	c, err := s.connection()
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, 3*waitFor)
	defer cancel()
	err = concurrently(slices.Concat(
		times(o.Reports, func(k int) error {
			_, err := c.UpdateReported(dctx, map[string]any{fmt.Sprintf("r%d", k): k})
			return err
		}),
		times(o.Reads, func(int) error { _, err := c.GetTwin(dctx); return err }),
		times(o.Sets, func(k int) error {
			_, err := w.putTwin(dctx, s.ident, false, desiredPatch(fmt.Sprintf("d%d", k), strconv.Itoa(k)), "*")
			return err
		}),
	))
	if err != nil {
		return fmt.Errorf("%s: expected every overlapping operation acknowledged, got %w", s.ident, err)
	}
	return nil
}

// desiredSum adds up desired patches in the order they arrive: a Full
// patch replaces all the properties, any other merges into them; each
// $version must be newer than the one before.
type desiredSum struct {
	props map[string]any
	last  int64
}

func (d *desiredSum) add(p device.DesiredPatch) error {
	if p.Version <= d.last {
		return fmt.Errorf("expected patches in version order, got $version %d after %d", p.Version, d.last)
	}
	if p.Full || d.props == nil {
		d.props = map[string]any{}
	}
	maps.Copy(d.props, p.Properties)
	d.last = p.Version
	return nil
}

// times is count jobs: op(1) to op(count).
func times(count string, op func(k int) error) []func() error {
	n, _ := strconv.Atoi(count)
	jobs := make([]func() error, n)
	for k := range jobs {
		jobs[k] = func() error { return op(k + 1) }
	}
	return jobs
}

// concurrently runs every job at once and returns, once all have ended,
// the error of one that failed, or nil.
func concurrently(jobs []func() error) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(jobs))
	for _, job := range jobs {
		wg.Go(func() {
			if err := job(); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}
