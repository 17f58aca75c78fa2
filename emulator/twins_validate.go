package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hubspec/hubspec/hub"
)

// Twin document limits (Microsoft's device twin doc, DOC-TWIN, and IoT Hub
// quotas doc, DOC-QUOTA; the same numbers are in edgeHub's
// ReportedPropertiesValidator, "taken from IoTHub"; the fidelity table's
// Twins rows).
const (
	maxKeyBytes     = 1024
	maxStringBytes  = 4096
	maxDepth        = 10
	maxSafeInt      = 1<<52 - 1
	minSafeInt      = -(1 << 52)
	maxTagsSize     = 8 * 1024
	maxDesiredSize  = 32 * 1024
	maxReportedSize = 32 * 1024
)

// decodeObject decodes one JSON object into v. Syntax errors, an empty body
// and trailing data are 400 IotHubFormatError (400006: "JSON that cannot be
// parsed", CS ErrorCode.cs); valid JSON of the wrong shape (not an object, a
// field of the wrong type) is 400 ArgumentInvalid (400004). Numbers decode as
// json.Number so they round-trip exactly. Bytes that are not UTF-8 make the
// body not JSON (RFC 8259 §8.1): 400 IotHubFormatError, rather than
// encoding/json's silent U+FFFD, which would store something the client
// never sent (docs/fidelity.md, "Invalid UTF-8").
func decodeObject(data []byte, v any) error {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return hub.ErrIotHubFormatError.WithMessage("The request body is empty; a JSON object is required.")
	}
	if !utf8.Valid(data) {
		return hub.ErrIotHubFormatError.WithMessage("The body is not valid JSON: it is not UTF-8.")
	}
	if trimmed[0] != '{' {
		if json.Valid(data) {
			return hub.ErrArgumentInvalid.WithMessage("The body must be a JSON object.")
		}
		return hub.ErrIotHubFormatError.WithMessage("The body is not valid JSON.")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return hub.ErrArgumentInvalid.WithMessage("Field '%s' has the wrong JSON type %s.", typeErr.Field, typeErr.Value)
		}
		return hub.ErrIotHubFormatError.WithMessage("The body is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return hub.ErrIotHubFormatError.WithMessage("The body has data after the JSON object.")
	}
	return nil
}

// decodeSection decodes a twin section (tags, desired or a reported patch)
// from raw JSON: absent or null gives (nil, false).
func decodeSection(raw json.RawMessage, name string) (map[string]any, bool, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, false, nil
	}
	var m map[string]any
	if err := decodeObject(raw, &m); err != nil {
		if e, ok := hub.AsError(err); ok && e.Code == hub.ErrArgumentInvalid.Code {
			return nil, false, hub.ErrArgumentInvalid.WithMessage("%s must be a JSON object.", name)
		}
		return nil, false, err
	}
	return m, true, nil
}

// validateSection checks every key and value of a section or patch (null
// members allowed: they delete). Depth counts object levels below the
// section root: a member's object value is level 1, and level 10 is the
// deepest object allowed — DOC-TWIN's example of ten nested objects holding
// a leaf is valid, one more is not (edgeHub counts the same way). Arrays do
// not add a level.
func validateSection(m map[string]any, name string) error {
	return validateObject(m, 0, name)
}

func validateObject(m map[string]any, depth int, path string) error {
	for k, v := range m {
		if err := validateKey(k, path); err != nil {
			return err
		}
		if err := validateValue(v, depth, path+"."+k, false); err != nil {
			return err
		}
	}
	return nil
}

func validateValue(v any, depth int, path string, inArray bool) error {
	switch v := v.(type) {
	case nil:
		if inArray {
			return hub.ErrArgumentInvalid.WithMessage("%s: arrays cannot contain null.", path)
		}
	case map[string]any:
		if depth+1 > maxDepth {
			return hub.ErrArgumentInvalid.WithMessage("%s: nesting is deeper than %d levels.", path, maxDepth)
		}
		return validateObject(v, depth+1, path)
	case []any:
		for i, e := range v {
			if err := validateValue(e, depth, path+"["+strconv.Itoa(i)+"]", true); err != nil {
				return err
			}
		}
	case string:
		if len(v) > maxStringBytes {
			return hub.ErrArgumentInvalid.WithMessage("%s: string value is %d bytes, more than %d.", path, len(v), maxStringBytes)
		}
	case json.Number:
		return validateNumber(v, path)
	case bool:
	default:
		return hub.ErrArgumentInvalid.WithMessage("%s: unsupported value type %T.", path, v)
	}
	return nil
}

// validateKey applies DOC-TWIN's key rules: non-empty, at most 1 KB of
// UTF-8, no '.', '$', space or control characters (C0, DEL, C1) anywhere.
func validateKey(k, path string) error {
	switch {
	case k == "":
		return hub.ErrArgumentInvalid.WithMessage("%s: property names cannot be empty.", path)
	case len(k) > maxKeyBytes:
		return hub.ErrArgumentInvalid.WithMessage("%s: property name is %d bytes, more than %d.", path, len(k), maxKeyBytes)
	case strings.HasPrefix(k, "$"):
		return hub.ErrArgumentInvalid.WithMessage("%s: property name '%s' is invalid: names starting with '$' are reserved.", path, k)
	}
	for _, c := range k {
		if c == '.' || c == '$' || c == ' ' || unicode.IsControl(c) {
			return hub.ErrArgumentInvalid.WithMessage("%s: property name %q contains the invalid character %q.", path, k, c)
		}
	}
	return nil
}

// validateNumber keeps integers within ±2^52 (what a double holds exactly);
// a literal with '.', 'e' or 'E' is a float and only has to be finite.
func validateNumber(n json.Number, path string) error {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil || i > maxSafeInt || i < minSafeInt {
			return hub.ErrArgumentInvalid.WithMessage("%s: integer %s is outside %d..%d.", path, s, int64(minSafeInt), int64(maxSafeInt))
		}
		return nil
	}
	if f, err := strconv.ParseFloat(s, 64); err != nil || math.IsInf(f, 0) {
		return hub.ErrArgumentInvalid.WithMessage("%s: number %s is out of range.", path, s)
	}
	return nil
}

// sectionSize is DOC-TWIN's size: the sum of key lengths and value sizes,
// strings counted in characters (control characters excluded), numbers as 8
// bytes, booleans as 4, objects and arrays recursively; $version and
// $metadata are not stored in the values and so never count.
func sectionSize(m map[string]any) int {
	n := 0
	for k, v := range m {
		n += charCount(k) + valueSize(v)
	}
	return n
}

func valueSize(v any) int {
	switch v := v.(type) {
	case string:
		return charCount(v)
	case json.Number:
		return 8
	case bool:
		return 4
	case map[string]any:
		return sectionSize(v)
	case []any:
		n := 0
		for _, e := range v {
			n += valueSize(e)
		}
		return n
	}
	return 0
}

func charCount(s string) int {
	n := utf8.RuneCountInString(s)
	for _, c := range s {
		if unicode.IsControl(c) {
			n--
		}
	}
	return n
}

func checkSize(m map[string]any, name string, limit int) error {
	if n := sectionSize(m); n > limit {
		return hub.ErrArgumentInvalid.WithMessage("The %s section would be %d bytes, more than the %d allowed.", name, n, limit)
	}
	return nil
}
