package amqp

import (
	"errors"
	"fmt"
)

// The AMQP 1.0 primitive type codes (OASIS AMQP 1.0, part 1, section 1.6,
// "Primitive Type Definitions"). The decoder accepts every encoding; the
// encoder writes the most compact one that holds the value.
const (
	codeDescribed  = 0x00
	codeNull       = 0x40
	codeTrue       = 0x41
	codeFalse      = 0x42
	codeUint0      = 0x43
	codeUlong0     = 0x44
	codeList0      = 0x45
	codeBoolean    = 0x56
	codeUbyte      = 0x50
	codeByte       = 0x51
	codeSmallUint  = 0x52
	codeSmallUlong = 0x53
	codeSmallInt   = 0x54
	codeSmallLong  = 0x55
	codeUshort     = 0x60
	codeShort      = 0x61
	codeUint       = 0x70
	codeInt        = 0x71
	codeFloat      = 0x72
	codeChar       = 0x73
	codeDecimal32  = 0x74
	codeUlong      = 0x80
	codeLong       = 0x81
	codeDouble     = 0x82
	codeTimestamp  = 0x83
	codeDecimal64  = 0x84
	codeDecimal128 = 0x94
	codeUUID       = 0x98
	codeVbin8      = 0xa0
	codeStr8       = 0xa1
	codeSym8       = 0xa3
	codeVbin32     = 0xb0
	codeStr32      = 0xb1
	codeSym32      = 0xb3
	codeList8      = 0xc0
	codeMap8       = 0xc1
	codeList32     = 0xd0
	codeMap32      = 0xd1
	codeArray8     = 0xe0
	codeArray32    = 0xf0
)

// Symbol is the AMQP symbol type: ASCII names such as capabilities, error
// conditions and annotation keys. A Go string encodes as an AMQP string.
type Symbol string

// UUID is the AMQP uuid type, 16 bytes in network order.
type UUID [16]byte

// String formats the UUID as RFC 4122 text.
func (u UUID) String() string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// Char is the AMQP char type: one UTF-32BE code point.
type Char rune

// Decimal32, Decimal64 and Decimal128 are the IEEE 754 decimal types, kept
// opaque: nothing in the IoT Hub or Event Hubs protocols computes with them,
// they only have to survive a decode and an encode unchanged.
type (
	Decimal32  [4]byte
	Decimal64  [8]byte
	Decimal128 [16]byte
)

// Described is a described value whose descriptor the registry does not
// know (registry.go knows the performatives, outcomes, termini and SASL
// frames). Filters such as Event Hubs' apache.org:selector-filter:string
// arrive as a Described for the application to interpret. The descriptor is
// a uint64 or a Symbol, the only two kinds the specification allows (part
// 1, section 1.5).
type Described struct {
	Descriptor any
	Value      any
}

// Array is the AMQP array type: elements that share one constructor. Code
// is the element constructor (codeSym32, codeUint, ...) and Descriptor, when
// not nil, makes every element a described value with that descriptor and
// Code as its underlying type. Multiple-valued fields such as capabilities
// are arrays of symbols; SymbolArray builds one.
type Array struct {
	Code       byte
	Descriptor any
	Elems      []any
}

// SymbolArray is an array of symbols, as capabilities and outcome lists are
// sent.
func SymbolArray(syms ...Symbol) Array {
	a := Array{Code: codeSym32, Elems: make([]any, len(syms))}
	for i, s := range syms {
		a.Elems[i] = s
	}
	return a
}

// StringArray is an array of strings, as Event Hubs' $management node
// answers partition_ids.
func StringArray(strs ...string) Array {
	a := Array{Code: codeStr32, Elems: make([]any, len(strs))}
	for i, s := range strs {
		a.Elems[i] = s
	}
	return a
}

// Limits of the decoder. maxDepth bounds the nesting of lists, maps,
// arrays and described values, so a hostile frame of nested list0s cannot
// run the decoder's recursion deep; the sizes themselves are bounded by the
// input, which is bounded by the negotiated max-frame-size.
const maxDepth = 64

// Decoding errors. A decode error on a connection closes it with
// amqp:decode-error (part 2, section 2.8.15).
var (
	errShort       = errors.New("amqp: value runs past the end of its input")
	errTooDeep     = errors.New("amqp: values nested too deep")
	errCount       = errors.New("amqp: element count larger than its encoding allows")
	errBadCode     = errors.New("amqp: unknown type code")
	errDescriptor  = errors.New("amqp: descriptor is neither a ulong nor a symbol")
	errMapKey      = errors.New("amqp: map key of a type that cannot be a key")
	errDupKey      = errors.New("amqp: duplicate map key")
	errOddMap      = errors.New("amqp: map with an odd number of elements")
	errUnencodable = errors.New("amqp: value of a type AMQP cannot encode")
)

// fixedWidth is the size of a fixed-width type's body, or -1 for the
// variable-width and compound codes, which start with a size.
func fixedWidth(code byte) int {
	switch code {
	case codeNull, codeTrue, codeFalse, codeUint0, codeUlong0, codeList0:
		return 0
	case codeBoolean, codeUbyte, codeByte, codeSmallUint, codeSmallUlong, codeSmallInt, codeSmallLong:
		return 1
	case codeUshort, codeShort:
		return 2
	case codeUint, codeInt, codeFloat, codeChar, codeDecimal32:
		return 4
	case codeUlong, codeLong, codeDouble, codeTimestamp, codeDecimal64:
		return 8
	case codeDecimal128, codeUUID:
		return 16
	}
	return -1
}
