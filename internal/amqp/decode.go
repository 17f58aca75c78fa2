package amqp

import (
	"encoding/binary"
	"math"
	"time"
)

// Unmarshal decodes exactly one AMQP value from b. The Go types it yields:
// nil, bool, uint8/16/32/64, int8/16/32/64, float32/64, Decimal32/64/128,
// Char, time.Time (UTC, millisecond precision), UUID, []byte (aliasing b),
// string, Symbol, []any (list), map[any]any (map), Array, Described, and a
// pointer to this package's composite type for each descriptor the registry
// knows (*Open, *Attach, *Source, *Error, *Accepted, ...).
//
// Hostile input cannot make it panic, recurse without bound or allocate
// more than a small multiple of len(b): every size and count is checked
// against the bytes that remain before anything is allocated.
func Unmarshal(b []byte) (any, error) {
	v, rest, err := unmarshalPrefix(b)
	if err == nil && len(rest) != 0 {
		err = errShort
	}
	return v, err
}

// unmarshalPrefix decodes one value from the front of b and returns what
// follows it: a transfer frame's performative is followed by its payload.
func unmarshalPrefix(b []byte) (any, []byte, error) {
	d := decoder{b: b, limit: len(b)}
	v, err := d.value()
	return v, d.b, err
}

type decoder struct {
	b     []byte
	depth int
	limit int // length of the whole input: bounds arrays of zero-width elements
}

func (d *decoder) take(n int) ([]byte, error) {
	if n < 0 || n > len(d.b) {
		return nil, errShort
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v, nil
}

func (d *decoder) byte() (byte, error) {
	v, err := d.take(1)
	if err != nil {
		return 0, err
	}
	return v[0], nil
}

func (d *decoder) value() (any, error) {
	code, err := d.byte()
	if err != nil {
		return nil, err
	}
	if code == codeDescribed {
		return d.described()
	}
	return d.body(code)
}

// descriptor reads a descriptor, which must be a ulong or a symbol.
func (d *decoder) descriptor() (any, error) {
	code, err := d.byte()
	if err != nil {
		return nil, err
	}
	switch code {
	case codeUlong0, codeSmallUlong, codeUlong, codeSym8, codeSym32:
		return d.body(code)
	}
	return nil, errDescriptor
}

// anyDescriptor reads the descriptor of a described value: any value but
// a described one. Descriptors other than a ulong or a symbol are
// "reserved" but "not syntactically invalid" (part 1, 1.5), and Python's
// pyamqp sends one: a $management request's security_token is its
// (token, expiry) tuple, encoded as a described value whose descriptor is
// the token in binary. Arrays keep the strict rule (descriptor).
func (d *decoder) anyDescriptor() (any, error) {
	if len(d.b) > 0 && d.b[0] == codeDescribed {
		return nil, errDescriptor
	}
	return d.value()
}

func (d *decoder) described() (any, error) {
	if d.depth++; d.depth > maxDepth {
		return nil, errTooDeep
	}
	defer func() { d.depth-- }()
	desc, err := d.anyDescriptor()
	if err != nil {
		return nil, err
	}
	if t := lookupDescriptor(desc); t != nil {
		return d.composite(t)
	}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	return Described{Descriptor: desc, Value: v}, nil
}

// body decodes the value after its constructor.
func (d *decoder) body(code byte) (any, error) {
	if w := fixedWidth(code); w > 0 {
		raw, err := d.take(w)
		if err != nil {
			return nil, err
		}
		return fixedValue(code, raw)
	}
	switch code {
	case codeNull:
		return nil, nil
	case codeTrue, codeFalse:
		return code == codeTrue, nil
	case codeUint0:
		return uint32(0), nil
	case codeUlong0:
		return uint64(0), nil
	case codeList0:
		return []any{}, nil
	case codeVbin8, codeStr8, codeSym8, codeVbin32, codeStr32, codeSym32:
		raw, err := d.sized(code&0xf0 == 0xa0)
		if err != nil {
			return nil, err
		}
		switch code & 0x0f {
		case 0x0:
			return raw, nil
		case 0x1:
			return string(raw), nil
		}
		return Symbol(raw), nil
	case codeList8, codeList32, codeMap8, codeMap32, codeArray8, codeArray32:
		return d.compound(code)
	}
	return nil, errBadCode
}

// fixedValue converts the body of a fixed-width type.
func fixedValue(code byte, raw []byte) (any, error) {
	switch code {
	case codeBoolean:
		if raw[0] > 1 {
			return nil, errBadCode
		}
		return raw[0] == 1, nil
	case codeUbyte:
		return raw[0], nil
	case codeByte:
		return int8(raw[0]), nil
	case codeSmallUint:
		return uint32(raw[0]), nil
	case codeSmallUlong:
		return uint64(raw[0]), nil
	case codeSmallInt:
		return int32(int8(raw[0])), nil
	case codeSmallLong:
		return int64(int8(raw[0])), nil
	case codeUshort:
		return binary.BigEndian.Uint16(raw), nil
	case codeShort:
		return int16(binary.BigEndian.Uint16(raw)), nil
	case codeUint:
		return binary.BigEndian.Uint32(raw), nil
	case codeInt:
		return int32(binary.BigEndian.Uint32(raw)), nil
	case codeFloat:
		return math.Float32frombits(binary.BigEndian.Uint32(raw)), nil
	case codeChar:
		return Char(binary.BigEndian.Uint32(raw)), nil
	case codeDecimal32:
		return Decimal32(raw), nil
	case codeUlong:
		return binary.BigEndian.Uint64(raw), nil
	case codeLong:
		return int64(binary.BigEndian.Uint64(raw)), nil
	case codeDouble:
		return math.Float64frombits(binary.BigEndian.Uint64(raw)), nil
	case codeTimestamp:
		return time.UnixMilli(int64(binary.BigEndian.Uint64(raw))).UTC(), nil
	case codeDecimal64:
		return Decimal64(raw), nil
	case codeDecimal128:
		return Decimal128(raw), nil
	case codeUUID:
		return UUID(raw), nil
	}
	return nil, errBadCode
}

// sized reads a length (one byte or four) and that many bytes.
func (d *decoder) sized(short bool) ([]byte, error) {
	var n int
	if short {
		c, err := d.byte()
		if err != nil {
			return nil, err
		}
		n = int(c)
	} else {
		raw, err := d.take(4)
		if err != nil {
			return nil, err
		}
		n = int(binary.BigEndian.Uint32(raw))
	}
	return d.take(n)
}
