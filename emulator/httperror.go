package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/hubspec/hubspec/hub"
)

const jsonContentType = "application/json; charset=utf-8"

// Generic errors of the REST front end, with the codes of the hub's error
// catalogue (MicrosoftDocs azure-docs articles/iot-hub/troubleshoot-error-codes.md,
// 2026): they are not in package hub's table because no SDK maps them.
var (
	errNoRoute          = &hub.Error{StatusCode: http.StatusNotFound, Code: 404000, Name: "GenericNotFound"}
	errMethodNotAllowed = &hub.Error{StatusCode: http.StatusMethodNotAllowed, Code: 405000, Name: "GenericMethodNotAllowed"}
	errBodyTooLarge     = &hub.Error{StatusCode: http.StatusRequestEntityTooLarge, Code: 413000, Name: "GenericRequestEntityTooLarge"}
	// errJobExists answers a job id already used. No source names the
	// hub's error for it: 409 with a generic code in the pattern of the
	// catalogue's 404000 and 405000 is our own choice.
	errJobExists = &hub.Error{StatusCode: http.StatusConflict, Code: 409000, Name: "GenericConflict"}
)

// writeError is the one place REST errors are written: the status, the
// iothub-errorcode header that the C# SDK checks the body's code against,
// and a body in the shape real hubs send (the fidelity table's "Error
// shape" and "REST auth failure" rows). Anything that is not a *hub.Error
// is a 500 ServerError whose detail stays in the log.
func writeError(w http.ResponseWriter, err error, now time.Time) {
	e, ok := hub.AsError(err)
	if !ok {
		e = hub.ErrServerError.WithMessage("The server encountered an internal error.")
	}
	body := errorBody(e, newTrackingID(), now)
	h := w.Header()
	h.Set("iothub-errorcode", e.Name)
	h.Set("Content-Type", jsonContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.StatusCode)
	_, _ = w.Write(body)
}

// errorBody renders an error. 401s use the legacy shape every logged real
// 401 has (2017–2022: "ErrorCode:IotHubUnauthorizedAccess;Unauthorized" plus
// a tracking id with a .NET-style timestamp); all others use the modern
// shape, whose "Message" is a JSON string holding {errorCode, trackingId,
// message, timestampUtc, info}. Every official SDK handles both.
func errorBody(e *hub.Error, trackingID string, now time.Time) []byte {
	body := struct {
		Message          string
		ExceptionMessage string
	}{}
	if e.StatusCode == http.StatusUnauthorized {
		body.Message = "ErrorCode:" + e.Name + ";Unauthorized"
		body.ExceptionMessage = "Tracking ID:" + trackingID + "-G:0-TimeStamp:" + now.UTC().Format("01/02/2006 15:04:05")
	} else {
		body.Message = string(hub.ErrorDetailJSON(e, trackingID, now.UTC().Format(hub.MetadataTimeFormat)))
	}
	b, _ := json.Marshal(body) // two strings: cannot fail
	return b
}

// newTrackingID is a tracking id like the hub's: 32 lower-case hex digits.
// The MQTT layer uses it for twin error bodies too.
func newTrackingID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
