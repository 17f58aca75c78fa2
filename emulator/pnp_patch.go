package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/hubspec/hubspec/hub"
)

// PATCH /digitaltwins/{id} takes a JSON Patch (RFC 6902) of add, replace
// and remove operations on "/{property}", "/{component}" or
// "/{component}/{property}", and applies it as one desired-property write of
// the device twin, pushed to the device like any other (Microsoft's "Manage
// IoT Plug and Play digital twins"; docs/fidelity.md, "Plug and Play"):
//
//   - add or replace of a property sets its desired value; remove clears it
//     (no error when it has none: the doc's "if it's set");
//   - a property of a component is written inside the component's object,
//     marked "__t": "c";
//   - add or replace of a whole component needs a value object holding an
//     empty "$metadata" marker; it sets the desired values given and clears
//     every other desired value of the component; remove clears them all.
//
// Names are DTDL names, values have no arrays and nest at most five levels
// (the doc's "Rules for setting the desired value"). Any breach refuses the
// whole patch with 400 ArgumentInvalid and changes nothing.

// dtdlName is a DTDL name: 1-64 characters, letters, digits and
// underscores, not starting with a digit or an underscore, not ending with
// an underscore.
var dtdlName = regexp.MustCompile(`^[A-Za-z](?:[A-Za-z0-9_]{0,62}[A-Za-z0-9])?$`)

// maxDTValueDepth is the deepest a complex property value may nest.
const maxDTValueDepth = 5

// dtOp is one operation of a digital twin patch.
type dtOp struct {
	op        string
	component string // "" for a root-level property or a component's own path
	name      string // the property, or the component for a component operation
	whole     bool   // the operation is on a whole component
	value     any
}

