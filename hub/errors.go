package hub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Error is an error answered by an IoT hub: over REST (HTTP status, the
// iothub-errorcode header and a JSON body) or over MQTT (the status in the
// $iothub/twin/res/{status} topic and a JSON body).
//
// The package-level sentinels (ErrDeviceNotFound, ...) match any *Error with
// the same IoT Hub code through errors.Is, so callers write
//
//	if errors.Is(err, hub.ErrDeviceAlreadyExists) { ... }
type Error struct {
	// StatusCode is the HTTP status (or the MQTT twin response status).
	StatusCode int
	// Code is the 6-digit IoT Hub error code, e.g. 404001.
	Code int
	// Name is the iothub-errorcode name, e.g. "DeviceNotFound".
	Name string
	// Message is the human-readable text the hub sent.
	Message string
	// TrackingID is the hub's tracking id, when it sent one.
	TrackingID string
	// Info is the error's "info" object as the hub sent it, e.g.
	// {"timeout":"00:00:30"} on a direct method that timed out; nil when
	// it sent none or an empty one.
	Info json.RawMessage
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "iothub: %d", e.StatusCode)
	if e.Name != "" {
		fmt.Fprintf(&b, " %s", e.Name)
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, " (%d)", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	return b.String()
}

// Is reports whether target is an *Error for the same IoT Hub error: same
// 6-digit code when both carry one, otherwise same name, otherwise (for
// errors that carry neither) same HTTP status.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	switch {
	case e.Code != 0 && t.Code != 0:
		return e.Code == t.Code
	case e.Name != "" && t.Name != "":
		return e.Name == t.Name
	default:
		return t.Code == 0 && t.Name == "" && e.StatusCode == t.StatusCode
	}
}

// WithMessage returns a copy of a sentinel carrying a specific message, which
// is how the emulator builds the errors it answers.
func (e *Error) WithMessage(format string, args ...any) *Error {
	c := *e
	c.Message = fmt.Sprintf(format, args...)
	return &c
}

// WithInfo returns a copy of e carrying info, the error's "info" object
// (e.g. {"timeout":"00:00:30"}).
func (e *Error) WithInfo(info json.RawMessage) *Error {
	c := *e
	c.Info = info
	return &c
}

