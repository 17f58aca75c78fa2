package amqp

import "encoding/binary"

// compound decodes a list, map or array: its size bounds a sub-decoder that
// must be consumed exactly, and its count is checked against the bytes
// before the elements are allocated.
func (d *decoder) compound(code byte) (any, error) {
	if d.depth++; d.depth > maxDepth {
		return nil, errTooDeep
	}
	defer func() { d.depth-- }()
	short := code&0xf0 == 0xc0 || code == codeArray8
	body, err := d.sized(short)
	if err != nil {
		return nil, err
	}
	sub := decoder{b: body, depth: d.depth, limit: d.limit}
	var count int
	if short {
		c, err := sub.byte()
		if err != nil {
			return nil, err
		}
		count = int(c)
	} else {
		raw, err := sub.take(4)
		if err != nil {
			return nil, err
		}
		count = int(binary.BigEndian.Uint32(raw))
	}
	var v any
	switch code {
	case codeList8, codeList32:
		v, err = sub.list(count)
	case codeMap8, codeMap32:
		v, err = sub.mapBody(count)
	default:
		v, err = sub.array(count)
	}
	if err == nil && len(sub.b) != 0 {
		err = errShort
	}
	return v, err
}

func (d *decoder) list(count int) ([]any, error) {
	if count > len(d.b) { // every element has at least its constructor
		return nil, errCount
	}
	l := make([]any, count)
	for i := range l {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		l[i] = v
	}
	return l, nil
}

func (d *decoder) mapBody(count int) (map[any]any, error) {
	if count%2 != 0 {
		return nil, errOddMap
	}
	if count > len(d.b) {
		return nil, errCount
	}
	m := make(map[any]any, count/2)
	for i := 0; i < count; i += 2 {
		k, err := d.value()
		if err != nil {
			return nil, err
		}
		if !keyable(k) {
			return nil, errMapKey
		}
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			return nil, errDupKey
		}
		m[k] = v
	}
	return m, nil
}

// keyable reports whether k can be a Go map key: binary, lists, maps,
// arrays and described values cannot (they would panic as keys), so a map
// keyed by one is refused. AMQP maps in practice are keyed by symbols,
// strings and ulongs.
func keyable(k any) bool {
	switch k.(type) {
	case []byte, []any, map[any]any, Array, Described, composite:
		return false
	}
	return true
}

func (d *decoder) array(count int) (Array, error) {
	var a Array
	code, err := d.byte()
	if err != nil {
		return a, err
	}
	if code == codeDescribed {
		if a.Descriptor, err = d.descriptor(); err != nil {
			return a, err
		}
		if code, err = d.byte(); err != nil {
			return a, err
		}
	}
	if code == codeDescribed || fixedWidth(code) < 0 && !variableCode(code) {
		return a, errBadCode
	}
	limit := len(d.b)
	if fixedWidth(code) == 0 {
		limit = d.limit // zero-width elements: bounded by the whole input
	}
	if count > limit {
		return a, errCount
	}
	a.Code = normalArrayCode(code)
	a.Elems = make([]any, count)
	for i := range a.Elems {
		if a.Elems[i], err = d.body(code); err != nil {
			return a, err
		}
	}
	return a, nil
}

// normalArrayCode is the constructor an array keeps after decoding:
// compound elements are re-encoded in their 32-bit form (see widen).
func normalArrayCode(code byte) byte {
	switch code {
	case codeList0, codeList8:
		return codeList32
	case codeMap8:
		return codeMap32
	case codeArray8:
		return codeArray32
	}
	return code
}
