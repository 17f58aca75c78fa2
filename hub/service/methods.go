package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// MethodRequest is a direct method call, the body the service SDKs send
// (their CloudToDeviceMethod: methodName, payload, responseTimeoutInSeconds,
// connectTimeoutInSeconds).
type MethodRequest struct {
	// MethodName is the method to call. The hub refuses an empty name and
	// names with spaces, non-ASCII characters or any of $()<>@,;:\"/[]?={}.
	MethodName string
	// Payload is the call's JSON payload, sent as it is (compacted); nil
	// sends null, which the device receives as an empty body.
	Payload json.RawMessage
	// ResponseTimeout is how long the hub waits for the device's answer,
	// in whole seconds (a fraction counts as a second); 0 leaves it to the
	// hub, which waits 30 s. The hub allows 5 s to 300 s.
	ResponseTimeout time.Duration
	// ConnectTimeout is how long the hub waits for the device to come
	// online (connected and subscribed to method calls); 0 means it must
	// be online already. The hub allows up to 300 s.
	ConnectTimeout time.Duration
}

// MethodResult is the device's answer: the status it answered with and
// its JSON payload (null when it sent none).
type MethodResult struct {
	Status  int             `json:"status"`
	Payload json.RawMessage `json:"payload"`
}

// methodBody is MethodRequest on the wire. Timeouts of 0 are left out, as
// the C# SDK does, so the hub applies its defaults.
type methodBody struct {
	MethodName      string          `json:"methodName"`
	Payload         json.RawMessage `json:"payload"`
	ResponseTimeout *int64          `json:"responseTimeoutInSeconds,omitempty"`
	ConnectTimeout  *int64          `json:"connectTimeoutInSeconds,omitempty"`
}

// seconds is d in whole seconds, a fraction rounded away from zero; nil
// for 0.
func seconds(d time.Duration) *int64 {
	if d == 0 {
		return nil
	}
	s := int64(d / time.Second)
	if d%time.Second > 0 {
		s++
	} else if d%time.Second < 0 {
		s--
	}
	return &s
}

// InvokeDeviceMethod calls a direct method on a device (POST
// /twins/{id}/methods) and returns its answer once the device has given
// it. The hub's refusals are *hub.Error: 404 DeviceNotOnline when the
// device is not connected and subscribed to method calls within the
// connect timeout, 504 GatewayTimeout when it does not answer within the
// response timeout, 400 for a bad name, timeout or payload, 404
// DeviceNotFound for an unknown device. ctx bounds the wait too.
func (c *RegistryClient) InvokeDeviceMethod(ctx context.Context, deviceID string, req MethodRequest) (*MethodResult, error) {
	res, err := c.invokeMethod(ctx, deviceTwinPath(deviceID)+"/methods", req, deviceID)
	if err != nil {
		return nil, fmt.Errorf("invoke method %q on device %s: %w", req.MethodName, deviceID, err)
	}
	return res, nil
}

// InvokeModuleMethod calls a direct method on a module (POST
// /twins/{id}/modules/{mid}/methods); see InvokeDeviceMethod.
func (c *RegistryClient) InvokeModuleMethod(ctx context.Context, deviceID, moduleID string, req MethodRequest) (*MethodResult, error) {
	res, err := c.invokeMethod(ctx, moduleTwinPath(deviceID, moduleID)+"/methods", req, deviceID, moduleID)
	if err != nil {
		return nil, fmt.Errorf("invoke method %q on module %s/%s: %w", req.MethodName, deviceID, moduleID, err)
	}
	return res, nil
}

func (c *RegistryClient) invokeMethod(ctx context.Context, path string, req MethodRequest, ids ...string) (*MethodResult, error) {
	if err := checkIDs(ids...); err != nil {
		return nil, err
	}
	if req.Payload != nil && !json.Valid(req.Payload) {
		return nil, errors.New("the payload is not JSON")
	}
	body := methodBody{MethodName: req.MethodName, Payload: req.Payload,
		ResponseTimeout: seconds(req.ResponseTimeout), ConnectTimeout: seconds(req.ConnectTimeout)}
	var out MethodResult
	if err := c.do(ctx, restCall{method: http.MethodPost, path: path, body: body, ok: []int{200}, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}
