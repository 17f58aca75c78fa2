package amqp

import (
	"errors"
)

// composite is a described list with a registered descriptor: the
// performatives, termini, outcomes, SASL frames and the header and
// properties message sections. fields returns pointers to the struct's
// fields in the order the specification lists them; the one table below
// and the field conversions in fields.go replace hand-written encoders and
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

// appendComposite writes a composite as a described list of all its
// fields, absent ones as null. The specification (part 1, 1.4: composite
// type representation) lets trailing nulls be left out, but Python's
// pyamqp, the transport of azure-eventhub 5.11, reads a performative's
// fields by position (its link.py takes attach's field 13) and fails with
// an IndexError on a shorter list.
func appendComposite(b []byte, c composite) ([]byte, error) {
	ptrs := c.fields()
	vals := make([]any, len(ptrs))
	for i, p := range ptrs {
		vals[i] = fieldValue(p)
	}
	b = appendUlong(append(b, codeDescribed), c.descriptor())
	return appendList(b, vals)
}
