package emulator

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"unicode/utf8"

	"github.com/hubspec/hubspec/hub"
)

// The digital twin REST operations ("Service - Digital Twin" of the IoT Hub
// REST reference, api-version 2021-04-12; PYHUB's digital_twin_operations):
// GET and PATCH /digitaltwins/{id}, and the commands, POST
// /digitaltwins/{id}[/components/{component}]/commands/{command}. The
// digital twin of a device is its device twin seen by the Plug and Play
// conventions (pnp_twin.go, pnp_patch.go); a command is a direct method
// named {command} or {component}*{command} (methods.go).

// weakETag is the digital twin's ETag header: the REST reference calls it a
// "Weak Etag", of the twin's etag.
func weakETag(etag string) http.Header {
	return http.Header{"Etag": {`W/"` + etag + `"`}}
}

// getDigitalTwin answers 200 with the digital twin and its ETag.
func (h *restHandler) getDigitalTwin(_ *http.Request, ids []string) (restResult, error) {
	doc, err := h.reg.getDigitalTwin(ids[0])
	if err != nil {
		return restResult{}, err
	}
	return restResult{status: http.StatusOK, body: doc.body, header: weakETag(doc.etag)}, nil
}

// patchDigitalTwin answers 202 Accepted with no body, the new ETag and the
// digital twin's Location, as the REST reference does (PYHUB accepts 202
// only).
func (h *restHandler) patchDigitalTwin(r *http.Request, ids []string) (restResult, error) {
	body, err := readBody(r)
	if err != nil {
		return restResult{}, err
	}
	etag, err := h.reg.patchDigitalTwin(ids[0], body, ifMatch(r))
	if err != nil {
		return restResult{}, err
	}
	hdr := weakETag(etag)
	hdr.Set("Location", "https://"+h.hostName+"/digitaltwins/"+url.PathEscape(ids[0]))
	return restResult{status: http.StatusAccepted, header: hdr}, nil
}

// invokeCommand calls a command: 200 with the device's payload as the body
// (null when it answered none) and its status in x-ms-command-statuscode;
// refusals are the direct method's (404 DeviceNotOnline, 504
// GatewayTimeout, ...).
func (h *restHandler) invokeCommand(r *http.Request, ids []string) (restResult, error) {
	body, err := readBody(r)
	if err != nil {
		return restResult{}, err
	}
	name := ids[len(ids)-1]
	if len(ids) == 3 {
		name = ids[1] + "*" + ids[2] // a component's command, as the device receives it
	}
	call, err := parseCommandCall(name, body, r.URL.Query())
	if err != nil {
		return restResult{}, err
	}
	answer, err := h.methods.invoke(r.Context(), identity{deviceID: ids[0]}, call)
	if err != nil {
		return restResult{}, err
	}
	payload := []byte(answer.payload)
	if payload == nil {
		payload = []byte("null")
	}
	hdr := http.Header{}
	hdr.Set("x-ms-command-statuscode", strconv.Itoa(answer.status))
	hdr.Set("x-ms-request-id", newRequestID())
	return restResult{status: http.StatusOK, body: payload, header: hdr}, nil
}

// parseCommandCall is a command as a direct method call: the body is the
// payload (none, or JSON of at most 128 KB), the timeouts are query
// parameters with the direct methods' ranges and defaults.
func parseCommandCall(name string, body []byte, q url.Values) (methodCall, error) {
	if err := checkMethodName(name); err != nil {
		return methodCall{}, err
	}
	call := methodCall{name: name}
	if len(body) > 0 {
		if !utf8.Valid(body) || !json.Valid(body) {
			return methodCall{}, hub.ErrIotHubFormatError.WithMessage("The request body is not valid JSON.")
		}
		if len(body) > maxMethodPayload {
			return methodCall{}, hub.ErrArgumentInvalid.WithMessage("'payload' size should be at most %d bytes; it is %d bytes.", maxMethodPayload, len(body))
		}
		if !isJSONNull(body) {
			call.payload = body
		}
	}
	fields := map[string]json.RawMessage{}
	for _, k := range []string{"responseTimeoutInSeconds", "connectTimeoutInSeconds"} {
		if v := q.Get(k); v != "" {
			fields[k] = json.RawMessage(v)
		}
	}
	var err error
	if call.responseTimeout, err = timeoutSeconds(fields, "responseTimeoutInSeconds", defaultMethodResponseSeconds, minMethodResponseSeconds, maxMethodResponseSeconds); err != nil {
		return methodCall{}, err
	}
	if call.connectTimeout, err = timeoutSeconds(fields, "connectTimeoutInSeconds", 0, 0, maxMethodConnectSeconds); err != nil {
		return methodCall{}, err
	}
	return call, nil
}

// newRequestID is a random UUID (version 4), the shape of the hub's
// x-ms-request-id ("Server Generated Request Id (GUID)").
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// getDigitalTwin renders the digital twin of a device; 404 DeviceNotFound
// when there is none (a digital twin is a device's: modules have none).
func (r *registry) getDigitalTwin(deviceID string) (twinDoc, error) {
	var snap twinSnapshot
	err := r.locked(func() error {
		d, st, err := r.findIdentity(deviceID, "")
		if err == nil {
			snap = snapshotTwin(d, st, "")
		}
		return err
	})
	if err != nil {
		return twinDoc{}, err
	}
	return renderDigitalTwin(deviceID, snap)
}

// patchDigitalTwin applies a digital twin patch as one service write of the
// device twin's desired properties (mergeServiceWrite: one desired $version,
// one push to the device, one twin-change event) and returns the twin's new
// etag. If-Match is checked against the twin's etag.
func (r *registry) patchDigitalTwin(deviceID string, body []byte, cond precondition) (string, error) {
	ops, err := parseDigitalTwinPatch(body)
	if err != nil {
		return "", err
	}
	var etag string
	err = r.write(deviceID, func() error {
		_, st, err := r.twinForWrite(deviceID, "", cond)
		if err != nil {
			return err
		}
		patch, err := desiredPatch(ops, st.twin.desired.values, st.twin.reported.values)
		if err != nil {
			return err
		}
		if err := validateSection(patch, "properties.desired"); err != nil {
			return err
		}
		if err := r.mergeServiceWrite(deviceID, "", st.twin, serviceWrite{desired: patch, hasDesired: true}); err != nil {
			return err
		}
		etag = st.twin.etagString()
		return nil
	})
	return etag, err
}
