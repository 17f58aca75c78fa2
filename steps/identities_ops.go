package steps

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hubspec/hubspec/steps/internal/vocab"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/hub"
)

// identityOpVocabulary are the registry operations beyond create: reads,
// updates and deletes with or without etags, invalid ids, module lists.
var identityOpVocabulary = []vocab.Def{
	step(identities, `^the service (?:reads|has read) (device|module) ("[^"]+"(?: on device "[^"]+")?)$`, readIdentityStep,
		"The service reads the identity, waiting while the hub still shows it as it was before the service's last write."),
	step(identities, `^reading (device|module|the twin of device|the twin of module) ("[^"]+"(?: on device "[^"]+")?) is refused with (\d{3}) (\w+)$`, readingIsRefused,
		"Reads the identity, or its twin, until the hub refuses with this status and error, as it may not at once after a delete.",
		"", "", "", errorDoc),
	step(identities, `^the service (?:rotates|has rotated) the keys of (device|module) ("[^"]+"(?: on device "[^"]+")?)`+identityEtagChoice+`$`, rotateKeys,
		"The service gives the identity two new random keys, sending it otherwise as it last saw it.",
		"", "", identityEtagDoc),
	step(identities, `^the service (disables|has disabled|enables|has enabled) device "([^"]+)"`+identityEtagChoice+`$`, setDeviceStatus,
		"The service disables the device, which then cannot connect, nor can its modules, or enables it again.",
		"", "", identityEtagDoc),
	step(identities, `^device "([^"]+)" is (enabled|disabled)$`, deviceStatusIs,
		"Reads the device until its status is the one given."),
	step(identities, `^the service (?:deletes|has deleted) (device|module) ("[^"]+"(?: on device "[^"]+")?)`+identityEtagChoice+`$`, deleteIdentity,
		"The service deletes the identity (a device takes its modules and their twins with it); a refusal is left for the next step to check.",
		"", "", identityEtagDoc),
	step(identities, `^the service creates a (device|module) with (?:the literal id "([^"]*)"|an id of (\d+) characters)(?: on device "([^"]+)")?$`, createWithID,
		"The service creates an identity under an id spelled out, or a unique one of exactly N characters, to try the hub's rules for ids.",
		"", "<id> the id exactly as the hub receives it, not made unique", "", onDeviceDoc),
	step(identities, `^the service creates (\d+) modules on device "([^"]+)"$`, createModules,
		`The service creates N modules on the device, known as "<alias>-1" to "<alias>-N"; the first refusal stops it.`),
	step(identities, `^the modules of device "([^"]+)" are:$`, modulesAre,
		"Lists the device's modules until they are exactly the aliases of the table below the step, one per row, in any order."),
	step(identities, `^the service lists the devices$`, listDevices,
		"The service lists the hub's devices once (as many as the hub gives at a time); a refusal is left for the next step to check."),
}

// identityEtagDoc describes the etag phrase of an identity write.
const identityEtagDoc = "how the write is guarded: nothing or unconditionally sends If-Match *, " +
	`with its etag the etag the service last saw, with a stale etag the oldest one, with etag "<text>" that one`

// readIdentityStep reads an identity, polling while the hub does not show
// it yet or shows it as it was before the service's last write (a stale
// read on an eventually consistent hub).
func readIdentityStep(ctx context.Context, kind, alias string) error {
	w, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	return w.pollIdentity(ctx, s.ident, func(v view) error {
		if err := notOlder(s.ident.String(), s.etags, v.etag); err != nil {
			return err
		}
		s.etags = sawEtag(s.etags, v.etag)
		return nil
	})
}

// readingIsRefused polls a read until the hub refuses it as expected: right
// after a delete a live hub may still show the identity for a moment.
func readingIsRefused(ctx context.Context, what, alias, status, name string) error {
	kind, twin := strings.CutPrefix(what, "the twin of ")
	w, i, err := whoIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	read := w.readOnce(i, twin)
	return eventually(ctx, settleWithin, func(ctx context.Context) error { return refusedAs(read(ctx), status, name) })
}

// rotateKeys replaces an identity's keys with two new random ones, sending
// the identity as the service last saw it otherwise unchanged.
func rotateKeys(ctx context.Context, kind, alias, etagPhrase string) error {
	w, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	k := newKeys()
	err = w.updateIdentity(ctx, s.ident, etagPhrase, withAuth(sasAuth(k)))
	if err == nil && w.lastRefusal == nil {
		s.givenKeys = &k
	}
	return err
}

