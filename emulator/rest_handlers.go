package emulator

import (
	"net/http"
	"strconv"

	"github.com/hubspec/hubspec/hub"
)

// buildRoutes is the REST surface (the registry and twin operations of the
// IoT Hub REST reference, "Service - Devices" and "Service - Modules") with
// the permission each operation needs (DOC-SAS, Microsoft's IoT Hub access
// control doc; the fidelity table's "REST permissions" row): registry reads
// RegistryRead, registry writes RegistryWrite, everything under /twins
// ServiceConnect, as are twin queries and direct methods. Any api-version is
// accepted: the SDKs send 2020-09-30 or 2021-04-12 and the shapes agree.
func (h *restHandler) buildRoutes() []route {
	read, write, service := permRegistryRead, permRegistryWrite, permServiceConnect
	return []route{
		{[]string{"devices"}, map[string]operation{
			http.MethodGet:  {perm: read, serve: h.listDevices},
			http.MethodPost: {perm: write, serve: h.bulkDevices},
		}},
		// Twin queries need ServiceConnect: DOC-SAS lists "run queries"
		// among what ServiceConnect grants, beside reading twins.
		{[]string{"devices", "query"}, map[string]operation{
			http.MethodPost: {perm: service, serve: h.queryTwins},
		}},
		{[]string{"devices", "*"}, map[string]operation{
			http.MethodGet:    {perm: read, serve: h.getDevice},
			http.MethodPut:    {perm: write, serve: h.putDevice},
			http.MethodDelete: {perm: write, serve: h.deleteDevice},
		}},
		{[]string{"devices", "*", "commands"}, map[string]operation{
			http.MethodDelete: {perm: service, serve: h.purgeCommands},
		}},
		{[]string{"devices", "*", "modules"}, map[string]operation{
			http.MethodGet: {perm: read, serve: h.listModules},
		}},
		{[]string{"devices", "*", "modules", "*"}, map[string]operation{
			http.MethodGet:    {perm: read, serve: h.getModule},
			http.MethodPut:    {perm: write, serve: h.putModule},
			http.MethodDelete: {perm: write, serve: h.deleteModule},
		}},
		{[]string{"twins", "*"}, map[string]operation{
			http.MethodGet:   {perm: service, serve: h.getTwin},
			http.MethodPatch: {perm: service, serve: h.patchTwin},
			http.MethodPut:   {perm: service, serve: h.replaceTwin},
		}},
		{[]string{"twins", "*", "modules", "*"}, map[string]operation{
			http.MethodGet:   {perm: service, serve: h.getTwin},
			http.MethodPatch: {perm: service, serve: h.patchTwin},
			http.MethodPut:   {perm: service, serve: h.replaceTwin},
		}},
		{[]string{"twins", "*", "methods"}, map[string]operation{
			http.MethodPost: {perm: service, serve: h.invokeMethod, waits: true},
		}},
		{[]string{"twins", "*", "modules", "*", "methods"}, map[string]operation{
			http.MethodPost: {perm: service, serve: h.invokeMethod, waits: true},
		}},
		// Scheduled jobs run twin updates and direct methods, both
		// ServiceConnect operations (DOC-SAS), so they need ServiceConnect.
		{[]string{"jobs", "v2", "query"}, map[string]operation{
			http.MethodGet: {perm: service, serve: h.queryJobs},
		}},
		{[]string{"jobs", "v2", "*"}, map[string]operation{
			http.MethodGet: {perm: service, serve: h.getJob},
			http.MethodPut: {perm: service, serve: h.putJob},
		}},
		{[]string{"jobs", "v2", "*", "cancel"}, map[string]operation{
			http.MethodPost: {perm: service, serve: h.cancelJob},
		}},
		{[]string{"statistics", "devices"}, map[string]operation{
			http.MethodGet: {perm: read, serve: h.statistics},
		}},
		// The service statistics' permission is undocumented: ServiceConnect,
		// which DOC-SAS says grants the service-facing monitoring endpoints.
		{[]string{"statistics", "service"}, map[string]operation{
			http.MethodGet: {perm: service, serve: h.serviceStatistics},
		}},
		// Feedback over HTTPS (c2d_feedback_http.go): ServiceConnect, as
		// over AMQP.
		{[]string{"messages", "serviceBound", "feedback"}, map[string]operation{
			http.MethodGet: {perm: service, serve: h.receiveFeedback},
		}},
		{[]string{"messages", "serviceBound", "feedback", "*"}, map[string]operation{
			http.MethodDelete: {perm: service, serve: h.completeFeedback},
		}},
		{[]string{"messages", "serviceBound", "feedback", "*", "abandon"}, map[string]operation{
			http.MethodPost: {perm: service, serve: h.abandonFeedback},
		}},
		// Configurations are registry data: reading them (and testing
		// their queries) needs RegistryRead, changing them RegistryWrite.
		{[]string{"configurations"}, map[string]operation{
			http.MethodGet: {perm: read, serve: h.listConfigurations},
		}},
		{[]string{"configurations", "testQueries"}, map[string]operation{
			http.MethodPost: {perm: read, serve: h.testConfigurationQueries},
		}},
		{[]string{"configurations", "*"}, map[string]operation{
			http.MethodGet:    {perm: read, serve: h.getConfiguration},
			http.MethodPut:    {perm: write, serve: h.putConfiguration},
			http.MethodDelete: {perm: write, serve: h.deleteConfiguration},
		}},
		// Plug and Play digital twins (pnp_rest.go) are the twins' and
		// the direct methods' operations in another shape: ServiceConnect.
		{[]string{"digitaltwins", "*"}, map[string]operation{
			http.MethodGet:   {perm: service, serve: h.getDigitalTwin},
			http.MethodPatch: {perm: service, serve: h.patchDigitalTwin},
		}},
		{[]string{"digitaltwins", "*", "commands", "*"}, map[string]operation{
			http.MethodPost: {perm: service, serve: h.invokeCommand, waits: true},
		}},
		{[]string{"digitaltwins", "*", "components", "*", "commands", "*"}, map[string]operation{
			http.MethodPost: {perm: service, serve: h.invokeCommand, waits: true},
		}},
	}
}

