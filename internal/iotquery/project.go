package iotquery

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Field is one member of a projected row.
type Field struct {
	Name  string
	Value any
}

// Row is one answer of a projection or an aggregate query: its members in
// the order SELECT names them. A projected path that is undefined in the
// twin is left out of the row, as the language leaves undefined values out
// of the objects it builds.
type Row []Field

// MarshalJSON writes the row as an object in SELECT order, without
// escaping <, > and & (the emulator answers strings byte for byte).
func (r Row) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	b.WriteByte('{')
	for i, f := range r {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := enc.Encode(f.Name); err != nil {
			return nil, err
		}
		b.Truncate(b.Len() - 1) // Encode's newline
		b.WriteByte(':')
		if err := enc.Encode(f.Value); err != nil {
			return nil, err
		}
		b.Truncate(b.Len() - 1)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Project is the row a document gives a query that projects without
// grouping. Its values are copies: the document may change after.
func (q *Query) Project(doc Document) Row {
	row := make(Row, 0, len(q.Items))
	for i, it := range q.Items {
		if v, ok := doc.Lookup(it.Expr.(*Path).Segs); ok {
			row = append(row, Field{it.Name(i), clone(v)})
		}
	}
	return row
}

// Groups gathers the documents of an aggregate query (Add) and answers its
// rows (Rows): one per distinct value of the GROUP BY paths, in the order
// each first appeared; without GROUP BY, one row, even over no documents
// (COUNT() is then 0).
type Groups struct {
	q      *Query
	index  map[string]*group
	groups []*group
}

type group struct {
	keys []optional // the GROUP BY values
	aggs []aggState // one per item; only aggregates use theirs
}

type optional struct {
	v  any
	ok bool
}

// aggState accumulates one aggregate over one group.
type aggState struct {
	count int
	sum   float64
	best  any  // MIN or MAX so far: a float64 or a string
	mixed bool // a value SUM/AVG/MIN/MAX cannot take: the result is undefined
}

// NewGroups starts the aggregation of an Aggregated query.
func (q *Query) NewGroups() *Groups {
	g := &Groups{q: q, index: map[string]*group{}}
	if len(q.GroupBy) == 0 {
		g.groups = append(g.groups, &group{aggs: make([]aggState, len(q.Items))})
		g.index[""] = g.groups[0]
	}
	return g
}

// Add counts one document that passed the WHERE clause.
func (g *Groups) Add(doc Document) {
	var key strings.Builder
	keys := make([]optional, len(g.q.GroupBy))
	for i, p := range g.q.GroupBy {
		v, ok := doc.Lookup(p.Segs)
		if ok {
			keys[i] = optional{clone(v), true}
		}
		nv, _ := normalize(keys[i].v) // 1 and 1.0 are one group
		b, _ := json.Marshal(nv)
		if !ok {
			b = []byte("undefined")
		}
		key.Write(b)
		key.WriteByte(0)
	}
	gr, ok := g.index[key.String()]
	if !ok {
		gr = &group{keys: keys, aggs: make([]aggState, len(g.q.Items))}
		g.index[key.String()] = gr
		g.groups = append(g.groups, gr)
	}
	for i, it := range g.q.Items {
		if a, ok := it.Expr.(*Aggregate); ok {
			gr.aggs[i].add(a, doc)
		}
	}
}

func (s *aggState) add(a *Aggregate, doc Document) {
	if a.Arg == nil {
		s.count++
		return
	}
	raw, ok := doc.Lookup(a.Arg.Segs)
	if !ok {
		return // undefined values are left out of every aggregate
	}
	v, _ := normalize(raw)
	s.count++
	switch x := v.(type) {
	case float64:
		s.sum += x
		if b, isNum := s.best.(float64); s.best == nil || isNum && (a.Fn == "MIN" && x < b || a.Fn == "MAX" && x > b) {
			s.best = x
		} else if !isNum {
			s.mixed = true
		}
	case string:
		if a.Fn != "MIN" && a.Fn != "MAX" {
			s.mixed = true
			return
		}
		if b, isStr := s.best.(string); s.best == nil || isStr && (a.Fn == "MIN" && x < b || a.Fn == "MAX" && x > b) {
			s.best = x
		} else if !isStr {
			s.mixed = true
		}
	default:
		s.mixed = true
	}
}

// result is the aggregate's value; ok is false when it is undefined (a
// value it cannot take, or none at all for SUM/AVG/MIN/MAX).
func (s *aggState) result(a *Aggregate) (any, bool) {
	switch {
	case a.Fn == "COUNT":
		return s.count, true
	case s.mixed || s.count == 0:
		return nil, false
	case a.Fn == "SUM":
		return s.sum, true
	case a.Fn == "AVG":
		return s.sum / float64(s.count), true
	}
	return s.best, true
}

// Rows are the aggregate query's answer.
func (g *Groups) Rows() []Row {
	rows := make([]Row, 0, len(g.groups))
	for _, gr := range g.groups {
		row := make(Row, 0, len(g.q.Items))
		for i, it := range g.q.Items {
			var v optional
			switch x := it.Expr.(type) {
			case *Aggregate:
				v.v, v.ok = gr.aggs[i].result(x)
			case *Path:
				v = gr.keys[g.groupIndex(x)]
			}
			if v.ok {
				row = append(row, Field{it.Name(i), v.v})
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// groupIndex is where a projected path is in GROUP BY; Parse made sure it
// is there.
func (g *Groups) groupIndex(p *Path) int {
	for i, k := range g.q.GroupBy {
		if equalSegs(k.Segs, p.Segs) {
			return i
		}
	}
	return 0
}

func equalSegs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// clone deep-copies JSON-like values.
func clone(v any) any {
	switch x := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(x))
		for k, e := range x {
			c[k] = clone(e)
		}
		return c
	case []any:
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = clone(e)
		}
		return c
	}
	return v
}
