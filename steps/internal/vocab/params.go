package vocab

import (
	"errors"
	"fmt"
	"strings"
)

// The catalogue reads each step expression to show it as a reader writes
// it, `the service deletes device|module "<alias>"[ with its etag|...]`,
// and to describe its parameters: an alternation lists its choices,
// "([^"]+)" is an alias, (\d+) a whole number, (.+) a JSON value. It reads
// the small part of the regular expression language steps use (literals,
// groups, alternation, character classes, \d \w . and quantifiers) with
// its own parser rather than regexp/syntax, which rewrites alternations
// (a wrong key|an expired token becomes a(?: wrong key|n expired token))
// and so loses the wording the catalogue must show.

// param is a capture group as the catalogue describes it.
type param struct {
	name     string // the placeholder ("alias"), or the choices ("device|module")
	doc      string // "" for choices that speak for themselves
	choices  bool   // name lists the choices: shown as they are, not as <name>
	lead     string // a space every choice starts with, shown before them
	optional bool   // the step reads as well without it
	shown    string // how the template shows it, when not as <name>
	json     bool   // a JSON value: one that starts as JSON must be JSON
}

// placeholder is the param as the template shows it.
func (p param) placeholder() string {
	switch {
	case p.choices:
		return p.lead + p.name
	case p.shown != "":
		return p.shown
	}
	return "<" + p.name + ">"
}

// label is the param as its description names it.
func (p param) label() string {
	if p.shown != "" {
		return "<" + p.name + ">"
	}
	return strings.TrimPrefix(p.placeholder(), p.lead)
}

// node is a piece of an expression: a literal character, a group, or a
// class, escape or "." with its quantifier, as written (src).
type node struct {
	lit      string
	src      string
	group    bool
	capture  int      // 1-based index of a capturing group, 0 otherwise
	alts     [][]node // a group's alternatives
	content  string   // a group's source between its parentheses
	optional bool     // a group or literal quantified by ?
}

// derived describes the groups whose content says what they hold.
var derived = map[string]param{
	`[^"]+`: {name: "alias", doc: "the name the scenario gives a device or module"},
	`[^"]*`: {name: "text", doc: "any text, even none"},
	`\d+`:   {name: "N", doc: "a whole number"},
	`\d{3}`: {name: "status", doc: "an HTTP status code, e.g. 404"},
	`.+`:    {name: "value", doc: jsonValueDoc, json: true},
	`.+?`:   {name: "value", doc: jsonValueDoc, json: true},
	`\w+`:   {name: "word", doc: "a word of letters and digits"},
	// A device or module the scenario has, in the quotes around it: a
	// module may be named with its device (see steps/identity_names.go).
	`"[^"]+"(?: on device "[^"]+")?`: {name: "alias", shown: `"<alias>"[ on device "<device>"]`,
		doc: `the name the scenario gives a device or module; a module whose name the scenario uses on several devices is named with its device: module "telemetry" on device "gatewayB"`},
}

const jsonValueDoc = `a JSON value: 122, "slow", true, {"a": 1}, [1, 2]; a bare word is a string`

// describe returns the parameters of expr, one per capture group, its
// template and its core: the words a step cannot do without (no optional
// part, the shortest of each choice), which the suggestions weigh.
// overrides replace derived descriptions in order (see step).
func describe(expr string, overrides []string) ([]param, string, string, error) {
	p := &exprParser{src: strings.TrimSuffix(strings.TrimPrefix(expr, "^"), "$")}
	seq, err := p.sequence()
	if err == nil && p.pos < len(p.src) {
		err = fmt.Errorf("unexpected %q at %d", p.src[p.pos], p.pos)
	}
	if err != nil {
		return nil, "", "", err
	}
	if len(overrides) > len(p.captures) {
		return nil, "", "", fmt.Errorf("%d overrides for %d capture groups", len(overrides), len(p.captures))
	}
	params := make([]param, len(p.captures))
	for i, g := range p.captures {
		params[i] = deriveParam(g)
		params[i].optional = p.optional[i]
		if i < len(overrides) && overrides[i] != "" {
			params[i].doc = overrides[i]
			if name, doc, named := strings.Cut(overrides[i], "> "); named && strings.HasPrefix(name, "<") {
				// Renamed, it is a JSON value only if it says so: a
				// payload "exactly as written" may be malformed on purpose.
				json := params[i].json && strings.Contains(doc, "JSON value")
				params[i] = param{name: name[1:], doc: doc, optional: params[i].optional, json: json}
			}
		}
	}
	return params, render(seq, params), core(seq), nil
}

// core renders what a sequence cannot do without: optional parts left
// out, each group as its alternative of the fewest words.
func core(seq []node) string {
	var b strings.Builder
	for _, n := range seq {
		switch {
		case n.optional:
		case n.group:
			var shortest string
			for i, a := range n.alts {
				if c := core(a); i == 0 || len(strings.Fields(c)) < len(strings.Fields(shortest)) {
					shortest = c
				}
			}
			b.WriteString(shortest)
		case n.src != "":
			b.WriteString(" <> ")
		default:
			b.WriteString(n.lit)
		}
	}
	return b.String()
}

