package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// twinHas checks one member of a twin: there or not, and, when the step
// compares, equal to a value, greater or less than a number, or of a JSON
// type. The twin is the service's (the registry's twin, sections named
// desired, reported, tag) unless the step reads it as the device or module
// does: its own twin GET over MQTT, exactly as the hub sent it (sections
// desired and reported; tags never reach it). A path without a section
// starts at the root of that document. It polls like every check: a write
// may take a moment to show.
func twinHas(ctx context.Context, kind, alias, viewer, has, section, path, op, operand, jsonType string) error {
	w := worldFrom(ctx)
	i := ident{kind, alias}
	c := comparison{op: op, operand: operand}
	if jsonType != "" {
		c = comparison{op: "of type", operand: jsonType}
	}
	if err := c.check(); err != nil {
		return err
	}
	at, read, within := sectionPath(section, path), w.serviceTwin(i), settleWithin
	what := fmt.Sprintf("the twin of %s at %s", i, strings.Join(at, "."))
	if viewer != "" {
		if section != "" {
			path = map[string]string{"desired": "desired", "reported": "reported", "tag": "tags"}[section] + "." + path
		}
		at, within = strings.Split(path, "."), waitFor
		what = fmt.Sprintf("the twin %s reads, at %s", i, path)
		client, err := w.client(i)
		if err != nil {
			return err
		}
		read = func(ctx context.Context) (any, error) {
			raw, err := client.GetTwinJSON(ctx)
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
	return Eventually(ctx, within, func(ctx context.Context) error {
		doc, err := read(ctx)
		if err != nil {
			return err
		}
		got, present := lookup(doc, at)
		holds := present && c.holds(got)
		switch {
		case holds == (has == "has"):
			return nil
		case has == "has" && present:
			return fmt.Errorf("%s: want %s, got %s", what, c.want(), canonical(got))
		case has == "has":
			return fmt.Errorf("%s: want %s, got nothing", what, c.want())
		}
		return fmt.Errorf("%s: want no %s, got %s", what, c.unwanted(), canonical(got))
	})
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

// comparison is what a check asks of a value: op "" (any value), "equal
// to", "greater than", "less than" or "of type", with its operand.
type comparison struct{ op, operand string }

// check rejects an order comparison with something that is no number
// before the step polls for it.
func (c comparison) check() error {
	if c.op == "greater than" || c.op == "less than" {
		if _, ok := number(parseValue(c.operand)); !ok {
			return fmt.Errorf("%s %s: want a number to compare with", c.op, c.operand)
		}
	}
	return nil
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
