package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The IoT Plug and Play digital twin operations, as the Python service
// SDK's DigitalTwinClient calls them (GET and PATCH /digitaltwins/{id},
// POST /digitaltwins/{id}[/components/{c}]/commands/{command}).

// DigitalTwinPatchOp is one JSON Patch (RFC 6902) operation of
// UpdateDigitalTwin: Op "add", "replace" or "remove", Path "/{property}",
// "/{component}" or "/{component}/{property}", and the Value to set (none
// for remove). A whole component's value carries an empty "$metadata"
// object.
type DigitalTwinPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// CommandRequest is a command call: its JSON payload (nil sends none) and
// the hub's timeouts, as for a direct method (see MethodRequest).
type CommandRequest struct {
	Payload         json.RawMessage
	ResponseTimeout time.Duration
	ConnectTimeout  time.Duration
}

// CommandResult is the device's answer to a command: the status it
// answered with (x-ms-command-statuscode), its JSON payload and the hub's
// request id (x-ms-request-id).
type CommandResult struct {
	Status    int
	Payload   json.RawMessage
	RequestID string
}

func digitalTwinPath(id string) string { return "/digitaltwins/" + escapeID(id) }

// GetDigitalTwin reads the digital twin of a device: the JSON document
// ($dtId, properties, components, $metadata) and its ETag as the hub sent
// it (a weak one, W/"...").
func (c *RegistryClient) GetDigitalTwin(ctx context.Context, deviceID string) (json.RawMessage, string, error) {
	if err := checkIDs(deviceID); err != nil {
		return nil, "", err
	}
	var doc json.RawMessage
	var hdr http.Header
	err := c.do(ctx, restCall{method: http.MethodGet, path: digitalTwinPath(deviceID), ok: []int{200}, out: &doc, gotHeader: &hdr})
	if err != nil {
		return nil, "", fmt.Errorf("get digital twin %s: %w", deviceID, err)
	}
	return doc, hdr.Get("ETag"), nil
}

// UpdateDigitalTwin applies a JSON Patch to a device's digital twin; the hub
// writes it to the desired properties and answers 202 Accepted. etag ""
// or "*" updates unconditionally; any other is sent as If-Match (quoted
// unless it is, W/"..." kept). It returns the digital twin's new ETag.
func (c *RegistryClient) UpdateDigitalTwin(ctx context.Context, deviceID string, patch []DigitalTwinPatchOp, etag string) (string, error) {
	if err := checkIDs(deviceID); err != nil {
		return "", err
	}
	if patch == nil {
		patch = []DigitalTwinPatchOp{}
	}
	var hdr http.Header
	err := c.do(ctx, restCall{method: http.MethodPatch, path: digitalTwinPath(deviceID), body: patch,
		ifMatch: ifMatch(etag), ok: []int{202}, gotHeader: &hdr})
	if err != nil {
		return "", fmt.Errorf("update digital twin %s: %w", deviceID, err)
	}
	return hdr.Get("ETag"), nil
}

// InvokeCommand calls a command of the device's default component: the
// direct method named command. Refusals are a direct method's (see
// InvokeDeviceMethod).
func (c *RegistryClient) InvokeCommand(ctx context.Context, deviceID, command string, req CommandRequest) (*CommandResult, error) {
	res, err := c.invokeCommand(ctx, digitalTwinPath(deviceID)+"/commands/"+escapeID(command), req, deviceID, command)
	if err != nil {
		return nil, fmt.Errorf("invoke command %q on device %s: %w", command, deviceID, err)
	}
	return res, nil
}

// InvokeComponentCommand calls a command of one of the device's
// components: the direct method named {component}*{command}.
func (c *RegistryClient) InvokeComponentCommand(ctx context.Context, deviceID, component, command string, req CommandRequest) (*CommandResult, error) {
	path := digitalTwinPath(deviceID) + "/components/" + escapeID(component) + "/commands/" + escapeID(command)
	res, err := c.invokeCommand(ctx, path, req, deviceID, component, command)
	if err != nil {
		return nil, fmt.Errorf("invoke command %q of component %q on device %s: %w", command, component, deviceID, err)
	}
	return res, nil
}

func (c *RegistryClient) invokeCommand(ctx context.Context, path string, req CommandRequest, ids ...string) (*CommandResult, error) {
	if err := checkIDs(ids...); err != nil {
		return nil, err
	}
	if req.Payload != nil && !json.Valid(req.Payload) {
		return nil, errors.New("the payload is not JSON")
	}
	q := url.Values{}
	if s := seconds(req.ResponseTimeout); s != nil {
		q.Set("responseTimeoutInSeconds", strconv.FormatInt(*s, 10))
	}
	if s := seconds(req.ConnectTimeout); s != nil {
		q.Set("connectTimeoutInSeconds", strconv.FormatInt(*s, 10))
	}
	var body any
	if req.Payload != nil {
		body = req.Payload
	}
	var out json.RawMessage
	var hdr http.Header
	if err := c.do(ctx, restCall{method: http.MethodPost, path: path, query: q, body: body, ok: []int{200}, out: &out, gotHeader: &hdr}); err != nil {
		return nil, err
	}
	status, err := strconv.Atoi(hdr.Get("x-ms-command-statuscode"))
	if err != nil {
		return nil, fmt.Errorf("the answer's x-ms-command-statuscode %q is not a status", hdr.Get("x-ms-command-statuscode"))
	}
	return &CommandResult{Status: status, Payload: out, RequestID: hdr.Get("x-ms-request-id")}, nil
}
