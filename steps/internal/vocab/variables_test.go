package vocab

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/cucumber/godog"
)

func withVars(t *testing.T, vars map[string]variable) context.Context {
	t.Helper()
	v := &variables{}
	for name, val := range vars {
		if err := v.set(name, val.value, val.secret); err != nil {
			t.Fatal(err)
		}
	}
	return context.WithValue(context.Background(), variablesKey{}, v)
}

// TestExpand: ${name} stands for the value, $${ for a literal ${; an
// unknown name fails naming it and the names defined, never a value.
func TestExpand(t *testing.T) {
	v := variablesFrom(withVars(t, map[string]variable{"etag": {"AAE=", false}, "key": {"s3cr3t", true}}))
	for in, want := range map[string]string{
		`plain`:                  `plain`,
		`with etag "${etag}"`:    `with etag "AAE="`,
		`${etag}${etag}`:         `AAE=AAE=`,
		`{"k": "$${etag}"}`:      `{"k": "${etag}"}`,
		`costs $5, ${etag}, $ {`: `costs $5, AAE=, $ {`,
	} {
		secrets := map[string]string{}
		if got, err := v.expand(in, secrets); err != nil || got != want || len(secrets) != 0 {
			t.Errorf("expand(%q) = %q, %v, secrets %v; want %q", in, got, err, secrets, want)
		}
	}
	secrets := map[string]string{}
	if got, err := v.expand("${key}", secrets); err != nil || got != "s3cr3t" || secrets["key"] != "s3cr3t" {
		t.Errorf("a secret: %q, %v, %v", got, err, secrets)
	}
	for in, want := range map[string]string{
		"${nope}":  "variable ${nope} is not defined; this scenario has defined ${etag}, ${key} so far",
		"${etag":   `unclosed ${ in "${etag"`,
		"a ${key}": "", // defined: no error
	} {
		_, err := v.expand(in, map[string]string{})
		if (err == nil) != (want == "") || err != nil && err.Error() != want {
			t.Errorf("expand(%q): error %v, want %q", in, err, want)
		}
	}
	if _, err := (&variables{}).expand("${x}", map[string]string{}); err == nil || !strings.Contains(err.Error(), "no step of this scenario has remembered a value yet") {
		t.Errorf("no variables: %v", err)
	}
	if err := v.set("1st", "x", false); err == nil {
		t.Error("a name that cannot be written as ${1st}: no error")
	}
}

// TestWrapExpandsVariables: the wrapper has the handler's own type
// (godog converts arguments by it), expands every kind of argument on
// copies, and masks a secret it put in out of the handler's error while
// errors.Is still sees the handler's error.
func TestWrapExpandsVariables(t *testing.T) {
	var gotText, gotDoc, gotCell string
	errBoom := errors.New("boom")
	handler := func(_ context.Context, text string, doc *godog.DocString) error {
		gotText, gotDoc = text, doc.Content
		return errors.Join(errBoom, errors.New("want "+text))
	}
	wrapped, err := wrap(handler, noCheck)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.TypeOf(wrapped) != reflect.TypeOf(handler) {
		t.Fatalf("wrapper type %T, want %T", wrapped, handler)
	}
	ctx := withVars(t, map[string]variable{"key": {"s3cr3t", true}, "n": {"7", false}})
	doc := &godog.DocString{Content: `{"n": ${n}}`}
	err = wrapped.(func(context.Context, string, *godog.DocString) error)(ctx, "${key}", doc)
	if gotText != "s3cr3t" || gotDoc != `{"n": 7}` || doc.Content != `{"n": ${n}}` {
		t.Errorf("handler got %q and %q; godog's doc string now %q", gotText, gotDoc, doc.Content)
	}
	if !errors.Is(err, errBoom) || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "want ${key}") {
		t.Errorf("error %q: want errBoom, with the secret masked as ${key}", err)
	}

	table := &godog.Table{} // its row and cell types are godog's dependency's: built from JSON
	if err := json.Unmarshal([]byte(`{"rows": [{"cells": [{"value": "${n}"}]}]}`), table); err != nil {
		t.Fatal(err)
	}
	tableHandler := func(ctx context.Context, tb *godog.Table) (context.Context, error) {
		gotCell = tb.Rows[0].Cells[0].Value
		return ctx, nil
	}
	wrappedTable, _ := wrap(tableHandler, noCheck)
	if _, err := wrappedTable.(func(context.Context, *godog.Table) (context.Context, error))(ctx, table); err != nil || gotCell != "7" || table.Rows[0].Cells[0].Value != "${n}" {
		t.Errorf("table: %v, cell %q, godog's cell now %q", err, gotCell, table.Rows[0].Cells[0].Value)
	}

	called := false
	unknown, _ := wrap(func(context.Context, string) error { called = true; return nil }, noCheck)
	if err := unknown.(func(context.Context, string) error)(ctx, "${nope}"); called || err == nil || !strings.Contains(err.Error(), "${nope}") {
		t.Errorf("an unknown variable: called %v, error %v", called, err)
	}
}

// TestHandlerType: a handler the wrapper cannot serve is refused when the
// package loads, not when a scenario first uses it.
func TestHandlerType(t *testing.T) {
	for _, h := range []any{
		"not a function",
		func(string) error { return nil },
		func(context.Context) {},
		func(context.Context) string { return "" },
		//lint:ignore ST1008 the wrong order is what this case checks
		func(context.Context) (error, context.Context) { return nil, nil },
	} {
		if _, err := handlerType(h); err == nil {
			t.Errorf("handlerType(%T): no error", h)
		}
	}
	for _, h := range []any{
		func(context.Context, string) error { return nil },
		func(context.Context) (context.Context, error) { return nil, nil },
	} {
		if _, err := handlerType(h); err != nil {
			t.Errorf("handlerType(%T): %v", h, err)
		}
	}
}

func noCheck([]reflect.Value) error { return nil }