// parseDigitalTwinPatch reads and checks a patch against nothing but its own
// rules; desiredPatch then checks it against the twin.
func parseDigitalTwinPatch(body []byte) ([]dtOp, error) {
	var raw []map[string]json.RawMessage
	if err := decodeArray(body, &raw); err != nil {
		return nil, err
	}
	ops := make([]dtOp, 0, len(raw))
	for i, r := range raw {
		op, err := parseDTOp(r)
		if err != nil {
			return nil, hub.ErrArgumentInvalid.WithMessage("Operation %d of the patch: %s", i, err)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// decodeArray decodes a JSON array of objects, numbers kept as written.
func decodeArray(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	switch {
	case !utf8.Valid(body) || !json.Valid(trimmed):
		return hub.ErrIotHubFormatError.WithMessage("The body is not valid JSON.")
	case len(trimmed) == 0 || trimmed[0] != '[':
		return hub.ErrArgumentInvalid.WithMessage("The body must be a JSON Patch: an array of operations.")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return hub.ErrArgumentInvalid.WithMessage("The body must be a JSON Patch: an array of operation objects (%v).", err)
	}
	return nil
}

func parseDTOp(r map[string]json.RawMessage) (dtOp, error) {
	var op dtOp
	var path string
	if json.Unmarshal(r["op"], &op.op) != nil || json.Unmarshal(r["path"], &path) != nil {
		return op, fmt.Errorf("'op' and 'path' must be strings")
	}
	switch op.op {
	case "add", "replace", "remove":
	default:
		return op, fmt.Errorf("op '%s' is not supported; use add, replace or remove", op.op)
	}
	segs, err := splitPointer(path)
	if err != nil {
		return op, err
	}
	if op.op != "remove" {
		raw, ok := r["value"]
		if !ok {
			return op, fmt.Errorf("op '%s' needs a value", op.op)
		}
		if err := decodeValue(raw, &op.value); err != nil {
			return op, err
		}
	}
	op.name = segs[len(segs)-1]
	if len(segs) == 2 {
		op.component = segs[0]
		return op, checkDTValue(op.value, 0, path)
	}
	obj, isObj := op.value.(map[string]any)
	if _, marked := obj["$metadata"]; isObj && marked {
		op.whole = true
		return op, checkComponentValue(obj, path)
	}
	op.whole = op.op == "remove" // removing "/x" clears x, whatever it is
	return op, checkDTValue(op.value, 0, path)
}

// splitPointer splits a JSON Pointer (RFC 6901) of one or two DTDL names.
func splitPointer(path string) ([]string, error) {
	rest, ok := strings.CutPrefix(path, "/")
	segs := strings.Split(rest, "/")
	if !ok || len(segs) > 2 {
		return nil, fmt.Errorf("path '%s' must be /{property}, /{component} or /{component}/{property}", path)
	}
	for i, s := range segs {
		s = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
		if !dtdlName.MatchString(s) {
			return nil, fmt.Errorf("'%s' in path '%s' is not a DTDL name (letters, digits and underscores, 1 to 64, not starting with a digit or underscore, not ending with an underscore)", s, path)
		}
		segs[i] = s
	}
	return segs, nil
}

func decodeValue(raw json.RawMessage, v *any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("the value is not JSON: %v", err)
	}
	return nil
}

// checkComponentValue checks a whole component's value: an empty
// "$metadata" marker and DTDL properties.
func checkComponentValue(obj map[string]any, path string) error {
	if m, ok := obj["$metadata"].(map[string]any); !ok || len(m) > 0 {
		return fmt.Errorf("the component at '%s' must carry an empty \"$metadata\" object", path)
	}
	for k, v := range obj {
		if k == "$metadata" {
			continue
		}
		if !dtdlName.MatchString(k) {
			return fmt.Errorf("'%s' in the component at '%s' is not a DTDL name", k, path)
		}
		if err := checkDTValue(v, 0, path+"/"+k); err != nil {
			return err
		}
	}
	return nil
}

// checkDTValue checks a property value: no arrays, at most five levels of
// objects, DTDL names for their fields and map keys.
func checkDTValue(v any, depth int, path string) error {
	switch x := v.(type) {
	case []any:
		return fmt.Errorf("the value at '%s' is an array; digital twin properties cannot hold arrays", path)
	case map[string]any:
		if depth >= maxDTValueDepth {
			return fmt.Errorf("the value at '%s' nests deeper than %d levels", path, maxDTValueDepth)
		}
		for k, c := range x {
			if !dtdlName.MatchString(k) {
				return fmt.Errorf("'%s' in the value at '%s' is not a DTDL name", k, path)
			}
			if err := checkDTValue(c, depth+1, path+"/"+k); err != nil {
				return err
			}
		}
	}
	return nil
}

// desiredPatch turns the operations into one desired-property patch over
// the twin's desired section as it is now, in order: a later operation on
// the same property wins. Caller holds r.mu.
func desiredPatch(ops []dtOp, desired, reported map[string]any) (map[string]any, error) {
	patch := map[string]any{}
	for _, op := range ops {
		target := op.name
		if op.component != "" {
			target = op.component
		}
		if op.op != "remove" || op.component != "" {
			if err := conformant(target, op.component != "" || op.whole, desired, reported); err != nil {
				return nil, err
			}
		}
		switch {
		case op.component != "":
			c := componentPatch(patch, op.component)
			c[op.name] = opValue(op)
		case op.whole && op.op == "remove":
			patch[op.name] = nil
		case op.whole:
			patch[op.name] = replaceComponent(op.value.(map[string]any), desired[op.name])
		default:
			patch[op.name] = opValue(op)
		}
	}
	return patch, nil
}

// conformant refuses to write into a member of the twin that is not what
// the operation takes it for: a component over a member that is not one,
// in the hub's words (the doc's "Troubleshoot update digital twin API
// errors"), or a property over a component.
func conformant(name string, asComponent bool, desired, reported map[string]any) error {
	for _, sec := range []map[string]any{desired, reported} {
		v, ok := sec[name]
		switch {
		case !ok || isComponent(v) == asComponent:
		case asComponent:
			return hub.ErrArgumentInvalid.WithMessage("'%s' exists within the device twin and is not digital twin conformant property. Please refer to aka.ms/dtpatch to update this to be conformant.", name)
		default:
			return hub.ErrArgumentInvalid.WithMessage("'%s' is a component: write it whole, with an empty \"$metadata\" marker in its value, or write its properties at /%s/{property}.", name, name)
		}
	}
	return nil
}

// componentPatch is the component's object in the patch, marked, made on
// first use.
func componentPatch(patch map[string]any, name string) map[string]any {
	if c, ok := patch[name].(map[string]any); ok {
		return c
	}
	c := map[string]any{componentMarker: "c"}
	patch[name] = c
	return c
}

// opValue is what an operation writes: its value, or null to clear.
func opValue(op dtOp) any {
	if op.op == "remove" {
		return nil
	}
	return op.value
}

// replaceComponent is the patch of a whole component: the values given,
// null for every other desired value it has now, and the marker.
func replaceComponent(value map[string]any, current any) map[string]any {
	c := map[string]any{componentMarker: "c"}
	if cur, ok := current.(map[string]any); ok {
		for k := range cur {
			if k != componentMarker {
				c[k] = nil
			}
		}
	}
	for k, v := range value {
		if k != "$metadata" {
			c[k] = v
		}
	}
	return c
}
