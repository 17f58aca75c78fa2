package emulator

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// appendJSON appends v as encoding/json renders it without HTML escaping
// (encodeJSON), byte for byte; marshalJSON is built on it. Twin
// sections, tags and their $metadata are trees of what decodeObject gives
// (map[string]any, []any, string, json.Number, bool, nil) and of the
// registry's own strings and counters; encoding/json renders those through
// reflection, sorting each map's keys into a fresh slice, which made it the
// largest cost of a twin write after the network (the REST answer, the
// desired patch and the twin-change event each render the twin or part of
// it). Those types are written here directly; anything else (a struct, a
// float) goes to encoding/json, whose output for a value nested in a tree
// is the same as for the value alone.
func appendJSON(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case string:
		return appendJSONString(dst, x), nil
	case json.Number:
		if x == "" {
			return append(dst, '0'), nil // as encoding/json writes an empty Number
		}
		if !validJSONNumber(string(x)) {
			break // encoding/json's error
		}
		return append(dst, x...), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case map[string]any:
		if x == nil {
			return append(dst, "null"...), nil
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			dst = appendKey(dst, i, k)
			var err error
			if dst, err = appendJSON(dst, x[k]); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	case []any:
		if x == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendJSON(dst, e); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	}
	b, err := encodeJSON(v)
	if err != nil {
		return nil, err
	}
	return append(dst, b...), nil
}

// appendKey appends the key of an object's i-th member (from 0) sorted as
// encoding/json sorts a map's: a comma before all but the first, the key
// quoted, a colon.
func appendKey(dst []byte, i int, k string) []byte {
	if i > 0 {
		dst = append(dst, ',')
	}
	return append(appendJSONString(dst, k), ':')
}

// encodeJSON is encoding/json's rendering without HTML escaping and
// without the Encoder's trailing newline.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// appendJSONString appends s quoted. A string of printable ASCII without
// '"' or '\' (ids, timestamps, most values) is copied as is; any other
// goes to encoding/json, which decides its escapes (control characters,
// invalid UTF-8, U+2028 and U+2029).
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			b, _ := encodeJSON(s) // a string always encodes
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// validJSONNumber reports whether s is a JSON number, the check
// encoding/json makes before it writes a json.Number as is.
func validJSONNumber(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' {
		s = s[1:]
		if s == "" {
			return false
		}
	}
	switch {
	case s[0] == '0':
		s = s[1:]
	case '1' <= s[0] && s[0] <= '9':
		s = trimDigits(s[1:])
	default:
		return false
	}
	if len(s) >= 2 && s[0] == '.' && isDigit(s[1]) {
		s = trimDigits(s[2:])
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s[0] == '+' || s[0] == '-' {
			s = s[1:]
			if s == "" {
				return false
			}
		}
		s = trimDigits(s)
	}
	return s == ""
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func trimDigits(s string) string {
	for s != "" && isDigit(s[0]) {
		s = s[1:]
	}
	return s
}
