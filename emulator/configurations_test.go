package emulator

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hubspec/hubspec/hub"
)

// configBodyFor is a device configuration setting desired.fw to v.
func configBodyFor(id string, priority int, target string, v int) string {
	b, _ := json.Marshal(map[string]any{"id": id, "priority": priority, "targetCondition": target,
		"content": map[string]any{"deviceContent": map[string]any{"properties.desired.fw": map[string]any{"v": v}}},
		"metrics": map[string]any{"queries": map[string]string{"applied": "SELECT deviceId FROM devices WHERE configurations.[[" + id + "]].status = 'Applied'"}}})
	return string(b)
}

// desiredFW is the twin's desired fw.v and its configurations member.
func (h *testHub) desiredFW(deviceID string) (any, any) {
	h.t.Helper()
	twin := h.do("GET", "/twins/"+deviceID, "").json(h.t)
	fw, _ := twin["properties"].(map[string]any)["desired"].(map[string]any)["fw"].(map[string]any)
	return fw["v"], twin["configurations"]
}

// metrics reads a configuration's system and custom metric results.
func (h *testHub) metrics(id string) string {
	h.t.Helper()
	c := h.do("GET", "/configurations/"+id, "").json(h.t)
	sys := c["systemMetrics"].(map[string]any)["results"].(map[string]any)
	cus := c["metrics"].(map[string]any)["results"].(map[string]any)
	return fmt.Sprintf("targeted=%v applied=%v custom=%v", sys["targetedCount"], sys["appliedCount"], cus["applied"])
}

// TestConfigurationLifecycle: create, read, update with the etag, delete;
// a second create, a stale or unquoted etag and a content change are
// refused and change nothing.
func TestConfigurationLifecycle(t *testing.T) {
	h := newTestHub(t)
	r := h.do("PUT", "/configurations/fw-1", configBodyFor("fw-1", 10, "tags.site = 'x'", 1))
	h.wantStatus(r, 200, nil)
	c := r.json(t)
	etag := c["etag"].(string)
	if c["schemaVersion"] != "1.0" || c["createdTimeUtc"] == "" || c["createdTimeUtc"] != c["lastUpdatedTimeUtc"] || r.header.Get("ETag") != `"`+etag+`"` {
		t.Fatalf("created %s (ETag %s)", r.body, r.header.Get("ETag"))
	}
	h.wantStatus(h.do("PUT", "/configurations/fw-1", configBodyFor("fw-1", 10, "*", 1)), 409, hub.ErrConfigurationAlreadyExists)
	h.wantStatus(h.do("PUT", "/configurations/fw-1", configBodyFor("fw-1", 20, "*", 1), "If-Match", etag), 409, hub.ErrConfigurationAlreadyExists)
	h.wantStatus(h.do("PUT", "/configurations/fw-1", configBodyFor("fw-1", 20, "*", 1), "If-Match", `"c3RhbGU="`), 412, hub.ErrPreconditionFailed)
	h.wantStatus(h.do("PUT", "/configurations/fw-1", configBodyFor("fw-1", 20, "*", 2), "If-Match", `"`+etag+`"`), 400, hub.ErrArgumentInvalid)
	h.wantStatus(h.do("PUT", "/configurations/nope", configBodyFor("nope", 20, "*", 1), "If-Match", "*"), 404, hub.ErrConfigurationNotFound)

	h.clock.Advance(1e9)
	r = h.do("PUT", "/configurations/fw-1", configBodyFor("fw-1", 20, "*", 1), "If-Match", `"`+etag+`"`)
	h.wantStatus(r, 200, nil)
	u := r.json(t)
	if u["priority"] != json.Number("20") || u["targetCondition"] != "*" || u["etag"] == etag || u["createdTimeUtc"] != c["createdTimeUtc"] || u["lastUpdatedTimeUtc"] == c["lastUpdatedTimeUtc"] {
		t.Fatalf("updated %s", r.body)
	}
	list := h.do("GET", "/configurations?top=5", "")
	h.wantStatus(list, 200, nil)
	if !strings.Contains(string(list.body), `"id":"fw-1"`) {
		t.Fatalf("list %s", list.body)
	}
	h.wantStatus(h.do("DELETE", "/configurations/fw-1", "", "If-Match", `"`+etag+`"`), 412, hub.ErrPreconditionFailed)
	h.wantStatus(h.do("DELETE", "/configurations/fw-1", "", "If-Match", "*"), 204, nil)
	h.wantStatus(h.do("GET", "/configurations/fw-1", ""), 404, hub.ErrConfigurationNotFound)
	h.wantStatus(h.do("DELETE", "/configurations/fw-1", "", "If-Match", "*"), 404, hub.ErrConfigurationNotFound)
}

