package iotquery

import (
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxLength is the longest query in characters ("Query expressions can
// have a maximum length of 8192 characters", query-twins.md).
const MaxLength = 8192

// maxDepth bounds how deeply expressions nest, so that no query, however
// built, can exhaust the stack: 8192 characters of "(" would otherwise
// recurse 8192 times.
const maxDepth = 64

// Options tune Parse.
type Options struct {
	// Fold, when set, rewrites every path as it is parsed, e.g. to give
	// the document's own spelling to names matched case-insensitively
	// (SELECT DeviceId answers "deviceId").
	Fold func(segs []string) []string
}

// reserved words cannot start a path or be an alias.
var reserved = []string{"SELECT", "TOP", "FROM", "WHERE", "GROUP", "BY", "AS", "AND", "OR", "NOT",
	"IN", "NIN", "TRUE", "FALSE", "NULL", "UNDEFINED"}

// functions are the scalar functions and their argument counts.
var functions = map[string]int{"IS_DEFINED": 1, "STARTSWITH": 2, "ENDSWITH": 2, "STARTS_WITH": 2, "ENDS_WITH": 2}

var aggregates = []string{"COUNT", "AVG", "SUM", "MIN", "MAX"}

// Parse parses a query; its error is a *SyntaxError.
func Parse(src string, opts ...Options) (*Query, error) {
	if n := utf8.RuneCountInString(src); n > MaxLength {
		return nil, &SyntaxError{Line: 1, Column: MaxLength + 1, Msg: "The query is longer than 8192 characters"}
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	for _, o := range opts {
		p.fold = o.Fold
	}
	q, err := p.query()
	if err != nil {
		return nil, err
	}
	return q, nil
}

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
	fold  func([]string) []string
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

// is reports whether the next token is the keyword or punctuation s.
func (p *parser) is(s string) bool {
	t := p.peek()
	return (t.kind == tokWord && strings.EqualFold(t.text, s)) || (t.kind == tokPunct && t.text == s)
}

func (p *parser) accept(s string) bool {
	if p.is(s) {
		p.next()
		return true
	}
	return false
}

func (p *parser) expect(s string) error {
	if !p.accept(s) {
		return p.unexpected("expected " + s)
	}
	return nil
}

// unexpected is the error for the next token: "Unexpected input 'x'"
// and what was wanted.
func (p *parser) unexpected(want string) error {
	t := p.peek()
	if t.kind == tokEOF {
		return errorAt(p.src, t.pos, "Unexpected end of query: %s", want)
	}
	return errorAt(p.src, t.pos, "Unexpected input '%s': %s", t.text, want)
}

func (p *parser) query() (*Query, error) {
	q := &Query{Top: -1}
	if err := p.expect("SELECT"); err != nil {
		return nil, err
	}
	if p.accept("TOP") {
		t := p.peek()
		if t.kind != tokNumber || t.num != math.Trunc(t.num) || t.num > math.MaxInt32 {
			return nil, p.unexpected("expected a whole number after TOP")
		}
		q.Top = int(p.next().num)
	}
	if err := p.selectList(q); err != nil {
		return nil, err
	}
	if err := p.expect("FROM"); err != nil {
		return nil, err
	}
	if err := p.from(q); err != nil {
		return nil, err
	}
	if p.accept("WHERE") {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		q.Where = e
	}
	if p.is("GROUP") {
		if err := p.groupBy(q); err != nil {
			return nil, err
		}
	}
	if p.peek().kind != tokEOF {
		return nil, p.unexpected("expected the end of the query")
	}
	return q, p.check(q)
}

func (p *parser) selectList(q *Query) error {
	if p.accept("*") {
		q.Star = true
		return nil
	}
	for {
		it, err := p.item()
		if err != nil {
			return err
		}
		q.Items = append(q.Items, it)
		if !p.accept(",") {
			return nil
		}
	}
}

// item is a path or an aggregate, and an optional AS alias.
func (p *parser) item() (Item, error) {
	t := p.peek()
	it := Item{pos: t.pos}
	if t.kind == tokWord && slices.Contains(aggregates, strings.ToUpper(t.text)) && p.toks[p.i+1].text == "(" {
		p.i += 2
		a := &Aggregate{Fn: strings.ToUpper(t.text)}
		if a.Fn != "COUNT" {
			arg, err := p.path()
			if err != nil {
				return it, err
			}
			a.Arg = arg
		}
		if err := p.expect(")"); err != nil {
			return it, err
		}
		it.Expr = a
	} else {
		path, err := p.path()
		if err != nil {
			return it, err
		}
		it.Expr = path
	}
	if p.accept("AS") {
		a := p.peek()
		if a.kind != tokWord || isReserved(a.text) {
			return it, p.unexpected("expected a name after AS")
		}
		it.Alias = p.next().text
	}
	return it, nil
}

func (p *parser) from(q *Query) error {
	t := p.peek()
	if t.kind != tokWord || !strings.EqualFold(t.text, "devices") {
		return p.unexpected("expected devices or devices.modules")
	}
	p.next()
	if !p.accept(".") {
		return nil
	}
	c := p.peek()
	switch {
	case c.kind == tokWord && strings.EqualFold(c.text, "modules"):
		p.next()
		q.From = Modules
		return nil
	case c.kind == tokWord && strings.EqualFold(c.text, "jobs"):
		return errorAt(p.src, c.pos, "FROM devices.jobs is not supported by the emulator (it has no jobs)")
	}
	return p.unexpected("expected modules after devices.")
}

func (p *parser) groupBy(q *Query) error {
	p.next()
	if err := p.expect("BY"); err != nil {
		return err
	}
	for {
		path, err := p.path()
		if err != nil {
			return err
		}
		q.GroupBy = append(q.GroupBy, path)
		if !p.accept(",") {
			return nil
		}
	}
}

// path is name {. name}; the first name may not be a reserved word, the
// others may be any word.
func (p *parser) path() (*Path, error) {
	t := p.peek()
	if t.kind != tokWord || isReserved(t.text) {
		return nil, p.unexpected("expected a property name")
	}
	p.next()
	path := &Path{Segs: []string{t.name()}, pos: t.pos}
	for p.is(".") {
		p.next()
		s := p.peek()
		if s.kind != tokWord {
			return nil, p.unexpected("expected a property name after '.'")
		}
		path.Segs = append(path.Segs, p.next().name())
	}
	if p.fold != nil {
		path.Segs = p.fold(path.Segs)
	}
	return path, nil
}

func isReserved(w string) bool {
	return slices.ContainsFunc(reserved, func(r string) bool { return strings.EqualFold(r, w) })
}

// check enforces the rules that span clauses, each reported where the
// offending item is.
func (p *parser) check(q *Query) error {
	names := map[string]bool{}
	for i, it := range q.Items {
		n := it.Name(i)
		if names[n] {
			return errorAt(p.src, it.pos, "The name '%s' is projected twice: give one an alias with AS", n)
		}
		names[n] = true
	}
	if !q.Aggregated() {
		return nil
	}
	if q.Star {
		return errorAt(p.src, len(p.src), "SELECT * cannot be grouped: project the GROUP BY properties and aggregates instead")
	}
	for _, it := range q.Items {
		path, ok := it.Expr.(*Path)
		if ok && !slices.ContainsFunc(q.GroupBy, func(g *Path) bool { return slices.Equal(g.Segs, path.Segs) }) {
			return errorAt(p.src, it.pos, "'%s' is neither aggregated nor in GROUP BY", strings.Join(path.Segs, "."))
		}
	}
	return nil
}