// jsonResult marshals v as a 200 answer.
func jsonResult(v any, etag string) (restResult, error) {
	b, err := marshalJSON(v)
	if err != nil {
		return restResult{}, err
	}
	return restResult{status: http.StatusOK, body: b, etag: etag}, nil
}

// putDevice answers 200 for create and update alike: PYHUB accepts only 200.
func (h *restHandler) putDevice(r *http.Request, ids []string) (restResult, error) {
	body, err := readBody(r)
	if err != nil {
		return restResult{}, err
	}
	d, err := h.reg.putDevice(ids[0], body, ifMatch(r))
	if err != nil {
		return restResult{}, err
	}
	return jsonResult(d, d.ETag)
}

func (h *restHandler) getDevice(_ *http.Request, ids []string) (restResult, error) {
	d, err := h.reg.getDevice(ids[0])
	if err != nil {
		return restResult{}, err
	}
	return jsonResult(d, d.ETag)
}

func (h *restHandler) deleteDevice(r *http.Request, ids []string) (restResult, error) {
	if err := h.reg.deleteDevice(ids[0], ifMatch(r)); err != nil {
		return restResult{}, err
	}
	return restResult{status: http.StatusNoContent}, nil
}

// listDevices reads ?top=: 1–1000, anything out of range means 1000
// (SWAGGER); a value that is not an integer is 400.
func (h *restHandler) listDevices(r *http.Request, _ []string) (restResult, error) {
	top := 1000
	if s := r.URL.Query().Get("top"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return restResult{}, hub.ErrArgumentInvalid.WithMessage("top '%s' is not an integer.", s)
		}
		if n >= 1 && n <= 1000 {
			top = n
		}
	}
	return jsonResult(h.reg.listDevices(top), "")
}

// putModule answers 200 for create (the swagger allows 200 or 201; 200 is
// what every SDK accepts).
func (h *restHandler) putModule(r *http.Request, ids []string) (restResult, error) {
	body, err := readBody(r)
	if err != nil {
		return restResult{}, err
	}
	m, err := h.reg.putModule(h.hubName, ids[0], ids[1], body, ifMatch(r))
	if err != nil {
		return restResult{}, err
	}
	return jsonResult(m, m.ETag)
}

