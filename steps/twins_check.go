package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/steps/internal/vocab"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/hub"
)

// twinCheckVocabulary check a twin as the hub shows it now. Each reads
// afresh, without replacing the twin whose etag the service holds, and
// polls until the check holds or settleWithin passes (a live hub is
// eventually consistent); then the last failure is the step's.
var twinCheckVocabulary = []vocab.Def{
	step(twins, `^the twin of (device|module) ("[^"]+"(?: on device "[^"]+")?)( as the (?:device|module) reads it)? (has|does not have) (?:(desired|reported|tag) )?"([^"]+)"(?: (equal to|greater than|less than) (.+)| of type (number|string|object|array|boolean|null))?$`, twinHas,
		"Reads the twin until a member is there, or is not, with a value equal to, greater or less than the one given, or of a JSON type; \"as the device reads it\" checks the twin the device or module gets over MQTT, exactly as the hub sent it.",
		"", "", "", "", "", pathDoc, "", "<value> a JSON value, or a number to compare with"),
	step(twins, `^the twin of (device|module) ("[^"]+"(?: on device "[^"]+")?) matches:$`, twinMatches,
		"Reads the twin until it contains the JSON document below the step: every member it names has that value (null: the member is absent), other members may be anything.").JSONDoc(),
	step(twins, `^the twin of (device|module) ("[^"]+"(?: on device "[^"]+")?) names (?:module "([^"]+)" on )?device "([^"]+)"$`, twinNames,
		"Checks the twin's deviceId and moduleId name the identity it belongs to.",
		"", "", "<module> the module's alias, for a module twin", "<device> the device's alias"),
	step(twins, `^the (desired|reported) version of (device|module) ("[^"]+"(?: on device "[^"]+")?) (has gone up(?: by \d+)?|is unchanged) since the service read it$`, versionSinceRead,
		"Compares the twin's desired or reported $version with the one it had when the service read the twin."),
	step(twins, `^the twin etag of (device|module) ("[^"]+"(?: on device "[^"]+")?) (has changed|is unchanged) since the service read it$`, twinEtagSinceRead,
		"Compares the twin's etag with the one it had when the service read the twin."),
	step(twins, `^(desired|reported) "([^"]+)" of (device|module) ("[^"]+"(?: on device "[^"]+")?) (was|was not) updated since the service read it$`, metadataSinceRead,
		"Compares the $metadata last-updated time of a property with the one it had when the service read the twin.",
		"", pathDoc),
}

// twinMember is the captures of the "has" check: the twin (as the
// service reads it, or as the device or module does when Viewer is set),
// whether the member is there, where, and what it is compared with.
type twinMember struct{ Kind, Alias, Viewer, Has, Section, Path, Op, Operand, Type string }

// twinHas checks one member of a twin: there or not, and, when the step
// compares, equal to a value, greater or less than a number, or of a JSON
// type. The twin is the service's (sections desired, reported, tag)
// unless the step reads it as the device or module does: its own twin GET
// over MQTT, exactly as the hub sent it (sections desired and reported;
// tags never reach it). A path without a section starts at the root.
func twinHas(ctx context.Context, m twinMember) error {
	c, err := newComparison(m.Op, m.Operand, m.Type)
	if err != nil {
		return err
	}
	w, i, err := whoIn(ctx, m.Kind, m.Alias)
	if err != nil {
		return err
	}
	check := memberCheck{has: m.Has == "has", c: c}
	if m.Viewer == "" {
		check.at = sectionPath(m.Section, m.Path)
		what := fmt.Sprintf("the twin of %s at %s", i, strings.Join(check.at, "."))
		if err := w.neverCreated(i); err != nil {
			return err
		}
		return pollDoc(ctx, settleWithin, w.serviceTwin(i), func(doc any) error { return check.judge(what, doc) })
	}
	client, err := w.state(i).connection()
	if err != nil {
		return err
	}
	check.at = ownTwinPath(m.Section, m.Path)
	what := fmt.Sprintf("the twin %s reads, at %s", i, strings.Join(check.at, "."))
	return pollDoc(ctx, waitFor, ownTwin(i, client), func(doc any) error { return check.judge(what, doc) })
}