// deriveParam describes a group from what it matches.
func deriveParam(g *node) param {
	if len(g.alts) == 1 && len(g.alts[0]) == 1 {
		if d, ok := derived[g.alts[0][0].src]; ok {
			return d
		}
	}
	if d, ok := derived[g.content]; ok {
		return d
	}
	choices := make([]string, len(g.alts))
	lead := " "
	for i, alt := range g.alts {
		choices[i] = render(alt, nil)
		if !strings.HasPrefix(choices[i], " ") {
			lead = ""
		}
	}
	for i := range choices {
		choices[i] = strings.TrimPrefix(choices[i], lead)
	}
	return param{name: strings.Join(choices, "|"), choices: true, lead: lead}
}

// render writes a sequence as a reader writes it: placeholders for
// captured values, a|b for choices, [ ] around what may be left out.
// Without params (a choice being described) a capture shows its content.
func render(seq []node, params []param) string { return renderIn(seq, params, false) }

// renderIn renders a sequence; inAlt says it is one alternative of
// several, where choices go in parentheses to keep them apart from the
// other alternatives: [ (equal to|less than) <value>| of type (a|b)].
func renderIn(seq []node, params []param, inAlt bool) string {
	var b strings.Builder
	for _, n := range seq {
		s := n.lit
		switch {
		case n.capture > 0 && params != nil:
			s = params[n.capture-1].placeholder()
			if inAlt && params[n.capture-1].choices {
				s = "(" + strings.TrimPrefix(s, " ") + ")"
			}
		case n.group:
			alts := make([]string, len(n.alts))
			for i, a := range n.alts {
				alts[i] = renderIn(a, params, len(n.alts) > 1)
			}
			s = strings.Join(alts, "|")
		case n.src != "":
			s = n.src
			if d, ok := derived[n.src]; ok {
				s = d.placeholder()
			}
		}
		if n.optional {
			s = "[" + s + "]"
		}
		b.WriteString(s)
	}
	return b.String()
}

// exprParser reads an expression by recursive descent.
type exprParser struct {
	src      string
	pos      int
	captures []*node
	optional []bool // per capture: inside a group quantified by ?
}

var errUnclosed = errors.New("unclosed group or class")

func (p *exprParser) sequence() ([]node, error) {
	var seq []node
	for p.pos < len(p.src) && p.src[p.pos] != '|' && p.src[p.pos] != ')' {
		n, err := p.atom()
		if err != nil {
			return nil, err
		}
		seq = append(seq, n)
	}
	return seq, nil
}

func (p *exprParser) atom() (node, error) {
	start := p.pos
	c := p.src[p.pos]
	p.pos++
	switch c {
	case '(':
		return p.group()
	case '[':
		end := strings.IndexByte(p.src[p.pos+1:], ']') // "]" first in a class is literal
		if end < 0 {
			return node{}, errUnclosed
		}
		p.pos += end + 2
		return node{src: p.src[start:p.pos] + p.quantifier()}, nil
	case '.':
		return node{src: "." + p.quantifier()}, nil
	case '\\':
		if p.pos == len(p.src) {
			return node{}, errors.New("trailing backslash")
		}
		p.pos++
		if e := p.src[start:p.pos]; e == `\d` || e == `\w` || e == `\s` {
			return node{src: e + p.quantifier()}, nil
		}
		return p.quantified(node{lit: p.src[start+1 : p.pos]})
	}
	return p.quantified(node{lit: string(c)})
}

// group reads a group after its "(" up to and with its quantifier.
func (p *exprParser) group() (node, error) {
	g := node{group: true}
	capturing := !strings.HasPrefix(p.src[p.pos:], "?:")
	if !capturing {
		p.pos += 2
	}
	start := p.pos
	if capturing {
		p.captures = append(p.captures, &g)
		p.optional = append(p.optional, false)
		g.capture = len(p.captures)
	}
	first := len(p.captures)
	for {
		alt, err := p.sequence()
		if err != nil {
			return node{}, err
		}
		g.alts = append(g.alts, alt)
		if p.pos == len(p.src) {
			return node{}, errUnclosed
		}
		p.pos++
		if p.src[p.pos-1] == ')' {
			break
		}
	}
	g.content = p.src[start : p.pos-1]
	n, err := p.quantified(g)
	if n.optional {
		if g.capture > 0 {
			first--
		}
		for i := first; i < len(p.captures); i++ {
			p.optional[i] = true
		}
	}
	if g.capture > 0 {
		*p.captures[g.capture-1] = n
	}
	return n, err
}

// quantified applies a ? to a group or literal; steps use no other
// quantifier on them, so any other is an error rather than a misreading.
func (p *exprParser) quantified(n node) (node, error) {
	switch q := p.quantifier(); q {
	case "":
	case "?":
		n.optional = true
	default:
		return node{}, fmt.Errorf("quantifier %s on a group or literal at %d", q, p.pos)
	}
	return n, nil
}

// quantifier reads the quantifier at pos, if any, with a lazy "?".
func (p *exprParser) quantifier() string {
	start := p.pos
	if p.pos < len(p.src) {
		switch p.src[p.pos] {
		case '?', '+', '*':
			p.pos++
		case '{':
			if end := strings.IndexByte(p.src[p.pos:], '}'); end > 0 {
				p.pos += end + 1
			}
		}
	}
	if p.pos > start && p.pos < len(p.src) && p.src[p.pos] == '?' && p.src[start] != '?' {
		p.pos++
	}
	return p.src[start:p.pos]
}
