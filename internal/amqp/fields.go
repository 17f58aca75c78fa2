package amqp

import "time"

// The conversions between decoded AMQP values and the fields of the
// composite types, by the Go type of the field.

// setField stores a decoded value in the field ptr points to, if its AMQP
// type is the one the field has.
func setField(ptr, v any) (ok bool) {
	switch p := ptr.(type) {
	case *string:
		*p, ok = v.(string)
	case *Symbol:
		*p, ok = v.(Symbol)
	case *bool:
		*p, ok = v.(bool)
	case *Role:
		var b bool
		b, ok = v.(bool)
		*p = Role(b)
	case *uint8:
		*p, ok = v.(uint8)
	case *uint16:
		*p, ok = v.(uint16)
	case *uint32:
		*p, ok = v.(uint32)
	case *uint64:
		*p, ok = v.(uint64)
	case **uint8:
		x, is := v.(uint8)
		*p, ok = &x, is
	case **uint16:
		x, is := v.(uint16)
		*p, ok = &x, is
	case **uint32:
		x, is := v.(uint32)
		*p, ok = &x, is
	case **uint64:
		x, is := v.(uint64)
		*p, ok = &x, is
	case *[]byte:
		*p, ok = v.([]byte)
	case *time.Time:
		*p, ok = v.(time.Time)
	case *any:
		*p, ok = v, true
	case *[]Symbol:
		*p, ok = symbols(v)
	case *map[Symbol]any:
		*p, ok = symbolMap(v)
	case *Annotations:
		var m map[any]any
		m, ok = v.(map[any]any)
		*p = Annotations(m)
	case **Error:
		*p, ok = v.(*Error)
	case **Source:
		*p, ok = v.(*Source)
	case **Target:
		*p, ok = v.(*Target)
	case *DeliveryState:
		*p, ok = v.(DeliveryState)
	}
	return ok
}

// fieldValue is the AMQP value of a field, nil when it is absent: empty
// strings, symbols and slices, false booleans and nil pointers are left
// out, since each has the specification's default as its meaning.
func fieldValue(ptr any) any {
	switch p := ptr.(type) {
	case *string:
		return nonZero(*p)
	case *Symbol:
		return nonZero(*p)
	case *bool:
		return nonZero(*p)
	case *Role:
		return bool(*p) // mandatory wherever it appears
	case *uint8:
		return *p
	case *uint16:
		return *p
	case *uint32:
		return *p
	case *uint64:
		return *p
	case **uint8:
		return ptrValue(*p)
	case **uint16:
		return ptrValue(*p)
	case **uint32:
		return ptrValue(*p)
	case **uint64:
		return ptrValue(*p)
	case *[]byte:
		if *p == nil {
			return nil
		}
		return *p
	case *time.Time:
		if p.IsZero() {
			return nil
		}
		return *p
	case *any:
		return *p
	case *[]Symbol:
		if *p == nil {
			return nil
		}
		return *p
	case *map[Symbol]any:
		if *p == nil {
			return nil
		}
		return *p
	case *Annotations:
		if *p == nil {
			return nil
		}
		return map[any]any(*p)
	case **Error:
		return ptrComposite(*p)
	case **Source:
		return ptrComposite(*p)
	case **Target:
		return ptrComposite(*p)
	case *DeliveryState:
		if *p == nil {
			return nil
		}
		return *p
	}
	return nil
}

func nonZero[T comparable](v T) any {
	var zero T
	if v == zero {
		return nil
	}
	return v
}

func ptrValue[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func ptrComposite[T any, P interface {
	*T
	composite
}](p P) any {
	if p == nil {
		return nil
	}
	return p
}

// symbols accepts a multiple symbol field: one symbol or an array of them
// (part 1, section 1.3, "multiple").
func symbols(v any) ([]Symbol, bool) {
	switch v := v.(type) {
	case Symbol:
		return []Symbol{v}, true
	case Array:
		out := make([]Symbol, len(v.Elems))
		for i, e := range v.Elems {
			s, ok := e.(Symbol)
			if !ok {
				return nil, false
			}
			out[i] = s
		}
		return out, true
	}
	return nil, false
}

// symbolMap accepts fields and filter sets: maps keyed by symbols.
func symbolMap(v any) (map[Symbol]any, bool) {
	m, ok := v.(map[any]any)
	if !ok {
		return nil, false
	}
	out := make(map[Symbol]any, len(m))
	for k, e := range m {
		s, ok := k.(Symbol)
		if !ok {
			return nil, false
		}
		out[s] = e
	}
	return out, true
}
