package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hubspec/hubspec/hub"
)

// ident names an identity as a feature does: its kind ("device" or
// "module") and its alias. Devices and modules share most steps, because
// the hub treats them alike; ident lets one step serve both.
type ident struct{ kind, alias string }

func (i ident) String() string { return fmt.Sprintf("%s %q", i.kind, i.alias) }

// ids resolves an identity to the hub's device id and, for a module, its
// module id. A module's device is the one the scenario created it on.
func (w *world) ids(i ident) (deviceID, moduleID string, err error) {
	if i.kind == "device" {
		return w.sc.Name(i.alias), "", nil
	}
	d, ok := w.deviceOf[i.alias]
	if !ok {
		return "", "", fmt.Errorf("%s: the scenario never created it on a device", i)
	}
	return w.sc.Name(d), w.sc.Name(i.alias), nil
}

// The etag phrases a write step may end with. The identity steps say "its
// etag", the twin steps "the twin's etag"; both mean the etag the service
// holds from its last read or write.
const (
	identityEtagChoice = `( with its etag| with a stale etag| with etag "[^"]*"| unconditionally)?`
	twinEtagChoice     = `( with the twin's etag| with a stale etag| with etag "[^"]*"| unconditionally)?`
)

// chooseEtag turns an etag phrase into the If-Match value to send. No
// phrase, or "unconditionally", sends "*", as the SDKs do by default. A
// stale etag is the oldest one seen, which only exists once the entity has
// changed since; asking for one earlier is a mistake in the scenario.
// held is the etag the service holds (usually the latest it saw).
func chooseEtag(phrase string, seen []string, held, what string) (string, error) {
	phrase = strings.TrimSpace(phrase)
	switch {
	case phrase == "" || phrase == "unconditionally":
		return "*", nil
	case phrase == "with its etag" || phrase == "with the twin's etag":
		if held == "" {
			return "", fmt.Errorf("%s: the service holds no etag of it", what)
		}
		return held, nil
	case phrase == "with a stale etag":
		if len(seen) == 0 || seen[0] == seen[len(seen)-1] {
			return "", fmt.Errorf("%s has not changed since the service first saw it, so it has no stale etag yet", what)
		}
		return seen[0], nil
	}
	literal, _ := strings.CutPrefix(phrase, "with etag ")
	return strings.Trim(literal, `"`), nil
}

// latest is the last etag of a history, or "".
func latest(seen []string) string {
	if len(seen) == 0 {
		return ""
	}
	return seen[len(seen)-1]
}

// sawEtag appends an etag to a history unless it is already the latest.
func sawEtag(seen []string, etag string) []string {
	if etag == "" || len(seen) > 0 && seen[len(seen)-1] == etag {
		return seen
	}
	return append(seen, etag)
}

// readIdentity reads a device or module from the hub once, and remembers
// it as the identity the service last saw.
func (w *world) readIdentity(ctx context.Context, i ident) (etag string, keys hub.SymmetricKey, status string, err error) {
	d, m, err := w.ids(i)
	if err != nil {
		return "", hub.SymmetricKey{}, "", err
	}
	if i.kind == "device" {
		dev, err := w.registry.GetDevice(ctx, d)
		if err != nil {
			return "", hub.SymmetricKey{}, "", err
		}
		w.devices[i.alias] = dev
		return dev.ETag, keysOf(dev.Authentication), dev.Status, nil
	}
	mod, err := w.registry.GetModule(ctx, d, m)
	if err != nil {
		return "", hub.SymmetricKey{}, "", err
	}
	w.modules[i.alias] = mod
	return mod.ETag, keysOf(mod.Authentication), "", nil
}

// getTwin reads a device or module twin once.
func (w *world) getTwin(ctx context.Context, i ident) (*hub.Twin, error) {
	d, m, err := w.ids(i)
	if err != nil {
		return nil, err
	}
	if i.kind == "device" {
		return w.registry.GetDeviceTwin(ctx, d)
	}
	return w.registry.GetModuleTwin(ctx, d, m)
}

// putTwin patches (deep merge) or replaces a device or module twin.
func (w *world) putTwin(ctx context.Context, i ident, replace bool, t *hub.Twin, etag string) (*hub.Twin, error) {
	d, m, err := w.ids(i)
	if err != nil {
		return nil, err
	}
	switch {
	case i.kind == "device" && replace:
		return w.registry.ReplaceDeviceTwin(ctx, d, t, etag)
	case i.kind == "device":
		return w.registry.UpdateDeviceTwin(ctx, d, t, etag)
	case replace:
		return w.registry.ReplaceModuleTwin(ctx, d, m, t, etag)
	}
	return w.registry.UpdateModuleTwin(ctx, d, m, t, etag)
}

// Values in steps are JSON, compared as JSON: 122 and 122.0 agree, member
// order does not matter, and a hub that answers a number in another
// spelling (1e21 for 1000000000000000000000) is not wrong for it.

// canonical is v's JSON after a round trip through Go's generic JSON
// values, so that equal JSON values have equal canonical forms.
func canonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	var g any
	if err := json.Unmarshal(b, &g); err != nil {
		return string(b)
	}
	b, _ = json.Marshal(g)
	return string(b)
}

// sameValue compares a value from the hub with one written in a step.
func sameValue(what string, got any, want string) error {
	if g, w := canonical(got), canonical(parseValue(want)); g != w {
		return fmt.Errorf("%s: want %s, got %s", what, w, g)
	}
	return nil
}

// generic is v as generic JSON values (maps, slices, float64, ...), so a
// twin can be walked by member names as the hub spells them.
func generic(v any) any {
	b, _ := json.Marshal(v)
	var g any
	_ = json.Unmarshal(b, &g)
	return g
}

// lookup walks member names down from root.
func lookup(root any, path []string) (any, bool) {
	v := root
	for _, k := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return v, true
}
