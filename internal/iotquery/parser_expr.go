package iotquery

import (
	"strings"
)

// Expressions, loosest first: OR, AND, NOT, comparison (= != <> < > <= >=
// IN NIN), + -, * / %, unary minus, and the primaries (constants, paths,
// function calls, arrays, parentheses).

func (p *parser) expr() (Expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, errorAt(p.src, p.peek().pos, "The expression nests more than %d levels deep", maxDepth)
	}
	return p.or()
}

func (p *parser) or() (Expr, error) {
	l, err := p.and()
	for err == nil && p.accept("OR") {
		var r Expr
		if r, err = p.and(); err == nil {
			l = &Binary{Op: "OR", L: l, R: r}
		}
	}
	return l, err
}

func (p *parser) and() (Expr, error) {
	l, err := p.not()
	for err == nil && p.accept("AND") {
		var r Expr
		if r, err = p.not(); err == nil {
			l = &Binary{Op: "AND", L: l, R: r}
		}
	}
	return l, err
}

func (p *parser) not() (Expr, error) {
	if p.accept("NOT") {
		x, err := p.nested(p.not)
		if err != nil {
			return nil, err
		}
		return &Unary{Op: "NOT", X: x}, nil
	}
	return p.comparison()
}

var comparisons = []string{"=", "!=", "<>", "<", ">", "<=", ">="}

func (p *parser) comparison() (Expr, error) {
	l, err := p.additive()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	switch {
	case t.kind == tokPunct && contains(comparisons, t.text):
		p.next()
		r, err := p.additive()
		if err != nil {
			return nil, err
		}
		op := t.text
		if op == "<>" {
			op = "!="
		}
		return &Binary{Op: op, L: l, R: r}, nil
	case p.is("IN") || p.is("NIN"):
		p.next()
		if !p.is("[") {
			return nil, p.unexpected("expected an array of constants, [c, ...], after " + strings.ToUpper(t.text))
		}
		list, err := p.array()
		if err != nil {
			return nil, err
		}
		return &In{X: l, Not: strings.EqualFold(t.text, "NIN"), List: list}, nil
	}
	return l, nil
}

func (p *parser) additive() (Expr, error) {
	l, err := p.multiplicative()
	for err == nil && (p.is("+") || p.is("-")) {
		op := p.next().text
		var r Expr
		if r, err = p.multiplicative(); err == nil {
			l = &Binary{Op: op, L: l, R: r}
		}
	}
	return l, err
}

func (p *parser) multiplicative() (Expr, error) {
	l, err := p.unary()
	for err == nil && (p.is("*") || p.is("/") || p.is("%")) {
		op := p.next().text
		var r Expr
		if r, err = p.unary(); err == nil {
			l = &Binary{Op: op, L: l, R: r}
		}
	}
	return l, err
}

// unary folds a minus before a number into the constant, so -5 is the
// constant -5 and the printer's output parses back to the same tree.
func (p *parser) unary() (Expr, error) {
	if !p.is("-") {
		return p.primary()
	}
	p.next()
	if t := p.peek(); t.kind == tokNumber {
		p.next()
		return &Literal{Value: -t.num}, nil
	}
	x, err := p.nested(p.unary)
	if err != nil {
		return nil, err
	}
	return &Unary{Op: "-", X: x}, nil
}

// nested parses with one more level of depth: NOT NOT NOT ... and - - -
// recurse without going through expr.
func (p *parser) nested(f func() (Expr, error)) (Expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, errorAt(p.src, p.peek().pos, "The expression nests more than %d levels deep", maxDepth)
	}
	return f()
}

func (p *parser) primary() (Expr, error) {
	t := p.peek()
	switch {
	case t.kind == tokNumber:
		p.next()
		return &Literal{Value: t.num}, nil
	case t.kind == tokString:
		p.next()
		return &Literal{Value: t.str}, nil
	case p.is("("):
		p.next()
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		return e, p.expect(")")
	case p.is("["):
		return p.array()
	case t.kind != tokWord:
		return nil, p.unexpected("expected a constant, a property or a function")
	}
	if l, ok := keywordConstant(t.text); ok {
		p.next()
		return l, nil
	}
	if p.toks[p.i+1].text == "(" {
		return p.call()
	}
	return p.path()
}

func keywordConstant(w string) (*Literal, bool) {
	switch strings.ToUpper(w) {
	case "TRUE":
		return &Literal{Value: true}, true
	case "FALSE":
		return &Literal{Value: false}, true
	case "NULL":
		return &Literal{Value: nil}, true
	case "UNDEFINED":
		return &Literal{Undefined: true}, true
	}
	return nil, false
}

func (p *parser) call() (Expr, error) {
	t := p.next()
	name := strings.ToUpper(t.text)
	arity, ok := functions[name]
	switch {
	case contains(aggregates, name):
		return nil, errorAt(p.src, t.pos, "The aggregate %s is only allowed in SELECT", name)
	case !ok:
		return nil, errorAt(p.src, t.pos, "Unknown function '%s': the functions are IS_DEFINED, STARTSWITH and ENDSWITH", t.text)
	}
	p.next() // (
	c := &Call{Name: name}
	for !p.is(")") {
		if len(c.Args) > 0 {
			if err := p.expect(","); err != nil {
				return nil, err
			}
		}
		a, err := p.expr()
		if err != nil {
			return nil, err
		}
		c.Args = append(c.Args, a)
	}
	if len(c.Args) != arity {
		return nil, errorAt(p.src, t.pos, "%s takes %d argument(s), not %d", name, arity, len(c.Args))
	}
	return c, p.expect(")")
}

// array is [constant, ...]: the documented array constant, whose elements
// are constants (a negative number included).
func (p *parser) array() (*Array, error) {
	p.next() // [
	a := &Array{}
	for !p.accept("]") {
		if len(a.Elems) > 0 {
			if err := p.expect(","); err != nil {
				return nil, err
			}
		}
		e, err := p.nested(p.unary)
		if err != nil {
			return nil, err
		}
		l, ok := e.(*Literal)
		if !ok {
			return nil, errorAt(p.src, p.toks[p.i-1].pos, "An array holds constants only")
		}
		a.Elems = append(a.Elems, l)
	}
	return a, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
