package iotquery

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Document is what a query runs on: one twin, as JSON-like values
// (map[string]any, []any, string, bool, nil, and numbers as float64,
// int, int64 or json.Number).
type Document interface {
	// Lookup returns the value at a path, or ok false when the path is
	// undefined in the document.
	Lookup(path []string) (v any, ok bool)
}

// Match reports whether a document passes the WHERE clause. As the
// language defines conditions, only the Boolean true passes: false, null,
// undefined, and any other value do not.
func (q *Query) Match(doc Document) bool {
	if q.Where == nil {
		return true
	}
	v, ok := eval(q.Where, doc)
	b, isBool := v.(bool)
	return ok && isBool && b
}

// eval evaluates an expression; ok is false for undefined. The rules are
// those of the SQL dialect the language shares with Azure Cosmos DB:
// comparisons hold between primitive values of one type and are undefined
// otherwise, arithmetic is on numbers, and AND, OR and NOT are three-valued
// (false AND undefined is false, true OR undefined is true).
func eval(e Expr, doc Document) (any, bool) {
	switch x := e.(type) {
	case *Path:
		v, ok := doc.Lookup(x.Segs)
		if !ok {
			return nil, false
		}
		return normalize(v)
	case *Literal:
		return x.Value, !x.Undefined
	case *Array:
		out := make([]any, 0, len(x.Elems))
		for _, l := range x.Elems {
			if !l.Undefined {
				out = append(out, l.Value)
			}
		}
		return out, true
	case *Unary:
		v, ok := eval(x.X, doc)
		if x.Op == "NOT" {
			b, isBool := v.(bool)
			return !b, ok && isBool
		}
		n, isNum := v.(float64)
		return -n, ok && isNum
	case *Binary:
		return evalBinary(x, doc)
	case *In:
		return evalIn(x, doc)
	case *Call:
		return evalCall(x, doc)
	}
	return nil, false // an aggregate: never evaluated per document
}

func evalBinary(x *Binary, doc Document) (any, bool) {
	l, lok := eval(x.L, doc)
	switch x.Op {
	case "AND", "OR":
		lb, lBool := l.(bool)
		lBool = lBool && lok
		if lBool && lb == (x.Op == "OR") {
			return lb, true // false AND ..., true OR ...
		}
		r, rok := eval(x.R, doc)
		rb, rBool := r.(bool)
		rBool = rBool && rok
		if rBool && rb == (x.Op == "OR") {
			return rb, true
		}
		if lBool && rBool {
			return rb, true
		}
		return nil, false
	}
	r, rok := eval(x.R, doc)
	if !lok || !rok {
		return nil, false
	}
	switch x.Op {
	case "=", "!=":
		eq, ok := equal(l, r)
		return eq == (x.Op == "="), ok
	case "<", ">", "<=", ">=":
		c, ok := compare(l, r)
		switch x.Op {
		case "<":
			return c < 0, ok
		case ">":
			return c > 0, ok
		case "<=":
			return c <= 0, ok
		}
		return c >= 0, ok
	}
	a, aok := l.(float64)
	b, bok := r.(float64)
	if !aok || !bok {
		return nil, false
	}
	var n float64
	switch x.Op {
	case "+":
		n = a + b
	case "-":
		n = a - b
	case "*":
		n = a * b
	case "/":
		n = a / b
	case "%":
		n = math.Mod(a, b)
	}
	if math.IsNaN(n) || math.IsInf(n, 0) {
		return nil, false
	}
	return n, true
}

func evalIn(x *In, doc Document) (any, bool) {
	v, ok := eval(x.X, doc)
	if !ok {
		return nil, false
	}
	found := false
	for _, l := range x.List.Elems {
		if l.Undefined {
			continue
		}
		if eq, ok := equal(v, l.Value); ok && eq {
			found = true
			break
		}
	}
	return found != x.Not, true
}

func evalCall(c *Call, doc Document) (any, bool) {
	if c.Name == "IS_DEFINED" {
		_, ok := eval(c.Args[0], doc)
		return ok, true
	}
	a, aok := eval(c.Args[0], doc)
	b, bok := eval(c.Args[1], doc)
	s, sok := a.(string)
	fix, fok := b.(string)
	if !aok || !bok || !sok || !fok {
		return nil, false
	}
	if c.Name == "STARTSWITH" || c.Name == "STARTS_WITH" {
		return strings.HasPrefix(s, fix), true
	}
	return strings.HasSuffix(s, fix), true
}

// equal compares two primitive values of one type; ok is false for values
// of different types and for objects and arrays, which the language does
// not compare.
func equal(a, b any) (eq, ok bool) {
	switch x := a.(type) {
	case nil:
		return true, b == nil
	case bool:
		y, ok := b.(bool)
		return x == y, ok
	case float64:
		y, ok := b.(float64)
		return x == y, ok
	case string:
		y, ok := b.(string)
		return x == y, ok
	}
	return false, false
}

// compare orders two numbers or two strings (by code point); ok is false
// for anything else.
func compare(a, b any) (int, bool) {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		switch {
		case !ok:
			return 0, false
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	case string:
		y, ok := b.(string)
		return strings.Compare(x, y), ok
	}
	return 0, false
}

// normalize turns every number into a float64, the one number type
// evaluation knows; objects and arrays are left as they are (they are
// only compared as undefined, or copied out by a projection).
func normalize(v any) (any, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		return f, err == nil
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case float32:
		return float64(n), true
	}
	return v, true
}