// TestConfigurationValidation: each malformed configuration is refused in
// the hub's shape and creates nothing.
func TestConfigurationValidation(t *testing.T) {
	h := newTestHub(t)
	content := `"content":{"deviceContent":{"properties.desired.a":1}}`
	for _, tc := range []struct {
		name, id, body string
		want           *hub.Error
	}{
		{"uppercase id", "Fw", `{` + content + `}`, hub.ErrArgumentInvalid},
		{"id too long", strings.Repeat("a", 129), `{` + content + `}`, hub.ErrArgumentInvalid},
		{"id differs from the URL", "a", `{"id":"b",` + content + `}`, hub.ErrArgumentInvalid},
		{"no content", "a", `{"targetCondition":"*"}`, hub.ErrInvalidConfigurationContent},
		{"both contents", "a", `{"content":{"deviceContent":{"properties.desired.a":1},"moduleContent":{"properties.desired.a":1}}}`, hub.ErrInvalidConfigurationContent},
		{"edge deployment", "a", `{"content":{"modulesContent":{"$edgeAgent":{}}}}`, hub.ErrInvalidConfigurationContent},
		{"key outside desired", "a", `{"content":{"deviceContent":{"properties.reported.a":1}}}`, hub.ErrInvalidConfigurationContent},
		{"empty path segment", "a", `{"content":{"deviceContent":{"properties.desired..a":1}}}`, hub.ErrInvalidConfigurationContent},
		{"desired root not an object", "a", `{"content":{"deviceContent":{"properties.desired":1}}}`, hub.ErrInvalidConfigurationContent},
		{"invalid property name", "a", `{"content":{"deviceContent":{"properties.desired.$a":1}}}`, hub.ErrInvalidConfigurationContent},
		{"negative priority", "a", `{"priority":-1,` + content + `}`, hub.ErrArgumentInvalid},
		{"fractional priority", "a", `{"priority":1.5,` + content + `}`, hub.ErrArgumentInvalid},
		{"bad target condition", "a", `{"targetCondition":"tags.site = ",` + content + `}`, hub.ErrArgumentInvalid},
		{"bad label", "a", `{"labels":{"a b":"c"},` + content + `}`, hub.ErrArgumentInvalid},
		{"bad metric query", "a", `{"metrics":{"queries":{"m":"SELECT FROM"}},` + content + `}`, hub.ErrArgumentInvalid},
		{"six metrics", "a", `{"metrics":{"queries":{"a":"SELECT * FROM devices","b":"SELECT * FROM devices","c":"SELECT * FROM devices","d":"SELECT * FROM devices","e":"SELECT * FROM devices","f":"SELECT * FROM devices"}},` + content + `}`, hub.ErrArgumentInvalid},
		{"not JSON", "a", `{`, hub.ErrIotHubFormatError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			h.wantStatus(h.do("PUT", "/configurations/"+tc.id, tc.body), 400, tc.want)
		})
	}
	h.t = t
	if list := h.do("GET", "/configurations", ""); string(list.body) != "[]" {
		t.Fatalf("refused configurations were kept: %s", list.body)
	}
}

