package vocab

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/cucumber/godog"
)

// Scenario variables. A step remembers a value under a name ("the service
// remembers the etag of device "house" as "before""); any later step of
// the scenario writes ${before} where the value belongs, in any argument:
// a quoted string, a JSON value, a doc string, a data table cell. $${ is a
// literal ${.
//
// A variable stands for its text: a string without its quotes, any other
// value as JSON. So `equal to ${mode}` compares with the string it holds
// (a bare word is a string), and in a JSON document a string variable goes
// between quotes: {"mode": "${mode}"}.
//
// Expansion happens once, in the wrapper every catalogued handler gets
// (wrap), so no step handles variables itself. The variables live in the
// scenario's context under their own key, put there by the Before hook
// Register registers: per scenario, never shared, and apart from the
// steps' own state.

type variablesKey struct{}

// variables are one scenario's; its steps run one at a time.
type variables struct{ vars map[string]variable }

type variable struct {
	value string
	// secret marks a value from a key: an error message never shows it.
	secret bool
}

// freshVariables is the Before hook that gives each scenario its own.
func freshVariables(ctx context.Context, _ *godog.Scenario) (context.Context, error) {
	return context.WithValue(ctx, variablesKey{}, &variables{}), nil
}

// variablesFrom are the scenario's variables (none outside a scenario).
func variablesFrom(ctx context.Context) *variables {
	v, _ := ctx.Value(variablesKey{}).(*variables)
	if v == nil {
		return &variables{}
	}
	return v
}

var variableName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// CheckVariableName refuses a name ${name} could not refer to.
func CheckVariableName(name string) error {
	if !variableName.MatchString(name) {
		return fmt.Errorf("variable name %q: want a letter, then letters, digits, _ or -", name)
	}
	return nil
}

// set remembers a value; a name ${name} could not refer to is refused.
func (v *variables) set(name, value string, secret bool) error {
	if err := CheckVariableName(name); err != nil {
		return err
	}
	if v.vars == nil {
		v.vars = map[string]variable{}
	}
	v.vars[name] = variable{value, secret}
	return nil
}

// expand replaces every ${name} in s, and adds each secret it puts in to
// secrets (name → value), so that the step's error can be masked. An
// unknown name is an error that names it and the ones defined, never a
// value.
func (v *variables) expand(s string, secrets map[string]string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' { // $${ is a literal ${
			b.WriteString(s[:i-1] + "${")
			s = s[i+2:]
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("unclosed ${ in %q", s)
		}
		name := s[i+2 : i+end]
		val, ok := v.vars[name]
		if !ok {
			return "", v.unknown(name)
		}
		if val.secret {
			secrets[name] = val.value
		}
		b.WriteString(s[:i] + val.value)
		s = s[i+end+1:]
	}
}

func (v *variables) unknown(name string) error {
	if len(v.vars) == 0 {
		return fmt.Errorf("variable ${%s} is not defined: no step of this scenario has remembered a value yet", name)
	}
	names := slices.Sorted(maps.Keys(v.vars))
	for i, n := range names {
		names[i] = "${" + n + "}"
	}
	return fmt.Errorf("variable ${%s} is not defined; this scenario has defined %s so far", name, strings.Join(names, ", "))
}

// Remember keeps a value as the scenario's variable name, for later
// steps to use as ${name}; a secret value is masked out of every step's
// error. A name ${name} could not refer to is refused.
func Remember(ctx context.Context, name, value string, secret bool) error {
	return variablesFrom(ctx).set(name, value, secret)
}