func (h *restHandler) getModule(_ *http.Request, ids []string) (restResult, error) {
	m, err := h.reg.getModule(ids[0], ids[1])
	if err != nil {
		return restResult{}, err
	}
	return jsonResult(m, m.ETag)
}

func (h *restHandler) listModules(_ *http.Request, ids []string) (restResult, error) {
	ms, err := h.reg.listModules(ids[0])
	if err != nil {
		return restResult{}, err
	}
	return jsonResult(ms, "")
}

func (h *restHandler) deleteModule(r *http.Request, ids []string) (restResult, error) {
	if err := h.reg.deleteModule(ids[0], ids[1], ifMatch(r)); err != nil {
		return restResult{}, err
	}
	return restResult{status: http.StatusNoContent}, nil
}

// bulkDevices is POST /devices, the bulk registry operation.
func (h *restHandler) bulkDevices(r *http.Request, _ []string) (restResult, error) {
	body, err := readBody(r)
	if err != nil {
		return restResult{}, err
	}
	res, err := h.reg.bulk(body)
	if err != nil {
		return restResult{}, err
	}
	return jsonResult(res, "")
}

// purgeCommands empties a device's cloud-to-device queue, answering
// {"totalMessagesPurged":n,"deviceId":id} (the REST API's PurgeMessageQueueResult).
func (h *restHandler) purgeCommands(_ *http.Request, ids []string) (restResult, error) {
	if _, err := h.reg.deviceGeneration(ids[0]); err != nil {
		return restResult{}, err
	}
	return jsonResult(struct {
		TotalMessagesPurged int    `json:"totalMessagesPurged"`
		DeviceID            string `json:"deviceId"`
	}{h.c2d.purge(ids[0]), ids[0]}, "")
}

func (h *restHandler) statistics(*http.Request, []string) (restResult, error) {
	return jsonResult(h.reg.stats(), "")
}

func (h *restHandler) serviceStatistics(*http.Request, []string) (restResult, error) {
	return jsonResult(h.reg.serviceStats(), "")
}

// twinIDs splits the ids of /twins/{d} and /twins/{d}/modules/{m}.
func twinIDs(ids []string) (deviceID, moduleID string) {
	if len(ids) > 1 {
		return ids[0], ids[1]
	}
	return ids[0], ""
}

func twinResult(doc twinDoc, err error) (restResult, error) {
	if err != nil {
		return restResult{}, err
	}
	return restResult{status: http.StatusOK, body: doc.body, etag: doc.etag}, nil
}

func (h *restHandler) getTwin(_ *http.Request, ids []string) (restResult, error) {
	d, m := twinIDs(ids)
	return twinResult(h.reg.getTwin(d, m))
}

func (h *restHandler) patchTwin(r *http.Request, ids []string) (restResult, error) {
	body, err := readBody(r)
	if err != nil {
		return restResult{}, err
	}
	d, m := twinIDs(ids)
	return twinResult(h.reg.patchTwin(d, m, body, ifMatch(r)))
}

func (h *restHandler) replaceTwin(r *http.Request, ids []string) (restResult, error) {
	body, err := readBody(r)
	if err != nil {
		return restResult{}, err
	}
	d, m := twinIDs(ids)
	return twinResult(h.reg.replaceTwin(d, m, body, ifMatch(r)))
}

// invokeMethod is a direct method call on a device or a module: 200
// {"status", "payload"} with the identity's answer, or the hub's refusal
// (methods.go).
func (h *restHandler) invokeMethod(r *http.Request, ids []string) (restResult, error) {
	body, err := readBody(r)
	if err != nil {
		return restResult{}, err
	}
	call, err := parseMethodCall(body)
	if err != nil {
		return restResult{}, err
	}
	d, m := twinIDs(ids)
	answer, err := h.methods.invoke(r.Context(), identity{deviceID: d, moduleID: m}, call)
	if err != nil {
		return restResult{}, err
	}
	b, err := answer.resultJSON()
	if err != nil {
		return restResult{}, err
	}
	return restResult{status: http.StatusOK, body: b}, nil
}
