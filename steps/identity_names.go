package steps

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// How a step names an identity. A device is named by its alias. A module
// is named by its alias and its device's, because a hub names a module by
// both: the same module (a product's "telemetry" module) installed on
// several gateways is the normal case, not a conflict. A step may name a
// module by its alias alone when the scenario has exactly one module of
// that alias; otherwise it says which: module "telemetry" on device
// "gatewayB". An alias that names no module, or several, fails the step at
// once, naming the modules the scenario has, rather than letting a check
// poll for ten seconds for an identity that does not exist.
//
// The steps' expressions capture the whole reference in the alias group,
// (device|module) ("[^"]+"(?: on device "[^"]+")?), so that every step
// naming a device or module accepts the "on device" form without a
// capture of its own (vocab shows it as "<alias>"[ on device "<device>"]);
// who splits it.

// onDeviceRef is what separates a module's alias from its device's in a
// reference: `"telemetry" on device "gatewayB"`.
const onDeviceRef = `" on device "`

// who resolves a step's reference to one of the scenario's identities: a
// device by its alias, a module by its alias and device, or by its alias
// alone when that names exactly one of the scenario's modules.
func (w *world) who(kind, ref string) (ident, error) {
	if len(ref) >= 2 && ref[0] == '"' && ref[len(ref)-1] == '"' {
		ref = ref[1 : len(ref)-1]
	}
	alias, dev, onDevice := strings.Cut(ref, onDeviceRef)
	if kind == "device" {
		if onDevice {
			return ident{}, fmt.Errorf("device %q on device %q: a device is on no device; write device %q", alias, dev, alias)
		}
		return ident{"device", alias, ""}, nil
	}
	if onDevice {
		i := ident{"module", alias, dev}
		if _, ok := w.identities[i]; ok {
			return i, nil
		}
		return ident{}, w.unknownModule(i)
	}
	found := w.modulesNamed(alias)
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return ident{}, w.unknownModule(ident{"module", alias, ""})
	}
	devs := make([]string, len(found))
	for k, i := range found {
		devs[k] = fmt.Sprintf("%q", i.device)
	}
	return ident{}, fmt.Errorf("module %q is on %d devices, %s: say which, e.g. module %q on device %q",
		alias, len(found), andList(devs), alias, found[0].device)
}

// modulesNamed are the scenario's modules of an alias, in the order the
// scenario first named them.
func (w *world) modulesNamed(alias string) []ident {
	var found []ident
	for _, i := range w.named {
		if i.kind == "module" && i.alias == alias {
			found = append(found, i)
		}
	}
	return found
}

// unknownModule is the error for a module the scenario never created: it
// lists the modules the scenario has, and says how to create this one.
func (w *world) unknownModule(i ident) error {
	var have []string
	for _, n := range w.named {
		if n.kind == "module" {
			have = append(have, n.String())
		}
	}
	known := "it has no module yet"
	if len(have) > 0 {
		known = "it has " + andList(have)
	}
	dev := i.device
	name := fmt.Sprintf("module %q", i.alias)
	if dev != "" {
		name = i.String()
	} else {
		dev = "<device>"
	}
	return fmt.Errorf("%s: the scenario has not created it (%s); create it first, e.g. Given module %q exists on device %q",
		name, known, i.alias, dev)
}

// neverCreated fails a step that checks an identity the scenario never
// created: such a check could only poll until it times out.
func (w *world) neverCreated(i ident) error {
	s, ok := w.identities[i]
	if ok && (s.created || s.device != nil || s.module != nil) {
		return nil
	}
	example := fmt.Sprintf("Given device %q exists", i.alias)
	if i.kind == "module" {
		example = fmt.Sprintf("Given module %q exists on device %q", i.alias, i.device)
	}
	return fmt.Errorf("%s: the scenario has not created it, so this check could never pass; create it first, e.g. %s", i, example)
}

// andList joins items as a sentence does: "a", "a and b", "a, b and c".
func andList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(slices.Clone(items[:len(items)-1]), ", ") + " and " + items[len(items)-1]
}

// whoIn is the scenario's world and the identity a step names (see who).
func whoIn(ctx context.Context, kind, ref string) (*world, ident, error) {
	w := worldFrom(ctx)
	i, err := w.who(kind, ref)
	return w, i, err
}
