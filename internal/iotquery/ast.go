// Package iotquery is the IoT Hub query language for device and module
// twins: a lexer, a recursive-descent parser to an AST, a printer that
// writes the AST back as query text, and an evaluator over JSON-like
// documents (eval.go, project.go).
//
// The language is the one Microsoft documents in "IoT Hub query language
// for device and module twins, jobs, and message routing" and "Queries for
// IoT Hub device and module twins" (MicrosoftDocs/azure-docs,
// articles/iot-hub/iot-hub-devguide-query-language.md and query-twins.md):
//
//	SELECT [TOP n] * | item [AS alias], ...
//	FROM devices | devices.modules
//	[WHERE condition]
//	[GROUP BY path, ...]
//
// where an item is a property path (tags.location.region) or an aggregate
// (COUNT(), AVG(path), SUM(path), MIN(path), MAX(path)), and a condition
// combines paths and constants with = != <> < > <= >= + - * / %, AND OR
// NOT, IN and NIN [constant, ...], and the functions IS_DEFINED,
// STARTSWITH and ENDSWITH. Keywords and function names are
// case-insensitive. Anything else is a *SyntaxError with its position: a
// query is answered as written or refused, never guessed at.
//
// docs/fidelity.md ("Twin queries") lists each choice and its source.
package iotquery

import (
	"strconv"
	"strings"
)

// Collection is what a query iterates on.
type Collection int

const (
	Devices Collection = iota // FROM devices: device twins
	Modules                   // FROM devices.modules: module twins
)

// Query is a parsed query.
type Query struct {
	Top     int // TOP n; -1 when absent
	Star    bool
	Items   []Item // the projection when not Star
	From    Collection
	Where   Expr // nil when absent
	GroupBy []*Path
}

// Item is one projection: a path or an aggregate, and its output name.
type Item struct {
	Expr  Expr // *Path or *Aggregate
	Alias string
	pos   int
}

// Name is the member the item is written to: its alias, else a path's last
// segment (SELECT deviceId, tags.location gives "deviceId" and
// "location"), else "$1", "$2", ... by the item's place.
func (it Item) Name(i int) string {
	switch {
	case it.Alias != "":
		return it.Alias
	case isPath(it.Expr):
		p := it.Expr.(*Path)
		return p.Segs[len(p.Segs)-1]
	}
	return "$" + strconv.Itoa(i+1)
}

// Aggregated says whether the query groups: it has an aggregate or a
// GROUP BY, so it answers one row per group rather than per twin.
func (q *Query) Aggregated() bool {
	if len(q.GroupBy) > 0 {
		return true
	}
	for _, it := range q.Items {
		if _, ok := it.Expr.(*Aggregate); ok {
			return true
		}
	}
	return false
}

// Expr is an expression node.
type Expr interface {
	write(b *strings.Builder)
}

// Path is a property path: deviceId, tags.location.region.
type Path struct {
	Segs []string
	pos  int
}

// Literal is a constant: a float64, a string, a bool, nil for null; or
// undefined.
type Literal struct {
	Value     any
	Undefined bool
}

// Array is an array constant, [c, ...].
type Array struct{ Elems []*Literal }

// Unary is NOT x or -x.
type Unary struct {
	Op string // "NOT" or "-"
	X  Expr
}

// Binary is x op y; Op is AND, OR, = != < > <= >= + - * / or %.
type Binary struct {
	Op   string
	L, R Expr
}

// In is x IN [...] or, with Not, x NIN [...].
type In struct {
	X    Expr
	Not  bool
	List *Array
}

// Call is a function call; Name is upper case.
type Call struct {
	Name string
	Args []Expr
}

// Aggregate is COUNT() or AVG/SUM/MIN/MAX(path); only a projection holds
// one.
type Aggregate struct {
	Fn  string // upper case
	Arg *Path  // nil for COUNT
}

func isPath(e Expr) bool { _, ok := e.(*Path); return ok }