// The IoT Hub errors Hubspec knows by name. Codes and names come from the
// C# service SDK's ErrorCode.cs (Microsoft.Azure.Devices.Common.Exceptions);
// one table drives the emulator's error writer and the clients' parser.
// The configuration errors are the exception: ErrorCode.cs lists none, the
// names are the hub's (InvalidConfigurationContent: a real answer quoted in
// Azure/azure-iot-sdk-csharp#2419) and the numbers are Hubspec's
// (docs/fidelity.md, "Configurations").
var (
	ErrInvalidOperation                = &Error{StatusCode: 400, Code: 400003, Name: "InvalidOperation"}
	ErrArgumentInvalid                 = &Error{StatusCode: 400, Code: 400004, Name: "ArgumentInvalid"}
	ErrArgumentNull                    = &Error{StatusCode: 400, Code: 400005, Name: "ArgumentNull"}
	ErrIotHubFormatError               = &Error{StatusCode: 400, Code: 400006, Name: "IotHubFormatError"}
	ErrDeviceDefinedMultipleTimes      = &Error{StatusCode: 400, Code: 400011, Name: "DeviceDefinedMultipleTimes"}
	ErrBulkRegistryOperationFailure    = &Error{StatusCode: 400, Code: 400013, Name: "BulkRegistryOperationFailure"}
	ErrInvalidConfigurationContent     = &Error{StatusCode: 400, Code: 400030, Name: "InvalidConfigurationContent"}
	ErrConnectionForcefullyClosedOnNew = &Error{StatusCode: 400, Code: 400027, Name: "ConnectionForcefullyClosedOnNewConnection"}
	ErrUnauthorized                    = &Error{StatusCode: 401, Code: 401002, Name: "IotHubUnauthorizedAccess"}
	ErrQuotaExceeded                   = &Error{StatusCode: 403, Code: 403002, Name: "IotHubQuotaExceeded"}
	ErrJobQuotaExceeded                = &Error{StatusCode: 403, Code: 403003, Name: "JobQuotaExceeded"}
	ErrDeviceMaximumQueueDepthExceeded = &Error{StatusCode: 403, Code: 403004, Name: "DeviceMaximumQueueDepthExceeded"}
	ErrDeviceNotFound                  = &Error{StatusCode: 404, Code: 404001, Name: "DeviceNotFound"}
	ErrJobNotFound                     = &Error{StatusCode: 404, Code: 404002, Name: "JobNotFound"}
	ErrModuleNotFound                  = &Error{StatusCode: 404, Code: 404010, Name: "ModuleNotFound"}
	ErrConfigurationNotFound           = &Error{StatusCode: 404, Code: 404011, Name: "ConfigurationNotFound"}
	ErrDeviceNotOnline                 = &Error{StatusCode: 404, Code: 404103, Name: "DeviceNotOnline"}
	ErrDeviceConnectionClosedRemotely  = &Error{StatusCode: 404, Code: 404104, Name: "DeviceConnectionClosedRemotely"}
	ErrDeviceAlreadyExists             = &Error{StatusCode: 409, Code: 409001, Name: "DeviceAlreadyExists"}
	ErrModuleAlreadyExistsOnDevice     = &Error{StatusCode: 409, Code: 409301, Name: "ModuleAlreadyExistsOnDevice"}
	ErrConfigurationAlreadyExists      = &Error{StatusCode: 409, Code: 409005, Name: "ConfigurationAlreadyExists"}
	ErrPreconditionFailed              = &Error{StatusCode: 412, Code: 412001, Name: "PreconditionFailed"}
	ErrDeviceMessageLockLost           = &Error{StatusCode: 412, Code: 412002, Name: "DeviceMessageLockLost"}
	ErrMessageTooLarge                 = &Error{StatusCode: 413, Code: 413001, Name: "MessageTooLarge"}
	ErrTooManyDevices                  = &Error{StatusCode: 413, Code: 413002, Name: "TooManyDevices"}
	ErrTooManyModulesOnDevice          = &Error{StatusCode: 413, Code: 413003, Name: "TooManyModulesOnDevice"}
	ErrThrottled                       = &Error{StatusCode: 429, Code: 429001, Name: "ThrottlingException"}
	ErrServerError                     = &Error{StatusCode: 500, Code: 500001, Name: "ServerError"}
	ErrServiceUnavailable              = &Error{StatusCode: 503, Code: 503001, Name: "ServiceUnavailable"}
	ErrGatewayTimeout                  = &Error{StatusCode: 504, Code: 504101, Name: "GatewayTimeout"}
)

var knownErrors = []*Error{
	ErrInvalidOperation, ErrArgumentInvalid, ErrArgumentNull, ErrIotHubFormatError,
	ErrDeviceDefinedMultipleTimes, ErrBulkRegistryOperationFailure, ErrConnectionForcefullyClosedOnNew,
	ErrUnauthorized, ErrQuotaExceeded, ErrJobQuotaExceeded, ErrDeviceMaximumQueueDepthExceeded,
	ErrDeviceNotFound, ErrJobNotFound, ErrModuleNotFound, ErrDeviceNotOnline, ErrDeviceConnectionClosedRemotely,
	ErrDeviceAlreadyExists, ErrModuleAlreadyExistsOnDevice, ErrPreconditionFailed,
	ErrMessageTooLarge, ErrTooManyDevices, ErrTooManyModulesOnDevice,
	ErrThrottled, ErrServerError, ErrServiceUnavailable, ErrGatewayTimeout,
	ErrConfigurationNotFound, ErrConfigurationAlreadyExists, ErrInvalidConfigurationContent,
	ErrDeviceMessageLockLost,
}

// LookupErrorName returns the known error with this iothub-errorcode name.
func LookupErrorName(name string) (*Error, bool) {
	for _, e := range knownErrors {
		if e.Name == name {
			return e, true
		}
	}
	return nil, false
}

// LookupErrorCode returns the known error with this 6-digit code.
func LookupErrorCode(code int) (*Error, bool) {
	for _, e := range knownErrors {
		if e.Code == code {
			return e, true
		}
	}
	return nil, false
}

// errorDetail is the object a hub puts in its error bodies: inside the
// "Message" string of a REST body (the modern shape), or bare in an MQTT
// twin response body.
type errorDetail struct {
	ErrorCode    int             `json:"errorCode"`
	TrackingID   string          `json:"trackingId"`
	Message      string          `json:"message"`
	TimestampUTC string          `json:"timestampUtc,omitempty"`
	Info         json.RawMessage `json:"info,omitempty"`
}

