package hub

import (
	"bytes"
	"errors"
	"testing"
)

// TestParseError covers every error body shape seen from real hubs: the
// modern JSON-in-a-string Message, the nested object, the legacy
// "ErrorCode:Name;text" and bare status answers.
func TestParseError(t *testing.T) {
	for _, tc := range []struct {
		name, header, body string
		status             int
		want               *Error
		message, tracking  string
	}{
		{
			name: "modern REST body", status: 409, header: "ModuleAlreadyExistsOnDevice",
			body:    `{"Message":"{\"errorCode\":409301,\"trackingId\":\"abc\",\"message\":\"Device d in IotHub h already contains Module m.\",\"timestampUtc\":\"2025-01-01T00:00:00.000Z\",\"info\":null}","ExceptionMessage":""}`,
			want:    ErrModuleAlreadyExistsOnDevice,
			message: "Device d in IotHub h already contains Module m.", tracking: "abc",
		},
		{
			name: "legacy REST body", status: 409, header: "DeviceAlreadyExists",
			body:    `{"Message":"ErrorCode:DeviceAlreadyExists;Conflict","ExceptionMessage":"Tracking ID:e4cb1234-G:11-TimeStamp:07/16/2016 00:12:41"}`,
			want:    ErrDeviceAlreadyExists,
			message: "Conflict", tracking: "e4cb1234",
		},
		{
			name: "legacy 401 without header", status: 401,
			body:    `{"Message":"ErrorCode:IotHubUnauthorizedAccess;Unauthorized","ExceptionMessage":"Tracking ID:0123-G:0-TimeStamp:01/01/2025 00:00:00"}`,
			want:    ErrUnauthorized,
			message: "Unauthorized", tracking: "0123",
		},
		{
			name: "nested object", status: 400,
			body:    `{"Message":{"errorCode":400030,"trackingId":"t","message":"bad"},"ExceptionMessage":""}`,
			want:    &Error{Code: 400030},
			message: "bad", tracking: "t",
		},
		{
			name: "MQTT twin response body", status: 400,
			body:    `{"errorCode":400006,"trackingId":"t2","message":"The body is not valid JSON.","timestampUtc":"x"}`,
			want:    ErrIotHubFormatError,
			message: "The body is not valid JSON.", tracking: "t2",
		},
		{name: "bare 429", status: 429, want: ErrThrottled},
		{name: "bare 412", status: 412, want: ErrPreconditionFailed},
		{name: "text body", status: 502, body: "Bad Gateway", want: &Error{StatusCode: 502}, message: "Bad Gateway"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseError(tc.status, tc.header, []byte(tc.body))
			if !errors.Is(got, tc.want) {
				t.Errorf("ParseError = %v; does not match %v", got, tc.want)
			}
			if got.StatusCode != tc.status || got.Message != tc.message || got.TrackingID != tc.tracking {
				t.Errorf("ParseError = %+v; want status %d, message %q, tracking id %q", got, tc.status, tc.message, tc.tracking)
			}
		})
	}
}

func TestErrorIsMatchesByCodeNameOrStatus(t *testing.T) {
	wrapped := errors.Join(errors.New("context"), ErrDeviceNotFound.WithMessage("gone"))
	if !errors.Is(wrapped, ErrDeviceNotFound) || errors.Is(wrapped, ErrModuleNotFound) {
		t.Fatal("code match broken")
	}
	if errors.Is(&Error{StatusCode: 404, Name: "DeviceNotFound"}, ErrModuleNotFound) {
		t.Fatal("name-only error matched another name")
	}
	if !errors.Is(&Error{StatusCode: 502}, &Error{StatusCode: 502}) || errors.Is(&Error{StatusCode: 502}, ErrServerError) {
		t.Fatal("status-only match broken")
	}
}

// TestErrorInfoRoundTrip: the "info" object of an error body survives the
// writer and the parser, and an error without one is written with {}.
func TestErrorInfoRoundTrip(t *testing.T) {
	e := ErrGatewayTimeout.WithMessage("Timed out waiting for the response from device.").WithInfo([]byte(`{"timeout":"00:00:30"}`))
	body := ErrorDetailJSON(e, "t", "x")
	got := ParseError(504, "", body)
	if !errors.Is(got, ErrGatewayTimeout) || string(got.Info) != `{"timeout":"00:00:30"}` {
		t.Fatalf("ParseError(%s) = %+v, info %s", body, got, got.Info)
	}
	plain := ErrorDetailJSON(ErrDeviceNotFound.WithMessage("d"), "t", "x")
	if got := ParseError(404, "", plain); got.Info != nil {
		t.Fatalf("ParseError(%s) has info %s, want none", plain, got.Info)
	}
	if want := `"info":{}`; !bytes.Contains(plain, []byte(want)) {
		t.Fatalf("ErrorDetailJSON without info = %s, want %s in it", plain, want)
	}
}
