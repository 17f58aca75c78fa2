package amqp

import (
	"encoding/binary"
	"math"
	"time"
)

// appendArray writes an array: one constructor, then every element's body
// in that constructor's encoding (part 1, section 1.6.24). The elements
// must all fit Code; a decoded Array always does.
func appendArray(b []byte, a Array) ([]byte, error) {
	return appendCompound(b, codeArray8, codeArray32, len(a.Elems), func(b []byte) ([]byte, error) {
		var err error
		if a.Descriptor != nil {
			if !validDescriptor(a.Descriptor) {
				return b, errDescriptor
			}
			if b, err = appendValue(append(b, codeDescribed), a.Descriptor); err != nil {
				return b, err
			}
		}
		if a.Code == codeDescribed || fixedWidth(a.Code) < 0 && !variableCode(a.Code) {
			return b, errUnencodable
		}
		b = append(b, a.Code)
		for _, e := range a.Elems {
			if b, err = appendBody(b, a.Code, e); err != nil {
				return b, err
			}
		}
		return b, nil
	})
}

func variableCode(code byte) bool {
	switch code {
	case codeVbin8, codeStr8, codeSym8, codeVbin32, codeStr32, codeSym32,
		codeList8, codeList32, codeMap8, codeMap32, codeArray8, codeArray32:
		return true
	}
	return false
}

// appendBody writes v in exactly the encoding of code, without the
// constructor: what an array element is.
func appendBody(b []byte, code byte, v any) ([]byte, error) {
	ok := true
	switch code {
	case codeNull:
		ok = v == nil
	case codeTrue, codeFalse:
		ok = v == (code == codeTrue)
	case codeBoolean:
		x, is := v.(bool)
		ok = is
		if x {
			b = append(b, 1)
		} else if is {
			b = append(b, 0)
		}
	case codeUbyte:
		x, is := v.(uint8)
		ok, b = is, append(b, x)
	case codeByte:
		x, is := v.(int8)
		ok, b = is, append(b, byte(x))
	case codeUshort:
		x, is := v.(uint16)
		ok, b = is, binary.BigEndian.AppendUint16(b, x)
	case codeShort:
		x, is := v.(int16)
		ok, b = is, binary.BigEndian.AppendUint16(b, uint16(x))
	case codeUint0, codeSmallUint, codeUint:
		x, is := v.(uint32)
		ok = is && (code == codeUint || code == codeSmallUint && x <= math.MaxUint8 || x == 0)
		b = appendSized(b, code, uint64(x))
	case codeUlong0, codeSmallUlong, codeUlong:
		x, is := v.(uint64)
		ok = is && (code == codeUlong || code == codeSmallUlong && x <= math.MaxUint8 || x == 0)
		b = appendSized(b, code, x)
	case codeSmallInt, codeInt:
		x, is := v.(int32)
		ok = is && (code == codeInt || x >= math.MinInt8 && x <= math.MaxInt8)
		b = appendSized(b, code, uint64(x))
	case codeSmallLong, codeLong:
		x, is := v.(int64)
		ok = is && (code == codeLong || x >= math.MinInt8 && x <= math.MaxInt8)
		b = appendSized(b, code, uint64(x))
	case codeFloat:
		x, is := v.(float32)
		ok, b = is, appendU32(b, math.Float32bits(x))
	case codeDouble:
		x, is := v.(float64)
		ok, b = is, appendU64(b, math.Float64bits(x))
	case codeChar:
		x, is := v.(Char)
		ok, b = is, appendU32(b, uint32(x))
	case codeTimestamp:
		x, is := v.(time.Time)
		ok, b = is, appendU64(b, uint64(x.UnixMilli()))
	case codeDecimal32:
		x, is := v.(Decimal32)
		ok, b = is, append(b, x[:]...)
	case codeDecimal64:
		x, is := v.(Decimal64)
		ok, b = is, append(b, x[:]...)
	case codeDecimal128:
		x, is := v.(Decimal128)
		ok, b = is, append(b, x[:]...)
	case codeUUID:
		x, is := v.(UUID)
		ok, b = is, append(b, x[:]...)
	default:
		return appendVariableBody(b, code, v)
	}
	if !ok {
		return b, errUnencodable
	}
	return b, nil
}

// appendSized writes the low bytes of v that code's width holds.
func appendSized(b []byte, code byte, v uint64) []byte {
	switch fixedWidth(code) {
	case 1:
		return append(b, byte(v))
	case 4:
		return appendU32(b, uint32(v))
	case 8:
		return appendU64(b, v)
	}
	return b
}

func appendVariableBody(b []byte, code byte, v any) ([]byte, error) {
	var raw []byte
	switch code {
	case codeVbin8, codeVbin32:
		x, ok := v.([]byte)
		if !ok {
			return b, errUnencodable
		}
		raw = x
	case codeStr8, codeStr32:
		x, ok := v.(string)
		if !ok {
			return b, errUnencodable
		}
		raw = []byte(x)
	case codeSym8, codeSym32:
		x, ok := v.(Symbol)
		if !ok {
			return b, errUnencodable
		}
		raw = []byte(x)
	default:
		// A compound element: encode it alone, widened to the 32-bit form
		// that the decoder normalises every array of compounds to.
		e, err := appendValue(nil, v)
		if err != nil {
			return b, err
		}
		e = widen(e)
		if len(e) == 0 || e[0] != code {
			return b, errUnencodable
		}
		return append(b, e[1:]...), nil
	}
	if code&0xf0 == 0xa0 {
		if len(raw) > math.MaxUint8 {
			return b, errUnencodable
		}
		b = append(b, byte(len(raw)))
	} else {
		b = appendU32(b, uint32(len(raw)))
	}
	return append(b, raw...), nil
}

// widen rewrites a list, map or array encoded in its 8-bit or zero-width
// form into its 32-bit form: arrays of compound values use the 32-bit
// constructors so that every element fits one constructor.
func widen(e []byte) []byte {
	switch e[0] {
	case codeList0:
		return []byte{codeList32, 0, 0, 0, 4, 0, 0, 0, 0}
	case codeList8, codeMap8, codeArray8:
		size, count := int(e[1]), int(e[2])
		out := append([]byte{e[0] + 0x10}, appendU32(appendU32(nil, uint32(size+3)), uint32(count))...)
		return append(out, e[3:]...)
	}
	return e
}