// ParseError turns an error answer into an *Error. It understands every body
// shape seen from real hubs: the modern shape whose
// "Message" is a JSON string holding {errorCode, trackingId, message}, the
// same object nested rather than quoted, the legacy "ErrorCode:Name;text"
// message, and the bare object MQTT twin responses carry. headerName is the
// iothub-errorcode header ("" over MQTT). Unknown shapes still give an
// *Error with the status and the raw body as message.
func ParseError(status int, headerName string, body []byte) *Error {
	e := &Error{StatusCode: status, Name: headerName}
	var d errorDetail
	var rest struct {
		Message          json.RawMessage `json:"Message"`
		ExceptionMessage string          `json:"ExceptionMessage"`
	}
	// The bare object goes first: Go matches JSON names case-insensitively,
	// so its "message" would also fill the REST wrapper's "Message".
	switch {
	case json.Unmarshal(body, &d) == nil && d.ErrorCode != 0:
		e.fill(d)
	case json.Unmarshal(body, &rest) == nil && len(rest.Message) > 0:
		var msg string
		if json.Unmarshal(rest.Message, &msg) == nil {
			if json.Unmarshal([]byte(msg), &d) == nil && d.ErrorCode != 0 {
				e.fill(d)
			} else {
				e.parseLegacy(msg, rest.ExceptionMessage)
			}
		} else if json.Unmarshal(rest.Message, &d) == nil {
			e.fill(d)
		}
	default:
		e.Message = strings.TrimSpace(string(body))
	}
	e.complete()
	return e
}

func (e *Error) fill(d errorDetail) {
	e.Code, e.Message, e.TrackingID = d.ErrorCode, d.Message, d.TrackingID
	if info := bytes.TrimSpace(d.Info); len(info) > 0 && !bytes.Equal(info, []byte("null")) && !bytes.Equal(info, []byte("{}")) {
		e.Info = info
	}
}

// parseLegacy reads "ErrorCode:DeviceAlreadyExists;A device with ID ...".
func (e *Error) parseLegacy(msg, exception string) {
	e.Message = msg
	if name, text, ok := strings.Cut(strings.TrimPrefix(msg, "ErrorCode:"), ";"); ok && strings.HasPrefix(msg, "ErrorCode:") {
		if e.Name == "" {
			e.Name = name
		}
		e.Message = text
	}
	if id, ok := strings.CutPrefix(exception, "Tracking ID:"); ok {
		e.TrackingID, _, _ = strings.Cut(id, "-G:")
	}
}

// complete fills the code from the name or the name from the code, using the
// known table, so errors.Is works whichever of the two the hub sent.
func (e *Error) complete() {
	if e.Code == 0 && e.Name != "" {
		if k, ok := LookupErrorName(e.Name); ok {
			e.Code = k.Code
		}
	}
	if e.Name == "" && e.Code != 0 {
		if k, ok := LookupErrorCode(e.Code); ok {
			e.Name = k.Name
		}
	}
	if e.Code == 0 && e.Name == "" {
		if k, ok := statusOnly[e.StatusCode]; ok {
			e.Code, e.Name = k.Code, k.Name
		}
	}
}

// statusOnly names the error an answer without header or body means, for
// the statuses IoT Hub uses for one error only (a bare 429 from a gateway
// is still throttling).
var statusOnly = map[int]*Error{
	401: ErrUnauthorized,
	412: ErrPreconditionFailed,
	429: ErrThrottled,
	500: ErrServerError,
	503: ErrServiceUnavailable,
}

// ErrorDetailJSON encodes the {errorCode, trackingId, message, timestampUtc,
// info} object the hub uses inside REST error bodies and as MQTT twin error
// bodies; info is e.Info, or {} when it has none.
func ErrorDetailJSON(e *Error, trackingID, timestampUTC string) []byte {
	info := json.RawMessage("{}")
	if json.Valid(e.Info) {
		info = e.Info
	}
	b, _ := json.Marshal(errorDetail{
		ErrorCode: e.Code, TrackingID: trackingID, Message: e.Message,
		TimestampUTC: timestampUTC, Info: info,
	})
	return b
}

// AsError returns err as an *Error when it is (or wraps) one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// StatusText is "404 DeviceNotFound (404001)", handy in step failures.
func (e *Error) StatusText() string {
	return strconv.Itoa(e.StatusCode) + " " + e.Name + " (" + strconv.Itoa(e.Code) + ")"
}
