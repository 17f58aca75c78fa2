package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/hubspec/hubspec/steps/internal/vocab"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/hub"
)

// twinVocabulary are the service's side of device and module twins: reads
// and writes here, checks in twins_check.go.
var twinVocabulary = []vocab.Def{
	step(twins, `^the service (?:reads|has read) the twin of (device|module) ("[^"]+"(?: on device "[^"]+")?)$`, readTwin,
		"The service reads the twin: later writes take their etag from it, and later checks \"since the service read it\" compare with it."),
	step(twins, `^the service (patches|replaces|has patched|has replaced) the twin of (device|module) ("[^"]+"(?: on device "[^"]+")?)`+twinEtagChoice+`:$`, writeTwinDoc,
		"The service patches the twin with the JSON document below the step (a deep merge where null deletes), or replaces its tags and desired properties with it.",
		"", "", "", twinEtagDoc).JSONDoc(),
	step(twins, `^the service (patches|replaces) the twin of (device|module) ("[^"]+"(?: on device "[^"]+")?) with (desired properties|tags) of (\d+) bytes$`, writeTwinOfSize,
		"The service writes desired properties or tags of exactly N bytes, as IoT Hub counts a twin's size, to try its limits."),
	step(twins, `^the service writes a string of (\d+) characters to (desired|tag) "([^"]+)" of (device|module) ("[^"]+"(?: on device "[^"]+")?)$`, writeLongString,
		"The service patches one desired property or tag with a string of N characters, to try the hub's limit on strings.",
		"", "", keyDoc),
	step(twins, `^the service sets desired "([^"]+)" of (device|module) ("[^"]+"(?: on device "[^"]+")?) to (.+?)`+twinEtagChoice+`$`, setDesired,
		"The service patches one desired property of the twin, as the tutorial does.",
		keyDoc, "", "", "", twinEtagDoc),
	step(twins, `^someone else has since set desired "([^"]+)" of (device|module) ("[^"]+"(?: on device "[^"]+")?) to (.+)$`, setDesiredBehindTheServicesBack,
		"Another service changes a desired property while this one keeps the twin it had, whose etag is then out of date.",
		keyDoc),
}

const (
	keyDoc      = "<key> the property's name"
	twinEtagDoc = "how the write is guarded: nothing or unconditionally sends If-Match *, " +
		`with the twin's etag the etag of the twin the service holds, with a stale etag the oldest it saw, with etag "<text>" that one`
)

// readTwin reads the twin that later writes take their etag from and later
// checks compare with ("since the service read it"). It polls while the
// hub does not show the twin yet (a live hub may answer 404 for a moment
// after a create) or shows it older than the service has already seen it.
func readTwin(ctx context.Context, kind, alias string) error {
	w, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	return eventually(ctx, settleWithin, func(ctx context.Context) error {
		t, err := w.getTwin(ctx, s.ident)
		if err != nil {
			return err
		}
		if held := s.twin; held != nil && t.Version < held.Version {
			return fmt.Errorf("twin of %s: the hub still shows version %d, older than %d", s.ident, t.Version, held.Version)
		}
		s.twin, s.readTwin = t, t
		s.twinEtags = sawEtag(s.twinEtags, t.ETag)
		return nil
	})
}

// writeTwinDoc writes a twin document given as JSON, e.g.
// {"tags": {...}, "properties": {"desired": {...}}}: patched (deep merge,
// null deletes) or replaced. Numbers are sent exactly as written.
func writeTwinDoc(ctx context.Context, verb, kind, alias, etagPhrase string, doc *godog.DocString) error {
	var t hub.Twin
	dec := json.NewDecoder(strings.NewReader(doc.Content))
	dec.UseNumber()
	if err := dec.Decode(&t); err != nil {
		return fmt.Errorf("the twin document is not a twin in JSON: %w", err)
	}
	w, i, err := whoIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	return w.writeTwin(ctx, i, strings.HasSuffix(verb, "replaces") || strings.HasSuffix(verb, "replaced"), &t, etagPhrase)
}