// setDeviceStatus disables or enables a device (see updateIdentity).
func setDeviceStatus(ctx context.Context, verb, alias, etagPhrase string) error {
	status := hub.StatusDisabled
	if strings.Contains(verb, "enable") {
		status = hub.StatusEnabled
	}
	return worldFrom(ctx).updateIdentity(ctx, ident{"device", alias, ""}, etagPhrase, func(d *hub.Device, _ *hub.Module) {
		d.Status = status
	})
}

// deviceStatusIs reads the device until its status is the one given. A
// read older than the service's last write (a stale read on an eventually
// consistent hub) is no answer: it would also leave the service holding
// the device as it was, old keys and all.
func deviceStatusIs(ctx context.Context, alias, status string) error {
	w, i := worldFrom(ctx), ident{"device", alias, ""}
	return w.pollIdentity(ctx, i, func(v view) error {
		if err := notOlder(i.String(), w.state(i).etags, v.etag); err != nil {
			return err
		}
		return errorIf(v.status != status, "device %q: want %s, got %s", alias, status, v.status)
	})
}

// deleteIdentity deletes a device or module; without an etag phrase it
// sends If-Match "*", as the SDKs do. A refusal is recorded.
func deleteIdentity(ctx context.Context, kind, alias, etagPhrase string) error {
	w, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	etag, err := chooseEtag(etagPhrase, s.etags, latest(s.etags), s.ident.String())
	if err != nil {
		return err
	}
	if err := w.deleteIdentity(ctx, s.ident, etag); err != nil {
		return w.refused(err)
	}
	s.gone = true
	return nil
}

// createWithID creates an identity under an id the scenario spells out
// (to meet the hub's id rules), or under a run-prefixed id of exactly n
// characters (idOfLength). Keys are left to the hub; a refusal is
// recorded. Should the hub accept it, the identity is deleted after the
// scenario.
func createWithID(ctx context.Context, kind, literal, length, deviceAlias string) error {
	if err := onDeviceFor(kind, deviceAlias); err != nil {
		return err
	}
	w := worldFrom(ctx)
	id, err := idOfLength(literal, length, w.sc.Name("long"))
	if err != nil {
		return err
	}
	if err := w.createUnnamed(ctx, kind, id, deviceAlias); err != nil {
		return w.refused(err)
	}
	return nil
}

// createModules creates n modules on a device, known as "<device>-1" to
// "<device>-n"; the first refusal stops it and is recorded.
func createModules(ctx context.Context, count, deviceAlias string) error {
	return worldFrom(ctx).untilRefused(numbered(deviceAlias, count), func(alias string) error {
		return createModule(ctx, alias, deviceAlias, "")
	})
}

// modulesAre lists the device's modules until they are exactly the table's
// aliases (one per row), in any order.
func modulesAre(ctx context.Context, deviceAlias string, table *godog.Table) error {
	w := worldFrom(ctx)
	want := w.hubIDs(column(table))
	return eventually(ctx, settleWithin, func(ctx context.Context) error {
		got, err := w.moduleIDs(ctx, deviceAlias)
		if err != nil {
			return err
		}
		return errorIf(!slices.Equal(got, want), "modules of device %q: want %v, got %v", deviceAlias, want, got)
	})
}

// idOfLength is literal, or, when length is given, base made exactly
// that long with x's.
func idOfLength(literal, length, base string) (string, error) {
	if length == "" {
		return literal, nil
	}
	n, _ := strconv.Atoi(length)
	if n < len(base) {
		return "", fmt.Errorf("an id of %d characters is shorter than this run's names (%d)", n, len(base))
	}
	return base + strings.Repeat("x", n-len(base)), nil
}

// column is the first cell of each of the table's rows.
func column(table *godog.Table) []string {
	var cells []string
	for _, row := range table.Rows {
		cells = append(cells, row.Cells[0].Value)
	}
	return cells
}

// hubIDs are the hub's ids of aliases, sorted.
func (w *world) hubIDs(aliases []string) []string {
	ids := make([]string, len(aliases))
	for k, a := range aliases {
		ids[k] = w.sc.Name(a)
	}
	slices.Sort(ids)
	return ids
}

// listDevices lists the hub's devices once; a refusal is recorded. It
// looks for no device in the list: on a live hub the list holds every
// client's devices, and may be cut short.
func listDevices(ctx context.Context) error {
	w := worldFrom(ctx)
	if _, err := w.registry.ListDevices(ctx, 0); err != nil {
		return w.refused(err)
	}
	return nil
}