// TestConfigurationsApplyByPriority: the content of the highest-priority
// configuration targeting a twin is merged into its desired properties
// and pushed; the others show Targeted; a twin that comes into scope by a
// tag change gets it; equal priorities go to the later created; metrics
// count targeted and applied twins.
func TestConfigurationsApplyByPriority(t *testing.T) {
	h := newTestHub(t)
	for _, d := range []string{"a", "b"} {
		h.wantStatus(h.do("PUT", "/devices/"+d, `{"deviceId":"`+d+`"}`), 200, nil)
	}
	h.patchTwin("/twins/a", `{"tags":{"site":"x"}}`)
	h.log.take()
	h.wantStatus(h.do("PUT", "/configurations/low", configBodyFor("low", 10, "tags.site = 'x'", 1)), 200, nil)
	if v, cs := h.desiredFW("a"); v != json.Number("1") || fmt.Sprint(cs) != "map[low:map[status:Applied]]" {
		t.Fatalf("a: fw.v %v, configurations %v", v, cs)
	}
	if v, cs := h.desiredFW("b"); v != nil || cs != nil {
		t.Fatalf("b, not targeted: fw.v %v, configurations %v", v, cs)
	}
	if desired, _ := h.log.take(); len(desired) != 1 || !strings.HasPrefix(desired[0], "a v=2 ") || !strings.Contains(desired[0], `"fw":{"v":1}`) {
		t.Fatalf("desired pushes %q", desired)
	}

	h.wantStatus(h.do("PUT", "/configurations/high", configBodyFor("high", 20, "tags.site = 'x'", 2)), 200, nil)
	if v, cs := h.desiredFW("a"); v != json.Number("2") || fmt.Sprint(cs) != "map[high:map[status:Applied] low:map[status:Targeted]]" {
		t.Fatalf("a: fw.v %v, configurations %v", v, cs)
	}
	h.patchTwin("/twins/b", `{"tags":{"site":"x"}}`)
	if v, _ := h.desiredFW("b"); v != json.Number("2") {
		t.Fatalf("b, tagged into scope: fw.v %v", v)
	}
	if got := h.metrics("high"); got != "targeted=2 applied=2 custom=2" {
		t.Errorf("high: %s", got)
	}
	if got := h.metrics("low"); got != "targeted=2 applied=0 custom=0" {
		t.Errorf("low: %s", got)
	}

	h.wantStatus(h.do("PUT", "/configurations/tie", configBodyFor("tie", 20, "deviceId = 'a'", 3)), 200, nil)
	if v, _ := h.desiredFW("a"); v != json.Number("3") {
		t.Fatalf("a, equal priority created later: fw.v %v", v)
	}
	h.wantStatus(h.do("DELETE", "/configurations/tie", "", "If-Match", "*"), 204, nil)
	if v, cs := h.desiredFW("a"); v != json.Number("2") || strings.Contains(fmt.Sprint(cs), "tie") {
		t.Fatalf("a, after the winner is deleted: fw.v %v, configurations %v", v, cs)
	}
}

// TestModuleConfiguration: moduleContent targets module twins only.
func TestModuleConfiguration(t *testing.T) {
	h := newTestHub(t)
	h.wantStatus(h.do("PUT", "/devices/d", `{"deviceId":"d"}`), 200, nil)
	h.wantStatus(h.do("PUT", "/devices/d/modules/m", `{"deviceId":"d","moduleId":"m"}`), 200, nil)
	h.wantStatus(h.do("PUT", "/configurations/mod", `{"targetCondition":"moduleId = 'm'","content":{"moduleContent":{"properties.desired":{"rate":5}}}}`), 200, nil)
	twin := h.do("GET", "/twins/d/modules/m", "").json(t)
	if d := twin["properties"].(map[string]any)["desired"].(map[string]any); d["rate"] != json.Number("5") {
		t.Fatalf("module desired %v", d)
	}
	if twin := h.do("GET", "/twins/d", "").json(t); twin["configurations"] != nil {
		t.Fatalf("the device twin is targeted: %v", twin["configurations"])
	}
	if got := h.metrics("mod"); got != "targeted=1 applied=1 custom=<nil>" {
		t.Errorf("metrics %s", got)
	}
}

// TestConfigurationTestQueries: valid queries answer no error; each bad
// one is named with what is wrong.
func TestConfigurationTestQueries(t *testing.T) {
	h := newTestHub(t)
	r := h.do("POST", "/configurations/testQueries", `{"targetCondition":"tags.site = 'x'","customMetricQueries":{"ok":"SELECT deviceId FROM devices WHERE configurations.[[c]].status = 'Applied'"}}`)
	h.wantStatus(r, 200, nil)
	if string(r.body) != `{"targetConditionError":"","customMetricQueryErrors":{}}` {
		t.Fatalf("valid: %s", r.body)
	}
	r = h.do("POST", "/configurations/testQueries", `{"targetCondition":"tags.site = ","customMetricQueries":{"ok":"SELECT * FROM devices","bad":"SELECT FROM"}}`)
	h.wantStatus(r, 200, nil)
	var res hub.ConfigurationQueriesTestResponse
	if err := json.Unmarshal(r.body, &res); err != nil || res.TargetConditionError == "" || len(res.CustomMetricQueryErrors) != 1 || res.CustomMetricQueryErrors["bad"] == "" {
		t.Fatalf("invalid: %s", r.body)
	}
}
