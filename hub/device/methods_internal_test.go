package device

import (
	"encoding/json"
	"testing"
)

// TestParseMethodRequest reads the hub's method topics as the Python SDK
// does: the name percent-decoded, the $rid from the query, an empty body
// as no payload.
func TestParseMethodRequest(t *testing.T) {
	for _, tc := range []struct {
		topic, payload, name, rid string
		ok                        bool
	}{
		{"$iothub/methods/POST/reboot/?$rid=1", `{"a":1}`, "reboot", "1", true},
		{"$iothub/methods/POST/fake%24method/?$rid=fake%24request%2Fid", ``, "fake$method", "fake$request/id", true},
		{"$iothub/methods/POST/reboot?$rid=7", `1`, "reboot", "7", true},
		{"$iothub/methods/POST/reboot/", ``, "", "", false},
		{"$iothub/methods/POST//?$rid=1", ``, "", "", false},
	} {
		req, err := parseMethodRequest(tc.topic, []byte(tc.payload))
		if (err == nil) != tc.ok || req.Name != tc.name || req.RequestID != tc.rid {
			t.Errorf("%s: %+v, %v", tc.topic, req, err)
		}
		if tc.ok && (tc.payload == "") != (req.Payload == nil) {
			t.Errorf("%s: payload %q from body %q", tc.topic, req.Payload, tc.payload)
		}
	}
}

func TestResponseBody(t *testing.T) {
	for _, tc := range []struct {
		response any
		want     string
		ok       bool
	}{
		{nil, ``, true},
		{json.RawMessage(nil), ``, true},
		{json.RawMessage(`{"a": 1}`), `{"a": 1}`, true},
		{json.RawMessage(`{`), ``, false},
		{map[string]int{"a": 1}, `{"a":1}`, true},
		{"text", `"text"`, true},
		{func() {}, ``, false},
	} {
		b, err := responseBody(tc.response)
		if (err == nil) != tc.ok || string(b) != tc.want {
			t.Errorf("responseBody(%#v) = %q, %v", tc.response, b, err)
		}
	}
}