// wrap wraps a handler in a function godog can call (godog converts the
// captured arguments by its parameter types, by reflection): the
// handler's own type, or the one spread makes for a handler that takes its
// captures as a struct (bind.go). The wrapper expands variables in every
// string, doc string and data table argument, calls the handler with
// them, and masks any secret it put in out of the handler's error. The
// doc string and table are copies: godog's own stay as written, so reports
// never show a secret.
func wrap(handler any, check func([]reflect.Value) error) (any, error) {
	t, err := handlerType(handler)
	if err != nil {
		return nil, err
	}
	godogType, fields, err := spread(t)
	if err != nil {
		return nil, err
	}
	fn := reflect.ValueOf(handler)
	return reflect.MakeFunc(godogType, func(args []reflect.Value) []reflect.Value {
		ctx := args[0].Interface().(context.Context)
		vars, secrets := variablesFrom(ctx), map[string]string{}
		for i, a := range args[1:] {
			expanded, err := expandArg(vars, a.Interface(), secrets)
			if err != nil {
				return results(t, ctx, err)
			}
			args[i+1] = reflect.ValueOf(expanded).Convert(a.Type())
		}
		if err := check(args[1:]); err != nil {
			return results(t, ctx, maskSecrets(err, secrets))
		}
		out := fn.Call(gather(t, args, fields))
		if err, _ := out[len(out)-1].Interface().(error); err != nil {
			out[len(out)-1] = reflect.ValueOf(maskSecrets(err, secrets)).Convert(errorType)
		}
		return out
	}).Interface(), nil
}

func expandArg(vars *variables, arg any, secrets map[string]string) (any, error) {
	switch a := arg.(type) {
	case string:
		return vars.expand(a, secrets)
	case *godog.DocString:
		if a == nil {
			return a, nil
		}
		content, err := vars.expand(a.Content, secrets)
		return &godog.DocString{MediaType: a.MediaType, Content: content}, err
	case *godog.Table:
		if a == nil {
			return a, nil
		}
		c := *a
		c.Rows = slices.Clone(a.Rows)
		for i, row := range c.Rows {
			r := *row
			r.Cells = slices.Clone(row.Cells)
			for j, cell := range r.Cells {
				v := *cell
				var err error
				if v.Value, err = vars.expand(cell.Value, secrets); err != nil {
					return nil, err
				}
				r.Cells[j] = &v
			}
			c.Rows[i] = &r
		}
		return &c, nil
	}
	return arg, nil
}

// handlerType checks that godog can call handler and that the wrapper can
// reach the scenario's variables: the context first, an error last.
func handlerType(handler any) (reflect.Type, error) {
	t := reflect.TypeOf(handler)
	switch {
	case t == nil || t.Kind() != reflect.Func:
		return nil, fmt.Errorf("handler %T is not a function", handler)
	case t.NumIn() == 0 || t.In(0) != contextType:
		return nil, fmt.Errorf("handler %s does not take the context first", t)
	case t.NumOut() == 1 && t.Out(0) == errorType,
		t.NumOut() == 2 && t.Out(0) == contextType && t.Out(1) == errorType:
		return t, nil
	}
	return nil, fmt.Errorf("handler %s returns neither error nor (context.Context, error)", t)
}

var (
	contextType = reflect.TypeFor[context.Context]()
	errorType   = reflect.TypeFor[error]()
)

// results is what a handler of type t returns for err.
func results(t reflect.Type, ctx context.Context, err error) []reflect.Value {
	e := reflect.ValueOf(&err).Elem()
	if t.NumOut() == 2 {
		return []reflect.Value{reflect.ValueOf(&ctx).Elem(), e}
	}
	return []reflect.Value{e}
}

// maskSecrets is err with each secret value it shows masked.
func maskSecrets(err error, secrets map[string]string) error {
	if len(secrets) == 0 {
		return err
	}
	return &maskedError{err, secrets}
}

// maskedError is a step's error with each secret value it shows replaced
// by its variable's name; errors.Is and errors.As still see the original.
type maskedError struct {
	err     error
	secrets map[string]string // name → value
}

func (m *maskedError) Error() string {
	s := m.err.Error()
	for name, value := range m.secrets {
		if value != "" {
			s = strings.ReplaceAll(s, value, "${"+name+"}")
		}
	}
	return s
}

func (m *maskedError) Unwrap() error { return m.err }
