package vocab

import (
	"context"
	"strings"
	"testing"

	"github.com/cucumber/godog"
)

// TestStructHandlers: a handler that takes its captures as a struct is
// called by godog with one string per field, the variables in them
// expanded, and anything after them (a doc string) passed on.
func TestStructHandlers(t *testing.T) {
	type point struct{ X, Y string }
	var got point
	var gotDoc string
	def := New("d", `^at (\d+),(\d+)$`, func(_ context.Context, p point, doc *godog.DocString) error {
		got, gotDoc = p, doc.Content
		return nil
	}, "At.")
	call, ok := def.run.(func(context.Context, string, string, *godog.DocString) error)
	if !ok {
		t.Fatalf("godog is given %T, want one string per field", def.run)
	}
	ctx := withVars(t, map[string]variable{"n": {"7", false}})
	if err := call(ctx, "1", "${n}", &godog.DocString{Content: "d"}); err != nil || got != (point{"1", "7"}) || gotDoc != "d" {
		t.Errorf("got %+v and %q, %v", got, gotDoc, err)
	}
}

// TestHandlersMustFitTheirExpressions: a struct with a field that is no
// exported string, or a handler that takes more or fewer captures than
// the expression has groups, panics when the step is defined.
func TestHandlersMustFitTheirExpressions(t *testing.T) {
	for name, def := range map[string]func(){
		"an int field": func() {
			New("d", `^(a)$`, func(context.Context, struct{ A int }) error { return nil }, "")
		},
		"an unexported field": func() {
			New("d", `^(a)$`, func(context.Context, struct{ a string }) error { return nil }, "")
		},
		"too few fields": func() {
			New("d", `^(a) (b)$`, func(context.Context, struct{ A string }) error { return nil }, "")
		},
		"too many strings": func() {
			New("d", `^(a)$`, func(context.Context, string, string) error { return nil }, "")
		},
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), "step ^") {
					t.Errorf("%s: no panic naming the step (%v)", name, r)
				}
			}()
			def()
		}()
	}
}
