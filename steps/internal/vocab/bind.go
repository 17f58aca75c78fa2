package vocab

import (
	"fmt"
	"reflect"

	"github.com/cucumber/godog"
)

// A handler may take its captures as one struct of exported string fields,
// one per capture group in the groups' order, instead of one string
// parameter each: a step with many groups then reads c.Section and c.Path
// rather than its ninth positional string. godog converts the captured
// arguments by the parameter types of the function it is given, so it is
// given a function with one string per field (spread), and the wrapper
// gathers them into the struct before it calls the handler.

// spread is the function type godog calls for a handler of type t: t
// itself, or, when t takes a struct after the context, t with the struct
// spread into one string per field; fields is the number of fields spread
// (0 for none).
func spread(t reflect.Type) (godogType reflect.Type, fields int, err error) {
	if t.NumIn() < 2 || t.In(1).Kind() != reflect.Struct {
		return t, 0, nil
	}
	s := t.In(1)
	for k := range s.NumField() {
		f := s.Field(k)
		if f.Type.Kind() != reflect.String || !f.IsExported() {
			return nil, 0, fmt.Errorf("handler %s: its captures struct must hold exported strings only, %s is not one", t, f.Name)
		}
	}
	in := []reflect.Type{t.In(0)}
	for range s.NumField() {
		in = append(in, reflect.TypeFor[string]())
	}
	for k := 2; k < t.NumIn(); k++ {
		in = append(in, t.In(k))
	}
	out := make([]reflect.Type, t.NumOut())
	for k := range out {
		out[k] = t.Out(k)
	}
	return reflect.FuncOf(in, out, false), s.NumField(), nil
}

// gather turns godog's arguments back into the handler's: the context,
// the struct of the first fields strings, then the rest.
func gather(t reflect.Type, args []reflect.Value, fields int) []reflect.Value {
	if fields == 0 {
		return args
	}
	s := reflect.New(t.In(1)).Elem()
	for k := range fields {
		s.Field(k).SetString(args[1+k].String())
	}
	return append([]reflect.Value{args[0], s}, args[1+fields:]...)
}

// captures is how many capture groups a function godog calls takes: its
// parameters after the context, less a doc string or data table last.
func captures(t reflect.Type) int {
	n := t.NumIn() - 1
	if last := t.In(t.NumIn() - 1); n > 0 && (last == docStringType || last == tableType) {
		n--
	}
	return n
}

var (
	docStringType = reflect.TypeFor[*godog.DocString]()
	tableType     = reflect.TypeFor[*godog.Table]()
)
