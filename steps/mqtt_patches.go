package steps

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hubspec/hubspec/steps/internal/vocab"

	"github.com/hubspec/hubspec/hub/device"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// patchVocabulary check the order and the absence of desired patches,
// the hub's answers to reports, and a device or module and the service
// working on one twin at once.
var patchVocabulary = []vocab.Def{
	step(mqtt, `^(device|module) "([^"]+)" receives desired patches in version order until "([^"]+)" is (.+)$`, receivesPatchesUntil,
		"Reads desired patches until the properties they add up to hold the value, failing on any patch not newer than the one before.",
		"", "", keyDoc),
	step(mqtt, `^(device|module) "([^"]+)" receives nothing within (\d+) seconds$`, receivesNothing,
		"Waits the given time, failing if a desired patch reaches the identity's connection or a message its latest bare connection.",
		"", "", "<seconds> how long to wait"),
	step(mqtt, `^the hub acknowledged the report of (device|module) "([^"]+)" with reported version (\d+)$`, reportAcknowledged,
		"Checks the reported $version the hub's answer to the identity's last report carried.",
		"", "", "<version> the reported $version"),
	step(mqtt, `^(device|module) "([^"]+)" sends the reported patch (.+)$`, sendReportedJSON,
		"The device or module sends a reported patch of exactly the bytes written, even malformed; a refusal is left for the next step to check.",
		"", "", "<patch> the patch's bytes, e.g. {\"telemetryInterval\": 30}"),
	step(mqtt, `^(device|module) "([^"]+)" reports (\d+) properties and reads its twin (\d+) times while the service sets (\d+) desired properties, all at once$`, overlap,
		"Sends reported patches r1, r2, ..., twin reads and desired patches d1, d2, ... all at once, and checks that the hub acknowledges every one.",
		"", "", "<reports> how many properties it reports, one patch each", "<reads> how many times it reads its twin", "<sets> how many desired properties the service sets, one patch each"),
}

// receivesPatchesUntil reads patches until the desired properties they add
// up to (a Full patch replaces them all) hold the value, checking that each
// $version is newer than the one before: a stale patch must never arrive.
func receivesPatchesUntil(ctx context.Context, kind, alias, key, value string) error {
	w := worldFrom(ctx)
	i := ident{kind, alias}
	c, err := w.client(i)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	seen := map[string]any{}
	var last int64
	for {
		select {
		case p, ok := <-c.DesiredPatches():
			if !ok {
				return fmt.Errorf("%s: connection closed before %q was %s", i, key, value)
			}
			if p.Version <= last {
				return fmt.Errorf("%s: expected patches in version order, got $version %d after %d", i, p.Version, last)
			}
			if p.Full {
				seen = map[string]any{}
			}
			for k, v := range p.Properties {
				seen[k] = v
			}
			last, w.state(i).lastPatch = p.Version, &p
			if sameValue("", seen[key], value) == nil {
				return nil
			}
		case <-dctx.Done():
			return fmt.Errorf("%s: expected desired %q to become %s within %s, got %s", i, key, value, waitFor, canonical(seen[key]))
		}
	}
}

// receivesNothing is a deadline wait: for the given time no desired patch
// may reach the identity's client, and no message its bare connections.
func receivesNothing(ctx context.Context, kind, alias, seconds string) error {
	w := worldFrom(ctx)
	i := ident{kind, alias}
	n, _ := strconv.Atoi(seconds)
	dctx, cancel := context.WithTimeout(ctx, time.Duration(n)*time.Second)
	defer cancel()
	var patches <-chan device.DesiredPatch
	if c := w.state(i).client; c != nil {
		patches = c.DesiredPatches()
	}
	var msgs <-chan paho.Message
	if b, err := w.bareOf(i, "latest"); err == nil {
		msgs = b.msgs
	}
	select {
	case p := <-patches:
		return fmt.Errorf("%s: expected nothing within %ss, got a desired patch %v ($version %d)", i, seconds, p.Properties, p.Version)
	case m := <-msgs:
		return fmt.Errorf("%s: expected nothing within %ss, got %s on %s", i, seconds, m.Payload(), m.Topic())
	case <-dctx.Done():
		return nil
	}
}

func reportAcknowledged(ctx context.Context, kind, alias, version string) error {
	w := worldFrom(ctx)
	i := ident{kind, alias}
	acked := w.state(i).acked
	if acked == nil {
		return fmt.Errorf("%s: no report of it was acknowledged", i)
	}
	if want, _ := strconv.ParseInt(version, 10, 64); *acked != want {
		return fmt.Errorf("%s: expected the answer to carry reported $version %d, got %d", i, want, *acked)
	}
	return nil
}

// sendReportedJSON sends the bytes as written, so that a malformed patch
// reaches the hub; its refusal is recorded.
func sendReportedJSON(ctx context.Context, kind, alias, body string) error {
	return worldFrom(ctx).report(ctx, ident{kind, alias}, func(ctx context.Context, c *device.Client) (int64, error) {
		return c.UpdateReportedJSON(ctx, []byte(body))
	})
}

// overlap sends reported patches r1…rN (rk = k), twin reads and desired
// patches d1…dM (dk = k) at the same time; every one must be acknowledged.
// The final state is for later steps to check.
func overlap(ctx context.Context, kind, alias, reports, reads, sets string) error {
	w := worldFrom(ctx)
	i := ident{kind, alias}
	c, err := w.client(i)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, 3*waitFor)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	run := func(count string, op func(k int) error) {
		n, _ := strconv.Atoi(count)
		for k := 1; k <= n; k++ {
			wg.Go(func() {
				if err := op(k); err != nil {
					errs <- err
				}
			})
		}
	}
	run(reports, func(k int) error {
		_, err := c.UpdateReported(dctx, map[string]any{fmt.Sprintf("r%d", k): k})
		return err
	})
	run(reads, func(int) error { _, err := c.GetTwin(dctx); return err })
	run(sets, func(k int) error {
		_, err := w.putTwin(dctx, i, false, desiredPatch(fmt.Sprintf("d%d", k), strconv.Itoa(k)), "*")
		return err
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		return fmt.Errorf("%s: expected every overlapping operation acknowledged, got %w", i, err)
	}
	return nil
}