// String writes the query back as text that parses to the same query:
// binary expressions are fully parenthesized and names are upper case, so
// the text is canonical.
func (q *Query) String() string {
	var b strings.Builder
	b.WriteString("SELECT ")
	if q.Top >= 0 {
		b.WriteString("TOP " + strconv.Itoa(q.Top) + " ")
	}
	if q.Star {
		b.WriteString("*")
	}
	for i, it := range q.Items {
		if i > 0 {
			b.WriteString(", ")
		}
		it.Expr.write(&b)
		if it.Alias != "" {
			b.WriteString(" AS " + it.Alias)
		}
	}
	b.WriteString(" FROM devices")
	if q.From == Modules {
		b.WriteString(".modules")
	}
	if q.Where != nil {
		b.WriteString(" WHERE ")
		q.Where.write(&b)
	}
	for i, p := range q.GroupBy {
		if i == 0 {
			b.WriteString(" GROUP BY ")
		} else {
			b.WriteString(", ")
		}
		p.write(&b)
	}
	return b.String()
}

// RestrictToDevices adds "deviceId IN [ids...]" to the WHERE clause (AND
// the condition already there), so the query sees only those devices and
// their modules. An empty ids matches nothing.
func (q *Query) RestrictToDevices(ids []string) {
	list := &Array{}
	for _, id := range ids {
		list.Elems = append(list.Elems, &Literal{Value: id})
	}
	var scope Expr = &In{X: &Path{Segs: []string{"deviceId"}}, List: list}
	if len(ids) == 0 {
		scope = &Literal{Value: false}
	}
	if q.Where != nil {
		scope = &Binary{Op: "AND", L: scope, R: q.Where}
	}
	q.Where = scope
}

// write prints the path, a segment that is not a plain name (or, first, is
// a reserved word) in [[ ]], so that the text parses back to the path.
func (p *Path) write(b *strings.Builder) {
	for i, s := range p.Segs {
		if i > 0 {
			b.WriteByte('.')
		}
		if plainName(s) && (i > 0 || !isReserved(s)) {
			b.WriteString(s)
		} else {
			b.WriteString("[[" + s + "]]")
		}
	}
}

func plainName(s string) bool {
	if s == "" || !isWordStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isWordPart(s[i]) {
			return false
		}
	}
	return true
}

func (l *Literal) write(b *strings.Builder) { b.WriteString(literalText(l)) }

// literalText is a constant as query text: numbers in their shortest
// exact form, strings between single quotes with ', \ and control
// characters escaped.
func literalText(l *Literal) string {
	if l.Undefined {
		return "undefined"
	}
	switch v := l.Value.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case string:
		var b strings.Builder
		b.WriteByte('\'')
		for _, r := range v {
			switch {
			case r == '\'' || r == '\\':
				b.WriteByte('\\')
				b.WriteRune(r)
			case r < 0x20 || r == 0x7f:
				b.WriteString(`\u00`)
				b.WriteString(strconv.FormatInt(int64(r)>>4, 16))
				b.WriteString(strconv.FormatInt(int64(r)&15, 16))
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte('\'')
		return b.String()
	}
	return "undefined"
}

func (a *Array) write(b *strings.Builder) {
	b.WriteByte('[')
	for i, e := range a.Elems {
		if i > 0 {
			b.WriteString(", ")
		}
		e.write(b)
	}
	b.WriteByte(']')
}

func (u *Unary) write(b *strings.Builder) {
	if u.Op == "NOT" {
		b.WriteString("NOT ")
	} else {
		b.WriteString(u.Op)
	}
	b.WriteByte('(')
	u.X.write(b)
	b.WriteByte(')')
}

func (x *Binary) write(b *strings.Builder) {
	b.WriteByte('(')
	x.L.write(b)
	b.WriteString(" " + x.Op + " ")
	x.R.write(b)
	b.WriteByte(')')
}

func (x *In) write(b *strings.Builder) {
	b.WriteByte('(')
	x.X.write(b)
	if x.Not {
		b.WriteString(" NIN ")
	} else {
		b.WriteString(" IN ")
	}
	x.List.write(b)
	b.WriteByte(')')
}

func (c *Call) write(b *strings.Builder) {
	b.WriteString(c.Name + "(")
	for i, a := range c.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		a.write(b)
	}
	b.WriteByte(')')
}

func (a *Aggregate) write(b *strings.Builder) {
	b.WriteString(a.Fn + "(")
	if a.Arg != nil {
		a.Arg.write(b)
	}
	b.WriteByte(')')
}