// twinMatches checks that the twin contains the document: every member it
// names has that value (objects recursively, arrays exactly), and a null
// means the member is absent. Members it does not name may be anything.
func twinMatches(ctx context.Context, kind, alias string, doc *godog.DocString) error {
	var want any
	if err := json.Unmarshal([]byte(doc.Content), &want); err != nil {
		return fmt.Errorf("the expected twin is not JSON: %w", err)
	}
	w, i, err := whoIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	if err := w.neverCreated(i); err != nil {
		return err
	}
	return pollDoc(ctx, settleWithin, w.serviceTwin(i), func(t any) error { return contains("the twin of "+i.String(), t, want) })
}

func twinNames(ctx context.Context, kind, alias, moduleAlias, deviceAlias string) error {
	w, i, err := whoIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	wantDevice, wantModule := w.sc.Name(deviceAlias), ""
	if moduleAlias != "" {
		wantModule = w.sc.Name(moduleAlias)
	}
	return w.checkTwin(ctx, i, func(t *hub.Twin) error {
		if t.DeviceID != wantDevice || t.ModuleID != wantModule {
			return fmt.Errorf("the twin of %s: want deviceId %q and moduleId %q, got %q and %q", i, wantDevice, wantModule, t.DeviceID, t.ModuleID)
		}
		return nil
	})
}

func versionSinceRead(ctx context.Context, section, kind, alias, how string) error {
	w, i, err := whoIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	version := map[string]func(*hub.Twin) int64{"desired": (*hub.Twin).DesiredVersion, "reported": (*hub.Twin).ReportedVersion}[section]
	return w.sinceRead(ctx, i, func(before, now *hub.Twin) error {
		return versionChange(fmt.Sprintf("%s $version of %s", section, i), version(before), version(now), how)
	})
}

func twinEtagSinceRead(ctx context.Context, kind, alias, how string) error {
	w, i, err := whoIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	return w.sinceRead(ctx, i, func(before, now *hub.Twin) error {
		if (now.ETag != before.ETag) != (how == "has changed") {
			return fmt.Errorf("twin etag of %s: was %s, now %s; want: %s", i, before.ETag, now.ETag, how)
		}
		return nil
	})
}

// metadataSinceRead compares the $metadata.$lastUpdated of a member with
// the one it had when the service read the twin (see updatedSince).
func metadataSinceRead(ctx context.Context, section, path, kind, alias, was string) error {
	w, i, err := whoIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	at := append(sectionPath(section, "$metadata."+path), "$lastUpdated")
	what := fmt.Sprintf("%s of the twin of %s", strings.Join(at, "."), i)
	return w.sinceRead(ctx, i, func(before, now *hub.Twin) error {
		then, hadOne := lookup(generic(before), at)
		got, present := lookup(generic(now), at)
		return updatedSince(what, then, hadOne, got, present, was)
	})
}

// checkTwin reads the twin until check accepts it; see twinCheckVocabulary.
func (w *world) checkTwin(ctx context.Context, i ident, check func(*hub.Twin) error) error {
	if err := w.neverCreated(i); err != nil {
		return err
	}
	return eventually(ctx, settleWithin, func(ctx context.Context) error {
		t, err := w.getTwin(ctx, i)
		if err != nil {
			return err
		}
		return check(t)
	})
}

// sinceRead reads the twin until check accepts it compared with the twin
// as the service last read it.
func (w *world) sinceRead(ctx context.Context, i ident, check func(before, now *hub.Twin) error) error {
	before := w.state(i).readTwin
	if before == nil {
		return fmt.Errorf("the service never read the twin of %s", i)
	}
	return w.checkTwin(ctx, i, func(now *hub.Twin) error { return check(before, now) })
}

// serviceTwin reads the twin as the service does, as generic JSON.
func (w *world) serviceTwin(i ident) func(context.Context) (any, error) {
	return func(ctx context.Context) (any, error) {
		t, err := w.getTwin(ctx, i)
		if err != nil {
			return nil, err
		}
		return generic(t), nil
	}
}

// ownTwin reads the twin as the device or module i does, over its MQTT
// connection c, as generic JSON.
func ownTwin(i ident, c *device.Client) func(context.Context) (any, error) {
	return func(ctx context.Context) (any, error) {
		raw, err := c.GetTwinJSON(ctx)
		if err != nil {
			return nil, err
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("%s: the twin it read is not JSON: %w", i, err)
		}
		return v, nil
	}
}
