package emulator

import (
	"errors"
	"net/http"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/internal/iotquery"
)

// queryTwins serves POST /devices/query ("Query - Get Twins" in the IoT
// Hub REST reference): the body is {"query": "..."}, x-ms-max-item-count
// asks for a page size and x-ms-continuation carries the token of the
// page before; the answer is a JSON array with x-ms-item-type and, when
// more pages follow, x-ms-continuation. The Python service SDK
// (azure-iot-hub's IoTHubRegistryManager.query_iot_hub) sends exactly
// this and reads those two headers back.
func (h *restHandler) queryTwins(r *http.Request, _ []string) (restResult, error) {
	body, err := readBody(r)
	if err != nil {
		return restResult{}, err
	}
	var spec struct {
		Query *string `json:"query"`
	}
	if err := decodeObject(body, &spec); err != nil {
		return restResult{}, err
	}
	if spec.Query == nil || *spec.Query == "" {
		return restResult{}, hub.ErrArgumentNull.WithMessage("The query specification has no query.")
	}
	q, err := iotquery.Parse(*spec.Query, iotquery.Options{Fold: foldTwinPath})
	if err != nil {
		var se *iotquery.SyntaxError
		if errors.As(err, &se) {
			return restResult{}, hub.ErrArgumentInvalid.WithMessage("SQL query parse failed due to following errors: %s", se)
		}
		return restResult{}, err
	}
	size, err := pageSize(r.Header.Get("x-ms-max-item-count"))
	if err != nil {
		return restResult{}, err
	}
	state, err := decodeContinuation(r.Header.Get("x-ms-continuation"), q)
	if err != nil {
		return restResult{}, err
	}
	page, err := h.reg.query(q, size, state)
	if err != nil {
		return restResult{}, err
	}
	hdr := http.Header{}
	hdr.Set("x-ms-item-type", page.itemType)
	if page.next != "" {
		hdr.Set("x-ms-continuation", page.next)
	}
	return restResult{status: http.StatusOK, body: page.body, header: hdr}, nil
}