// writeTwin sends a twin write with the If-Match the etag phrase asks for.
// The service reads the twin first if it never has, so that every check
// "since the service read it" has something to compare with. A refusal is
// recorded for "the hub refuses with".
func (w *world) writeTwin(ctx context.Context, i ident, replace bool, t *hub.Twin, etagPhrase string) error {
	s := w.state(i)
	if s.readTwin == nil {
		if err := readTwin(ctx, i.kind, i.ref()); err != nil {
			return err
		}
	}
	etag, err := chooseEtag(etagPhrase, s.twinEtags, s.twin.ETag, "the twin of "+i.String())
	if err != nil {
		return err
	}
	got, err := w.putTwin(ctx, i, replace, t, etag)
	if err != nil {
		return w.refused(err)
	}
	s.twin = got
	s.twinEtags = sawEtag(s.twinEtags, got.ETag)
	return nil
}

// writeTwinOfSize writes desired properties or tags whose size, as IoT Hub
// counts it (docs/fidelity.md, Twins "Section sizes": key characters plus
// value sizes, a string by its characters), is exactly size: members "p00", "p01", ... holding
// strings of at most 4000 characters, under the 4 KB string limit.
func writeTwinOfSize(ctx context.Context, verb, kind, alias, section, size string) error {
	members, err := membersOfSize(size)
	if err != nil {
		return err
	}
	w, i, err := whoIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	return w.writeTwin(ctx, i, verb == "replaces", sectionTwin(section, members), "")
}

// membersOfSize are members whose size, as IoT Hub counts a twin section
// (see writeTwinOfSize), is exactly size.
func membersOfSize(size string) (map[string]any, error) {
	n, _ := strconv.Atoi(size)
	members := map[string]any{}
	for k := 0; n > 0; k++ {
		key := fmt.Sprintf("p%02d", k)
		v := min(4000, n-len(key))
		if v < 0 {
			return nil, fmt.Errorf("cannot make properties of %s bytes: the smallest is 3", size)
		}
		members[key] = strings.Repeat("x", v)
		n -= len(key) + v
	}
	return members, nil
}

// writeLongString patches one desired property or tag with a string of n
// ASCII characters (so n bytes), unconditionally.
func writeLongString(ctx context.Context, length, section, key, kind, alias string) error {
	n, _ := strconv.Atoi(length)
	w, i, err := whoIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	return w.writeTwin(ctx, i, false, sectionTwin(section, map[string]any{key: strings.Repeat("x", n)}), "")
}

// sectionTwin is a twin write holding members in its tags ("tag", "tags")
// or its desired properties.
func sectionTwin(section string, members map[string]any) *hub.Twin {
	if strings.HasPrefix(section, "tag") {
		return &hub.Twin{Tags: members}
	}
	return &hub.Twin{Properties: &hub.TwinProperties{Desired: members}}
}

// setDesired patches one desired property, as the tutorial does; without
// an etag phrase, unconditionally.
func setDesired(ctx context.Context, key, kind, alias, value, etagPhrase string) error {
	w, i, err := whoIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	return w.writeTwin(ctx, i, false, desiredPatch(key, value), etagPhrase)
}

// setDesiredBehindTheServicesBack changes the twin unconditionally while
// the service keeps holding the twin it had, whose etag is then outdated.
func setDesiredBehindTheServicesBack(ctx context.Context, key, kind, alias, value string) error {
	w, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	if s.readTwin == nil {
		if err := readTwin(ctx, kind, s.ident.ref()); err != nil {
			return err
		}
	}
	held := s.twin
	if err := w.writeTwin(ctx, s.ident, false, desiredPatch(key, value), "unconditionally"); err != nil {
		return err
	}
	if err := w.takeRefusal(); err != nil {
		return err
	}
	s.twin = held
	return nil
}

func desiredPatch(key, value string) *hub.Twin {
	return &hub.Twin{Properties: &hub.TwinProperties{Desired: map[string]any{key: parseValue(value)}}}
}
