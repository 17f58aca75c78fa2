package amqp

import (
	"bytes"
	"encoding/binary"
	"math"
	"sort"
	"time"
)

// Marshal encodes a Go value as one AMQP value. It accepts the Go types the
// decoder produces (see Unmarshal), plus int, uint, map[string]any,
// map[Symbol]any and []Symbol for convenience, and the composite types of
// this package (performatives, termini, outcomes, message sections).
func Marshal(v any) ([]byte, error) { return appendValue(nil, v) }

func appendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
func appendU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// appendValue appends v with the most compact constructor that holds it.
func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, codeNull), nil
	case bool:
		if v {
			return append(b, codeTrue), nil
		}
		return append(b, codeFalse), nil
	case uint8:
		return append(b, codeUbyte, v), nil
	case uint16:
		return binary.BigEndian.AppendUint16(append(b, codeUshort), v), nil
	case uint32:
		return appendUint(b, v), nil
	case uint64:
		return appendUlong(b, v), nil
	case uint:
		return appendUlong(b, uint64(v)), nil
	case int8:
		return append(b, codeByte, byte(v)), nil
	case int16:
		return binary.BigEndian.AppendUint16(append(b, codeShort), uint16(v)), nil
	case int32:
		if v >= math.MinInt8 && v <= math.MaxInt8 {
			return append(b, codeSmallInt, byte(v)), nil
		}
		return appendU32(append(b, codeInt), uint32(v)), nil
	case int64:
		return appendLong(b, v), nil
	case int:
		return appendLong(b, int64(v)), nil
	case float32:
		return appendU32(append(b, codeFloat), math.Float32bits(v)), nil
	case float64:
		return appendU64(append(b, codeDouble), math.Float64bits(v)), nil
	case Decimal32:
		return append(append(b, codeDecimal32), v[:]...), nil
	case Decimal64:
		return append(append(b, codeDecimal64), v[:]...), nil
	case Decimal128:
		return append(append(b, codeDecimal128), v[:]...), nil
	case Char:
		return appendU32(append(b, codeChar), uint32(v)), nil
	case time.Time:
		return appendU64(append(b, codeTimestamp), uint64(v.UnixMilli())), nil
	case UUID:
		return append(append(b, codeUUID), v[:]...), nil
	case []byte:
		return appendVariable(b, codeVbin8, codeVbin32, v), nil
	case string:
		return appendVariable(b, codeStr8, codeStr32, []byte(v)), nil
	case Symbol:
		return appendVariable(b, codeSym8, codeSym32, []byte(v)), nil
	case []any:
		return appendList(b, v)
	case []Symbol:
		a := Array{Code: codeSym32, Elems: make([]any, len(v))}
		for i, s := range v {
			a.Elems[i] = s
		}
		return appendArray(b, a)
	case Array:
		return appendArray(b, v)
	case map[any]any:
		return appendMap(b, len(v), func(yield func(k, v any) bool) {
			for k, e := range v {
				if !yield(k, e) {
					return
				}
			}
		})
	case map[string]any:
		return appendMap(b, len(v), func(yield func(k, v any) bool) {
			for k, e := range v {
				if !yield(k, e) {
					return
				}
			}
		})
	case map[Symbol]any:
		return appendMap(b, len(v), func(yield func(k, v any) bool) {
			for k, e := range v {
				if !yield(k, e) {
					return
				}
			}
		})
	case Described:
		if !validValueDescriptor(v.Descriptor) {
			return b, errDescriptor
		}
		b, err := appendValue(append(b, codeDescribed), v.Descriptor)
		if err != nil {
			return b, err
		}
		return appendValue(b, v.Value)
	case composite:
		return appendComposite(b, v)
	}
	return b, errUnencodable
}

// validValueDescriptor is what a described value may carry as descriptor:
// what the decoder accepts (anyDescriptor), so a value received can be
// echoed (a source's filter in the attach that answers it).
func validValueDescriptor(d any) bool {
	switch d.(type) {
	case nil, Described, composite:
		return false
	}
	return true
}

func validDescriptor(d any) bool {
	switch d.(type) {
	case uint64, Symbol:
		return true
	}
	return false
}

func appendUint(b []byte, v uint32) []byte {
	switch {
	case v == 0:
		return append(b, codeUint0)
	case v <= math.MaxUint8:
		return append(b, codeSmallUint, byte(v))
	}
	return appendU32(append(b, codeUint), v)
}

func appendUlong(b []byte, v uint64) []byte {
	switch {
	case v == 0:
		return append(b, codeUlong0)
	case v <= math.MaxUint8:
		return append(b, codeSmallUlong, byte(v))
	}
	return appendU64(append(b, codeUlong), v)
}

func appendLong(b []byte, v int64) []byte {
	if v >= math.MinInt8 && v <= math.MaxInt8 {
		return append(b, codeSmallLong, byte(v))
	}
	return appendU64(append(b, codeLong), uint64(v))
}

func appendVariable(b []byte, short, long byte, v []byte) []byte {
	if len(v) <= math.MaxUint8 {
		b = append(b, short, byte(len(v)))
	} else {
		b = appendU32(append(b, long), uint32(len(v)))
	}
	return append(b, v...)
}

// appendCompound writes the constructor, size and count of a list, map or
// array around the body that fill appends, choosing the 8-bit form when the
// body allows it.
func appendCompound(b []byte, short, long byte, count int, fill func([]byte) ([]byte, error)) ([]byte, error) {
	start := len(b)
	b = append(b, long, 0, 0, 0, 0, 0, 0, 0, 0)
	b, err := fill(b)
	if err != nil {
		return b, err
	}
	body := len(b) - start - 9
	if body+1 <= math.MaxUint8 && count <= math.MaxUint8 {
		b[start], b[start+1], b[start+2] = short, byte(body+1), byte(count)
		copy(b[start+3:], b[start+9:])
		return b[:len(b)-6], nil
	}
	binary.BigEndian.PutUint32(b[start+1:], uint32(body+4))
	binary.BigEndian.PutUint32(b[start+5:], uint32(count))
	return b, nil
}

func appendList(b []byte, l []any) ([]byte, error) {
	if len(l) == 0 {
		return append(b, codeList0), nil
	}
	return appendCompound(b, codeList8, codeList32, len(l), func(b []byte) ([]byte, error) {
		var err error
		for _, e := range l {
			if b, err = appendValue(b, e); err != nil {
				return b, err
			}
		}
		return b, nil
	})
}

// appendMap writes the pairs sorted by their encoded keys, so that one map
// always encodes to the same bytes (Go's map order is random) and a decode
// followed by an encode is stable, which the fuzz targets check.
func appendMap(b []byte, n int, pairs func(yield func(k, v any) bool)) ([]byte, error) {
	type kv struct {
		key []byte
		val any
	}
	sorted := make([]kv, 0, n)
	var err error
	pairs(func(k, v any) bool {
		var kb []byte
		if kb, err = appendValue(nil, k); err == nil {
			sorted = append(sorted, kv{kb, v})
		}
		return err == nil
	})
	if err != nil {
		return b, err
	}
	sort.Slice(sorted, func(i, j int) bool { return bytes.Compare(sorted[i].key, sorted[j].key) < 0 })
	return appendCompound(b, codeMap8, codeMap32, 2*len(sorted), func(b []byte) ([]byte, error) {
		var err error
		for _, p := range sorted {
			if b, err = appendValue(append(b, p.key...), p.val); err != nil {
				return b, err
			}
		}
		return b, nil
	})
}
