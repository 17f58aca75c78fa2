package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hubspec/hubspec/steps/internal/vocab"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/hub"
)

// twinCheckVocabulary check a twin as the hub shows it now. Each reads
// afresh, without replacing the twin whose etag the service holds, and
// polls until the check holds or settleWithin passes (a live hub is
// eventually consistent); then the last failure is the step's.
var twinCheckVocabulary = []vocab.Def{
	step(twins, `^the twin of (device|module) "([^"]+)"( as the (?:device|module) reads it)? (has|does not have) (?:(desired|reported|tag) )?"([^"]+)"(?: (equal to|greater than|less than) (.+)| of type (number|string|object|array|boolean|null))?$`, twinHas,
		"Reads the twin until a member is there, or is not, with a value equal to, greater or less than the one given, or of a JSON type; \"as the device reads it\" checks the twin the device or module gets over MQTT, exactly as the hub sent it.",
		"", "", "", "", "", pathDoc, "", "<value> a JSON value, or a number to compare with"),
	step(twins, `^the twin of (device|module) "([^"]+)" matches:$`, twinMatches,
		"Reads the twin until it contains the JSON document below the step: every member it names has that value (null: the member is absent), other members may be anything."),
	step(twins, `^the twin of (device|module) "([^"]+)" names (?:module "([^"]+)" on )?device "([^"]+)"$`, twinNames,
		"Checks the twin's deviceId and moduleId name the identity it belongs to.",
		"", "", "<module> the module's alias, for a module twin", "<device> the device's alias"),
	step(twins, `^the (desired|reported) version of (device|module) "([^"]+)" (has gone up(?: by \d+)?|is unchanged) since the service read it$`, versionSinceRead,
		"Compares the twin's desired or reported $version with the one it had when the service read the twin."),
	step(twins, `^the twin etag of (device|module) "([^"]+)" (has changed|is unchanged) since the service read it$`, twinEtagSinceRead,
		"Compares the twin's etag with the one it had when the service read the twin."),
	step(twins, `^(desired|reported) "([^"]+)" of (device|module) "([^"]+)" (was|was not) updated since the service read it$`, metadataSinceRead,
		"Compares the $metadata last-updated time of a property with the one it had when the service read the twin.",
		"", pathDoc),
}

// checkTwin reads the twin until check accepts it; see twinCheckVocabulary.
func checkTwin(ctx context.Context, i ident, check func(*hub.Twin) error) error {
	w := worldFrom(ctx)
	return Eventually(ctx, settleWithin, func(ctx context.Context) error {
		t, err := w.getTwin(ctx, i)
		if err != nil {
			return err
		}
		return check(t)
	})
}

// sectionPath turns "desired", "reported" or "tag" and a dotted path into
// the path from the twin's root. Twin keys cannot contain ".", so a dotted
// path is unambiguous.
func sectionPath(section, path string) []string {
	root := map[string][]string{"desired": {"properties", "desired"}, "reported": {"properties", "reported"}, "tag": {"tags"}}[section]
	return append(root, strings.Split(path, ".")...)
}

// twinMatches checks that the twin contains the document: every member it
// names has that value (objects recursively, arrays exactly), and a null
// means the member is absent. Members it does not name may be anything.
func twinMatches(ctx context.Context, kind, alias string, doc *godog.DocString) error {
	var want any
	if err := json.Unmarshal([]byte(doc.Content), &want); err != nil {
		return fmt.Errorf("the expected twin is not JSON: %w", err)
	}
	return checkTwin(ctx, ident{kind, alias}, func(t *hub.Twin) error {
		return contains(fmt.Sprintf("the twin of %s %q", kind, alias), generic(t), want)
	})
}

