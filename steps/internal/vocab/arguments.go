package vocab

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/cucumber/godog"
	messages "github.com/cucumber/messages/go/v21"
)

// The checks of a step's arguments that need no hub: the doc string or
// table a step ends with, a JSON value it holds, a doc string that must be
// JSON. The same checks run twice: before anything runs, over the feature
// files, where a mistake is told with its file and line (Lint), and before
// each step runs, after its variables are expanded (Check, and the
// handler's wrapper), where a value made by a variable is checked too.

// JSONDoc marks a step whose doc string is a JSON document: a doc string
// that is not JSON is then refused with the line and column of the
// mistake, before anything is sent.
func (d Def) JSONDoc() Def {
	d.args.jsonDoc = true
	return d
}

// argRules are what a step's wrapper checks of its arguments; JSONDoc sets
// jsonDoc when the step tables are built, and nothing changes them after.
type argRules struct {
	params  []param
	jsonDoc bool
}

// wants is what a step takes after its captures: "doc string", "table"
// or "" (nothing).
func (d Def) wants() string {
	t := reflect.TypeOf(d.run)
	switch last := t.In(t.NumIn() - 1); {
	case t.NumIn() < 2:
	case last == docStringType:
		return "doc string"
	case last == tableType:
		return "table"
	}
	return ""
}

// argumentProblem says what is wrong with the doc string or table a step
// has, or lacks, for d.
func (d Def) argumentProblem(arg *messages.PickleStepArgument) error {
	has := ""
	switch {
	case arg == nil:
	case arg.DocString != nil:
		has = "doc string"
	case arg.DataTable != nil:
		has = "table"
	}
	want := d.wants()
	switch {
	case want == has:
		return nil
	case want == "doc string":
		return fmt.Errorf(`this step ends in ":" and needs a doc string right below it: its lines between two lines of """`)
	case want == "table":
		return fmt.Errorf(`this step ends in ":" and needs a table right below it: rows of cells between | bars`)
	}
	return fmt.Errorf("this step takes no %s: remove the %s below it, or use a step that takes one (`hubspec steps`)", has, has)
}

// jsonProblem is nil when s is JSON, else the error with the line and
// column of the mistake in s.
func jsonProblem(s string) error {
	var v any
	err := json.Unmarshal([]byte(s), &v)
	if err == nil {
		return nil
	}
	var syntax *json.SyntaxError
	if !errors.As(err, &syntax) {
		return err
	}
	line, col := position(s, int(syntax.Offset))
	return &jsonError{msg: syntax.Error(), line: line, col: col}
}

// jsonError is JSON's syntax error with its line and column (from 1).
type jsonError struct {
	msg       string
	line, col int
}

func (e *jsonError) Error() string {
	return fmt.Sprintf("%s (line %d, column %d)", e.msg, e.line, e.col)
}

// position is the line and column, from 1, of the byte at offset, where
// json.SyntaxError puts the mistake: just after the byte that showed it.
func position(s string, offset int) (line, col int) {
	offset = max(min(offset, len(s)), 1)
	before := s[:offset]
	line = strings.Count(before, "\n") + 1
	return line, offset - strings.LastIndex(before, "\n") - 1
}

// looksLikeJSON says whether a value is meant as JSON rather than as a
// bare word: an object, an array or a quoted string.
func looksLikeJSON(s string) bool {
	return strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[") || strings.HasPrefix(s, `"`)
}

// valueProblem is the error for a JSON value that is not JSON; a value
// that does not look like JSON is a bare word, which is a string.
func valueProblem(s string) error {
	if !looksLikeJSON(s) {
		return nil
	}
	err := jsonProblem(s)
	var je *jsonError
	if errors.As(err, &je) {
		return fmt.Errorf("the value %s is not valid JSON: %s at character %d; write a JSON value, e.g. {\"a\": 1}, [1, 2] or \"text\"", s, je.msg, je.col)
	}
	return err
}

// docProblem is the error for a JSON doc string that is not JSON, with the
// line and column of the mistake in the doc string.
func docProblem(content string) error {
	err := jsonProblem(content)
	var je *jsonError
	if errors.As(err, &je) {
		return fmt.Errorf("the doc string is not valid JSON: %s, at its line %d, column %d", je.msg, je.line, je.col)
	}
	return err
}

// check checks the arguments godog passes a step's handler (after the
// context), variables expanded: each JSON value, and the doc string of a
// JSONDoc step.
func (r *argRules) check(args []reflect.Value) error {
	for i, a := range args {
		switch v := a.Interface().(type) {
		case string:
			if i < len(r.params) && r.params[i].json {
				if err := valueProblem(v); err != nil {
					return err
				}
			}
		case *godog.DocString:
			if r.jsonDoc && v != nil {
				if err := docProblem(v.Content); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
