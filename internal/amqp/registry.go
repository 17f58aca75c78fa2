package amqp

import (
	"errors"
	"time"
)

// composite is a described list with a registered descriptor: the
// performatives, termini, outcomes, SASL frames and the header and
// properties message sections. fields returns pointers to the struct's
// fields in the order the specification lists them; the one table below
// and the field conversions in this file replace hand-written encoders and
// decoders for each type.
type composite interface {
	descriptor() uint64
	fields() []any
}

type descriptorEntry struct {
	code     uint64
	name     Symbol
	required uint32 // bit i set: field i is mandatory
	new      func() composite
}

// registry is the descriptor table (codes and names from the "Type:" boxes
// of the specification's parts 2, 3 and 5).
var registry = []descriptorEntry{
	{0x10, "amqp:open:list", 1 << 0, func() composite { return new(Open) }},
	{0x11, "amqp:begin:list", 0b1110, func() composite { return new(Begin) }},
	{0x12, "amqp:attach:list", 0b111, func() composite { return new(Attach) }},
	{0x13, "amqp:flow:list", 0b1110, func() composite { return new(Flow) }},
	{0x14, "amqp:transfer:list", 1 << 0, func() composite { return new(Transfer) }},
	{0x15, "amqp:disposition:list", 0b11, func() composite { return new(Disposition) }},
	{0x16, "amqp:detach:list", 1 << 0, func() composite { return new(Detach) }},
	{0x17, "amqp:end:list", 0, func() composite { return new(End) }},
	{0x18, "amqp:close:list", 0, func() composite { return new(Close) }},
	{0x1d, "amqp:error:list", 1 << 0, func() composite { return new(Error) }},
	{0x23, "amqp:received:list", 0b11, func() composite { return new(Received) }},
	{0x24, "amqp:accepted:list", 0, func() composite { return new(Accepted) }},
	{0x25, "amqp:rejected:list", 0, func() composite { return new(Rejected) }},
	{0x26, "amqp:released:list", 0, func() composite { return new(Released) }},
	{0x27, "amqp:modified:list", 0, func() composite { return new(Modified) }},
	{0x28, "amqp:source:list", 0, func() composite { return new(Source) }},
	{0x29, "amqp:target:list", 0, func() composite { return new(Target) }},
	{0x40, "amqp:sasl-mechanisms:list", 1 << 0, func() composite { return new(SASLMechanisms) }},
	{0x41, "amqp:sasl-init:list", 1 << 0, func() composite { return new(SASLInit) }},
	{0x42, "amqp:sasl-challenge:list", 1 << 0, func() composite { return new(SASLChallenge) }},
	{0x43, "amqp:sasl-response:list", 1 << 0, func() composite { return new(SASLResponse) }},
	{0x44, "amqp:sasl-outcome:list", 1 << 0, func() composite { return new(SASLOutcome) }},
	{0x70, "amqp:header:list", 0, func() composite { return new(Header) }},
	{0x73, "amqp:properties:list", 0, func() composite { return new(Properties) }},
}

var (
	registryByCode = map[uint64]*descriptorEntry{}
	registryByName = map[Symbol]*descriptorEntry{}
)

func init() {
	for i := range registry {
		e := &registry[i]
		registryByCode[e.code] = e
		registryByName[e.name] = e
	}
}

func lookupDescriptor(desc any) *descriptorEntry {
	switch d := desc.(type) {
	case uint64:
		return registryByCode[d]
	case Symbol:
		return registryByName[d]
	}
	return nil
}

var (
	errNotList      = errors.New("amqp: composite type whose value is not a list")
	errMissingField = errors.New("amqp: mandatory field missing")
	errFieldType    = errors.New("amqp: field of the wrong type")
)

// composite decodes the list of a registered described type into its
// struct. Fields past the ones this package knows are ignored, as the
// specification's extension rules allow.
func (d *decoder) composite(t *descriptorEntry) (any, error) {
	code, err := d.byte()
	if err != nil {
		return nil, err
	}
	if code != codeList0 && code != codeList8 && code != codeList32 {
		return nil, errNotList
	}
	v, err := d.body(code)
	if err != nil {
		return nil, err
	}
	l := v.([]any)
	for i := 0; i < 32; i++ {
		if t.required&(1<<i) != 0 && (i >= len(l) || l[i] == nil) {
			return nil, errMissingField
		}
	}
	c := t.new()
	for i, ptr := range c.fields() {
		if i >= len(l) {
			break
		}
		if l[i] != nil && !setField(ptr, l[i]) {
			return nil, errFieldType
		}
	}
	return c, nil
}

// appendComposite writes a composite as a described list, leaving out
// trailing fields that are absent.
func appendComposite(b []byte, c composite) ([]byte, error) {
	ptrs := c.fields()
	vals := make([]any, len(ptrs))
	n := 0
	for i, p := range ptrs {
		if vals[i] = fieldValue(p); vals[i] != nil {
			n = i + 1
		}
	}
	b = appendUlong(append(b, codeDescribed), c.descriptor())
	return appendList(b, vals[:n])
}

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
