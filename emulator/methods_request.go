package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hubspec/hubspec/hub"
)

// The rules a direct method call must keep (the fidelity table's "Direct
// methods" rows say where each comes from).
const (
	// maxMethodPayload bounds the payload of a request and of an answer:
	// "a JSON document up to 128 KB" (Microsoft's direct methods doc).
	maxMethodPayload = 128 << 10
	// maxMethodNameBytes is our own bound, far below MQTT's 65535-byte
	// topic names: no source gives the hub's.
	maxMethodNameBytes = 1024

	defaultMethodResponseSeconds = 30
	minMethodResponseSeconds     = 5
	maxMethodResponseSeconds     = 300
	maxMethodConnectSeconds      = 300
	// maxMethodWait is the longest a call can wait: its connect timeout,
	// then its response timeout.
	maxMethodWait = (maxMethodConnectSeconds + maxMethodResponseSeconds) * time.Second
)

// methodNameForbidden are the printable ASCII characters a method name may
// not hold: the set Microsoft's direct methods doc excludes, plus MQTT's
// wildcards '+' and '#', which no topic name may carry (MQTT 3.1.1
// §4.7.1), and a method name travels in one.
const methodNameForbidden = `$()<>@,;:\"/[]?={}+#`

// parseMethodCall reads the body of POST .../methods, the SDKs'
// CloudToDeviceMethod: {"methodName", "payload", "responseTimeoutInSeconds",
// "connectTimeoutInSeconds"}. Unknown members are ignored. A body that is
// not JSON is 400 IotHubFormatError; every other breach is 400
// ArgumentInvalid with the hub's words where they are known.
func parseMethodCall(body []byte) (methodCall, error) {
	var fields map[string]json.RawMessage
	switch {
	case !utf8.Valid(body) || !json.Valid(body):
		return methodCall{}, hub.ErrIotHubFormatError.WithMessage("The request body is not valid JSON.")
	case json.Unmarshal(body, &fields) != nil || fields == nil:
		return methodCall{}, hub.ErrArgumentInvalid.WithMessage("The request body must be a JSON object.")
	}
	var name string
	if raw := fields["methodName"]; !isJSONNull(raw) {
		if json.Unmarshal(raw, &name) != nil {
			return methodCall{}, hub.ErrArgumentInvalid.WithMessage("methodName must be a string.")
		}
	}
	if err := checkMethodName(name); err != nil {
		return methodCall{}, err
	}
	call := methodCall{name: name}
	if raw := fields["payload"]; !isJSONNull(raw) {
		if len(raw) > maxMethodPayload {
			return methodCall{}, hub.ErrArgumentInvalid.WithMessage("'payload' size should be at most %d bytes; it is %d bytes.", maxMethodPayload, len(raw))
		}
		call.payload = raw
	}
	response, err := timeoutSeconds(fields, "responseTimeoutInSeconds", defaultMethodResponseSeconds, minMethodResponseSeconds, maxMethodResponseSeconds)
	if err != nil {
		return methodCall{}, err
	}
	connect, err := timeoutSeconds(fields, "connectTimeoutInSeconds", 0, 0, maxMethodConnectSeconds)
	if err != nil {
		return methodCall{}, err
	}
	call.responseTimeout, call.connectTimeout = response, connect
	return call, nil
}

// checkMethodName applies the hub's rules to a method name: not empty
// ("methodName is null or empty.", a real hub's answer in
// Azure/azure-iot-sdk-csharp#1086), printable ASCII without the characters
// of methodNameForbidden, and at most maxMethodNameBytes long.
func checkMethodName(name string) error {
	if name == "" {
		return hub.ErrArgumentInvalid.WithMessage("methodName is null or empty.")
	}
	if len(name) > maxMethodNameBytes {
		return hub.ErrArgumentInvalid.WithMessage("methodName is longer than %d characters.", maxMethodNameBytes)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' || strings.IndexByte(methodNameForbidden, c) >= 0 {
			return hub.ErrArgumentInvalid.WithMessage("methodName %q: a method name is printable US-ASCII without spaces or any of %s.", name, methodNameForbidden)
		}
	}
	return nil
}

// timeoutSeconds reads a whole number of seconds; absent or null is def.
// Out of [lo; hi], or not an integer, is 400 ArgumentInvalid in the words
// a real hub answered for responseTimeoutInSeconds
// (Azure/azure-iot-sdk-csharp#724: "responseTimeoutInSeconds must be within
// [5; 300].").
func timeoutSeconds(fields map[string]json.RawMessage, name string, def, lo, hi int64) (time.Duration, error) {
	n := def
	if raw := fields[name]; !isJSONNull(raw) {
		var err error
		if n, err = strconv.ParseInt(string(raw), 10, 64); err != nil {
			n = lo - 1 // not an integer: out of range all the same
		}
	}
	if n < lo || n > hi {
		return 0, hub.ErrArgumentInvalid.WithMessage("%s must be within [%d; %d].", name, lo, hi)
	}
	return time.Duration(n) * time.Second, nil
}

func isJSONNull(raw json.RawMessage) bool {
	return raw == nil || bytes.Equal(raw, []byte("null"))
}

// parseMethodAnswer reads an identity's answer to a method call: the
// status from $iothub/methods/res/{status}/?$rid=..., which must be an
// integer, and a body that is empty or valid JSON of at most
// maxMethodPayload bytes (Microsoft's IoT Hub MQTT doc, "Respond to a
// direct method"). Anything else is no answer: the hub drops it.
func parseMethodAnswer(topic string, body []byte) (methodAnswer, error) {
	path, _, _ := strings.Cut(strings.TrimPrefix(topic, "$iothub/"), "?")
	status, ok := strings.CutPrefix(path, "methods/res/")
	status = strings.TrimSuffix(status, "/")
	n, err := strconv.ParseInt(status, 10, 32)
	switch {
	case !ok || err != nil:
		return methodAnswer{}, errBadMethodAnswer("the status %q is not an integer", status)
	case len(body) > maxMethodPayload:
		return methodAnswer{}, errBadMethodAnswer("the payload is %d bytes, over %d", len(body), maxMethodPayload)
	case len(body) == 0:
		return methodAnswer{status: int(n)}, nil
	case !utf8.Valid(body) || !json.Valid(body):
		return methodAnswer{}, errBadMethodAnswer("the payload is not JSON")
	}
	return methodAnswer{status: int(n), payload: json.RawMessage(body)}, nil
}

func errBadMethodAnswer(format string, args ...any) error {
	return fmt.Errorf("not an answer: "+format, args...)
}
