package steps

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The comparisons the checks make, apart from the hub: each takes what the
// hub shows and says what is wrong with it, or nil.

// sectionPath turns "desired", "reported" or "tag" and a dotted path into
// the path from the twin's root; without a section the path starts at the
// root. Twin keys cannot contain ".", so a dotted path is unambiguous.
func sectionPath(section, path string) []string {
	root := map[string][]string{"desired": {"properties", "desired"}, "reported": {"properties", "reported"}, "tag": {"tags"}}[section]
	return append(root, strings.Split(path, ".")...)
}

// ownTwinPath is sectionPath for the twin a device or module reads over
// MQTT, whose root holds "desired" and "reported" (tags never reach it).
func ownTwinPath(section, path string) []string {
	if section != "" {
		path = map[string]string{"desired": "desired", "reported": "reported", "tag": "tags"}[section] + "." + path
	}
	return strings.Split(path, ".")
}

// memberCheck is what a step asks of one member of a document: that it is
// there (with a value the comparison accepts), or that it is not.
type memberCheck struct {
	has bool
	at  []string
	c   comparison
}

// judge checks the member of doc; what names the document at the member.
func (m memberCheck) judge(what string, doc any) error {
	got, present := lookup(doc, m.at)
	holds := present && m.c.holds(got)
	switch {
	case holds == m.has:
		return nil
	case m.has && present:
		return fmt.Errorf("%s: want %s, got %s", what, m.c.want(), canonical(got))
	case m.has:
		return fmt.Errorf("%s: want %s, got nothing", what, m.c.want())
	}
	return fmt.Errorf("%s: want no %s, got %s", what, m.c.unwanted(), canonical(got))
}

// comparison is what a check asks of a value: op "" (any value), "equal
// to", "greater than", "less than" or "of type", with its operand.
type comparison struct{ op, operand string }

// newComparison is the comparison a step names (op and operand, or a JSON
// type); an order comparison with something that is no number is refused
// before the step polls for it.
func newComparison(op, operand, jsonType string) (comparison, error) {
	if jsonType != "" {
		return comparison{"of type", jsonType}, nil
	}
	if op == "greater than" || op == "less than" {
		if _, ok := number(parseValue(operand)); !ok {
			return comparison{}, fmt.Errorf("%s %s: want a number to compare with", op, operand)
		}
	}
	return comparison{op, operand}, nil
}

func (c comparison) holds(got any) bool {
	switch c.op {
	case "equal to":
		return sameValue("", got, c.operand) == nil
	case "greater than", "less than":
		g, ok := number(got)
		want, _ := number(parseValue(c.operand))
		return ok && (c.op == "greater than" && g > want || c.op == "less than" && g < want)
	case "of type":
		return jsonType(got) == c.operand
	}
	return true
}

// want and unwanted say what the check looks for, for its failure.
func (c comparison) want() string {
	switch c.op {
	case "":
		return "a value"
	case "equal to":
		return canonical(parseValue(c.operand))
	case "of type":
		return "a value of type " + c.operand
	}
	return "a number " + c.op + " " + canonical(parseValue(c.operand))
}

func (c comparison) unwanted() string {
	switch c.op {
	case "":
		return "value"
	case "of type":
		return "value of type " + c.operand
	}
	return "value " + c.op + " " + canonical(parseValue(c.operand))
}

// number is a JSON number as a float64: from the hub (generic JSON) or
// from a step (parseValue keeps numbers as written).
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// jsonType names a generic JSON value's type as JSON Schema does.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64, json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	}
	return "object"
}

// contains checks that got contains want: every member want names has
// that value (objects recursively, arrays exactly), and a null means the
// member is absent. Members want does not name may be anything. path names
// got in a failure.
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

var wentUpBy = regexp.MustCompile(`by (\d+)$`)

// versionChange checks a $version against the one before: how is "has
// gone up", "has gone up by N" or "is unchanged".
func versionChange(what string, was, now int64, how string) error {
	ok := now > was
	if m := wentUpBy.FindStringSubmatch(how); m != nil {
		by, _ := strconv.ParseInt(m[1], 10, 64)
		ok = now == was+by
	} else if how == "is unchanged" {
		ok = now == was
	}
	if !ok {
		return fmt.Errorf("%s: was %d, now %d; want: %s", what, was, now, how)
	}
	return nil
}

// updatedSince compares a $lastUpdated time with the one before (then,
// absent when !hadOne): a later ISO 8601 time means it "was" updated (a
// member that had none then was, once it has one), the same time means
// it "was not".
func updatedSince(what string, then any, hadOne bool, now any, present bool, was string) error {
	nowTime, err := time.Parse(time.RFC3339Nano, fmt.Sprint(now))
	if !present || err != nil {
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
}
