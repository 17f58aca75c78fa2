package main

import (
	"encoding/xml"
	"io"
	"regexp"
	"strings"
	"testing"
)

// node is an element of the page, read with encoding/xml's lenient HTML
// mode: enough to check the page's structure without a dependency.
type node struct {
	tag  string
	attr map[string]string
	kids []any // *node or string
}

func parseHTML(t *testing.T, page string) *node {
	t.Helper()
	page = regexp.MustCompile(`(?s)<(script|style)>.*?</(script|style)>`).ReplaceAllString(page, "")
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	root := &node{tag: "#document"}
	stack := []*node{root}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return root
		}
		if err != nil {
			t.Fatalf("parse the page: %v", err)
		}
		top := stack[len(stack)-1]
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{tag: tok.Name.Local, attr: map[string]string{}}
			for _, a := range tok.Attr {
				n.attr[a.Name.Local] = a.Value
			}
			top.kids = append(top.kids, n)
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			top.kids = append(top.kids, string(tok))
		}
	}
}

func (n *node) hasClass(c string) bool {
	return c == "" || strings.Contains(" "+n.attr["class"]+" ", " "+c+" ")
}

// all lists the elements under n with the tag and class, in page order.
func (n *node) all(tag, class string) []*node {
	var out []*node
	for _, k := range n.kids {
		if k, ok := k.(*node); ok {
			if k.tag == tag && k.hasClass(class) {
				out = append(out, k)
			}
			out = append(out, k.all(tag, class)...)
		}
	}
	return out
}

func (n *node) first(tag, class string) *node {
	if all := n.all(tag, class); len(all) > 0 {
		return all[0]
	}
	return &node{}
}

// text is the element's text with each run of blanks made one space.
func (n *node) text() string { return strings.Join(strings.Fields(n.raw()), " ") }

// raw is the element's text as it is, blanks and line breaks included.
func (n *node) raw() string {
	var b strings.Builder
	for _, k := range n.kids {
		switch k := k.(type) {
		case string:
			b.WriteString(k)
		case *node:
			b.WriteString(k.raw())
		}
	}
	return b.String()
}