func contains(path string, got, want any) error {
	wantObj, ok := want.(map[string]any)
	if !ok {
		return sameValue(path, got, canonical(want))
	}
	gotObj, ok := got.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: want an object, got %s", path, canonical(got))
	}
	for k, v := range wantObj {
		g, present := gotObj[k]
		switch {
		case v == nil && present:
			return fmt.Errorf("%s.%s: want no member, got %s", path, k, canonical(g))
		case v == nil:
		case !present && isObject(v):
			// An absent object is an empty one: {"tags": {"a": null}}
			// holds for a twin without tags.
			if err := contains(path+"."+k, map[string]any{}, v); err != nil {
				return err
			}
		case !present:
			return fmt.Errorf("%s.%s: want %s, got nothing", path, k, canonical(v))
		default:
			if err := contains(path+"."+k, g, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func isObject(v any) bool { _, ok := v.(map[string]any); return ok }

func twinNames(ctx context.Context, kind, alias, moduleAlias, deviceAlias string) error {
	w := worldFrom(ctx)
	wantModule := ""
	if moduleAlias != "" {
		wantModule = w.sc.Name(moduleAlias)
	}
	return checkTwin(ctx, ident{kind, alias}, func(t *hub.Twin) error {
		if t.DeviceID != w.sc.Name(deviceAlias) || t.ModuleID != wantModule {
			return fmt.Errorf("the twin of %s %q: want deviceId %q and moduleId %q, got %q and %q",
				kind, alias, w.sc.Name(deviceAlias), wantModule, t.DeviceID, t.ModuleID)
		}
		return nil
	})
}

// baseline is the twin as the service last read it.
func (w *world) baseline(i ident) (*hub.Twin, error) {
	t := w.state(i).readTwin
	if t == nil {
		return nil, fmt.Errorf("the service never read the twin of %s", i)
	}
	return t, nil
}

var wentUpBy = regexp.MustCompile(`by (\d+)$`)

func versionSinceRead(ctx context.Context, section, kind, alias, how string) error {
	i := ident{kind, alias}
	before, err := worldFrom(ctx).baseline(i)
	if err != nil {
		return err
	}
	version := (*hub.Twin).DesiredVersion
	if section == "reported" {
		version = (*hub.Twin).ReportedVersion
	}
	return checkTwin(ctx, i, func(t *hub.Twin) error {
		was, now := version(before), version(t)
		ok := now > was
		if m := wentUpBy.FindStringSubmatch(how); m != nil {
			by, _ := strconv.ParseInt(m[1], 10, 64)
			ok = now == was+by
		} else if how == "is unchanged" {
			ok = now == was
		}
		if !ok {
			return fmt.Errorf("%s $version of %s: was %d, now %d; want: %s", section, i, was, now, how)
		}
		return nil
	})
}

func twinEtagSinceRead(ctx context.Context, kind, alias, how string) error {
	i := ident{kind, alias}
	before, err := worldFrom(ctx).baseline(i)
	if err != nil {
		return err
	}
	return checkTwin(ctx, i, func(t *hub.Twin) error {
		if (t.ETag != before.ETag) != (how == "has changed") {
			return fmt.Errorf("twin etag of %s: was %s, now %s; want: %s", i, before.ETag, t.ETag, how)
		}
		return nil
	})
}

// metadataSinceRead compares the $metadata.$lastUpdated of a member with
// the one it had when the service read the twin: a later ISO 8601 time
// means it was updated (a member that did not exist then was, once it has
// one), the same time means it was not.
func metadataSinceRead(ctx context.Context, section, path, kind, alias, was string) error {
	i := ident{kind, alias}
	before, err := worldFrom(ctx).baseline(i)
	if err != nil {
		return err
	}
	steps := append(sectionPath(section, "$metadata."+path), "$lastUpdated")
	what := fmt.Sprintf("%s of the twin of %s", strings.Join(steps, "."), i)
	then, hadOne := lookup(generic(before), steps)
	return checkTwin(ctx, i, func(t *hub.Twin) error {
		now, ok := lookup(generic(t), steps)
		nowTime, err := time.Parse(time.RFC3339Nano, fmt.Sprint(now))
		if !ok || err != nil {
			return fmt.Errorf("%s: want an ISO 8601 time, got %v", what, now)
		}
		if was == "was not" {
			if !hadOne || now != then {
				return fmt.Errorf("%s: want it unchanged at %v, got %v", what, then, now)
			}
			return nil
		}
		if thenTime, err := time.Parse(time.RFC3339Nano, fmt.Sprint(then)); hadOne && (err != nil || !nowTime.After(thenTime)) {
			return fmt.Errorf("%s: want a time after %v, got %v", what, then, now)
		}
		return nil
	})
}
