package emulator

import (
	"net/http"
	"strconv"

	"github.com/hubspec/hubspec/hub"
)

// configJSON is a configuration as the hub answers it (the Configuration
// object of azure-iot-hub's protocol models). systemMetrics.queries are
// the queries the system metrics count, as the hub shows them.
type configJSON struct {
	ID                 string            `json:"id"`
	SchemaVersion      string            `json:"schemaVersion"`
	Labels             map[string]string `json:"labels"`
	Content            configContentJSON `json:"content"`
	TargetCondition    string            `json:"targetCondition"`
	CreatedTimeUtc     string            `json:"createdTimeUtc"`
	LastUpdatedTimeUtc string            `json:"lastUpdatedTimeUtc"`
	Priority           int64             `json:"priority"`
	SystemMetrics      metricsJSON       `json:"systemMetrics"`
	Metrics            metricsJSON       `json:"metrics"`
	ETag               string            `json:"etag"`
}

type configContentJSON struct {
	DeviceContent map[string]any `json:"deviceContent,omitempty"`
	ModuleContent map[string]any `json:"moduleContent,omitempty"`
}

type metricsJSON struct {
	Results map[string]int64  `json:"results"`
	Queries map[string]string `json:"queries"`
}

// configJSONOf renders c without metric results. Caller holds r.mu: the
// maps it copies are the registry's.
func configJSONOf(c *configEntry) configJSON {
	j := configJSON{ID: c.id, SchemaVersion: c.schemaVersion, Labels: map[string]string{}, TargetCondition: c.targetCondition,
		CreatedTimeUtc: c.created, LastUpdatedTimeUtc: c.updated, Priority: c.priority, ETag: c.etag,
		SystemMetrics: metricsJSON{Results: map[string]int64{}, Queries: c.systemQueries()},
		Metrics:       metricsJSON{Results: map[string]int64{}, Queries: map[string]string{}}}
	for k, v := range c.labels {
		j.Labels[k] = v
	}
	for k, v := range c.metrics {
		j.Metrics.Queries[k] = v
	}
	content := cloneObject(c.content)
	if c.modules {
		j.Content.ModuleContent = content
	} else {
		j.Content.DeviceContent = content
	}
	return j
}

// systemQueries are the queries behind targetedCount and appliedCount.
func (c *configEntry) systemQueries() map[string]string {
	from := "devices"
	if c.modules {
		from = "devices.modules"
	}
	targeted := "select deviceId from " + from
	if c.targetCondition != "" && c.targetCondition != "*" {
		targeted += " where " + c.targetCondition
	}
	return map[string]string{
		"Targeted": targeted,
		"Applied":  "select deviceId from " + from + " where configurations.[[" + c.id + "]].status = 'Applied'",
	}
}

// putConfiguration answers 200 for create and update alike (azure-iot-hub
// accepts 200 and 201).
func (h *restHandler) putConfiguration(r *http.Request, ids []string) (restResult, error) {
	body, err := readBody(r)
	if err != nil {
		return restResult{}, err
	}
	c, err := h.reg.putConfiguration(ids[0], body, ifMatch(r))
	if err != nil {
		return restResult{}, err
	}
	return jsonResult(c, c.ETag)
}

func (h *restHandler) getConfiguration(_ *http.Request, ids []string) (restResult, error) {
	c, err := h.reg.getConfiguration(ids[0])
	if err != nil {
		return restResult{}, err
	}
	return jsonResult(c, c.ETag)
}

func (h *restHandler) deleteConfiguration(r *http.Request, ids []string) (restResult, error) {
	if err := h.reg.deleteConfiguration(ids[0], ifMatch(r)); err != nil {
		return restResult{}, err
	}
	return restResult{status: http.StatusNoContent}, nil
}

// listConfigurations reads ?top= (azure-iot-hub's max_count): a positive
// integer caps the list, absent means all; "Pagination is not supported".
func (h *restHandler) listConfigurations(r *http.Request, _ []string) (restResult, error) {
	top := 0
	if s := r.URL.Query().Get("top"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return restResult{}, hub.ErrArgumentInvalid.WithMessage("top '%s' is not an integer.", s)
		}
		top = n
	}
	return jsonResult(h.reg.listConfigurations(top), "")
}

// testConfigurationQueries is POST /configurations/testQueries: the
// target condition and each custom metric query are parsed, and what is
// wrong with each answered in targetConditionError and
// customMetricQueryErrors (azure-iot-hub's
// ConfigurationQueriesTestResponse); a valid input answers "" and {}.
func (h *restHandler) testConfigurationQueries(r *http.Request, _ []string) (restResult, error) {
	body, err := readBody(r)
	if err != nil {
		return restResult{}, err
	}
	var in struct {
		TargetCondition     string            `json:"targetCondition"`
		CustomMetricQueries map[string]string `json:"customMetricQueries"`
	}
	if err := decodeObject(body, &in); err != nil {
		return restResult{}, err
	}
	out := hub.ConfigurationQueriesTestResponse{CustomMetricQueryErrors: map[string]string{}}
	if _, err := parseTargetCondition(in.TargetCondition, false); err != nil {
		out.TargetConditionError = errMessage(err)
	}
	for name, q := range in.CustomMetricQueries {
		if _, err := parseMetricQuery(q); err != nil {
			out.CustomMetricQueryErrors[name] = errMessage(err)
		}
	}
	return jsonResult(out, "")
}
