package emulator

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/internal/iotquery"
)

// Automatic device and module configurations (PUT/GET/DELETE
// /configurations/{id}, GET /configurations, POST
// /configurations/testQueries), as the IoT Hub REST reference and
// azure-iot-hub's IoTHubConfigurationManager send them. The rules and
// where each comes from are docs/fidelity.md's "Configurations" rows.

// Configuration limits: Microsoft's automatic device management docs
// ("Up to five custom metrics"; "IoT Hub supports up to 100 automatic
// configurations" on standard hubs; ids and labels "up to 128").
const (
	maxConfigurations  = 100
	maxCustomMetrics   = 5
	maxConfigIDLength  = 128
	maxLabelLength     = 128
	configSchema       = "1.0"
	desiredContentRoot = "properties.desired"
)

// configEntry is one configuration as the registry keeps it.
type configEntry struct {
	id, schemaVersion string
	labels            map[string]string
	modules           bool           // moduleContent (module twins), else deviceContent
	content           map[string]any // the content's keys and values as sent
	patch             map[string]any // the content as one merge patch of desired
	targetCondition   string
	target            *iotquery.Query // nil: the condition is "" and targets nothing
	priority          int64
	metrics           map[string]string
	created, updated  string
	// seq orders configurations by creation (the tie-break of equal
	// priorities) and tells a re-created configuration from the one a
	// twin had applied.
	seq  uint64
	etag string
}

// beats says whether c wins over o on a twin both target: the higher
// priority, then the later created (Microsoft's automatic device
// management docs).
func (c *configEntry) beats(o *configEntry) bool {
	if c.priority != o.priority {
		return c.priority > o.priority
	}
	return c.seq > o.seq
}

// configBody is a configuration as a client sends it. The read-only
// members (createdTimeUtc, systemMetrics, etag, ...) are ignored: the SDKs
// send back the configuration they fetched.
type configBody struct {
	ID              string            `json:"id"`
	SchemaVersion   string            `json:"schemaVersion"`
	Labels          map[string]string `json:"labels"`
	Content         *contentBody      `json:"content"`
	TargetCondition string            `json:"targetCondition"`
	Priority        *json.Number      `json:"priority"`
	Metrics         *struct {
		Queries map[string]string `json:"queries"`
	} `json:"metrics"`
}

type contentBody struct {
	DeviceContent  map[string]any  `json:"deviceContent"`
	ModuleContent  map[string]any  `json:"moduleContent"`
	ModulesContent json.RawMessage `json:"modulesContent"`
}

// parseConfiguration validates a PUT body for the configuration id of
// the URL. Every rule is checked before anything changes.
func parseConfiguration(id string, body []byte) (*configEntry, *contentBody, error) {
	if err := validateConfigID(id); err != nil {
		return nil, nil, err
	}
	var b configBody
	if err := decodeObject(body, &b); err != nil {
		return nil, nil, err
	}
	if b.ID != "" && b.ID != id {
		return nil, nil, hub.ErrArgumentInvalid.WithMessage("The configuration id '%s' of the body is not the id '%s' of the URL.", b.ID, id)
	}
	c := &configEntry{id: id, schemaVersion: b.SchemaVersion, labels: b.Labels, targetCondition: b.TargetCondition}
	if c.schemaVersion == "" {
		c.schemaVersion = configSchema
	}
	if err := validateLabels(b.Labels); err != nil {
		return nil, nil, err
	}
	var err error
	if c.priority, err = parsePriority(b.Priority); err != nil {
		return nil, nil, err
	}
	if b.Content != nil {
		if err := c.setContent(b.Content); err != nil {
			return nil, nil, err
		}
	}
	if c.target, err = parseTargetCondition(b.TargetCondition, c.modules); err != nil {
		return nil, nil, err
	}
	if b.Metrics != nil {
		c.metrics = b.Metrics.Queries
	}
	if err := validateMetrics(c.metrics); err != nil {
		return nil, nil, err
	}
	return c, b.Content, nil
}

// validateConfigID: up to 128 lowercase letters, digits and the symbols
// Microsoft's automatic device management docs do not forbid.
func validateConfigID(id string) error {
	ok := id != "" && len(id) <= maxConfigIDLength && strings.IndexFunc(id, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("-:+%_#*?!(),=@;'.", r))
	}) < 0
	if !ok {
		return hub.ErrArgumentInvalid.WithMessage("The configuration id '%s' is invalid: up to %d lowercase letters, digits and - : + %% _ # * ? ! ( ) , = @ ; ' . are allowed.", id, maxConfigIDLength)
	}
	return nil
}

// validateLabels: keys and values of up to 128 ASCII letters, digits and
// - : . + % _ # * ? ! ( ) , = @ ; ' (the Node SDK's Configuration docs;
// "$ is reserved").
func validateLabels(labels map[string]string) error {
	valid := func(s string) bool {
		return s != "" && len(s) <= maxLabelLength && strings.IndexFunc(s, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-:.+%_#*?!(),=@;'", r))
		}) < 0
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if !valid(k) || !valid(labels[k]) {
			return hub.ErrArgumentInvalid.WithMessage("The label '%s': '%s' is invalid: keys and values are 1 to %d ASCII letters, digits or - : . + %% _ # * ? ! ( ) , = @ ; '.", k, labels[k], maxLabelLength)
		}
	}
	return nil
}

// parsePriority: a non-negative integer; absent is 0.
func parsePriority(n *json.Number) (int64, error) {
	if n == nil {
		return 0, nil
	}
	p, err := n.Int64()
	if err != nil || p < 0 || p > 1<<31-1 {
		return 0, hub.ErrArgumentInvalid.WithMessage("The priority %s is invalid: a non-negative integer is required.", n.String())
	}
	return p, nil
}

// setContent validates the content: exactly one of deviceContent and
// moduleContent (modulesContent is an IoT Edge deployment, not emulated),
// each key "properties.desired" (an object) or "properties.desired.<path>".
// Its values become one merge patch of desired properties, held to the
// rules and size of a desired patch.
func (c *configEntry) setContent(b *contentBody) error {
	if len(b.ModulesContent) > 0 && string(b.ModulesContent) != "null" {
		return hub.ErrInvalidConfigurationContent.WithMessage("modulesContent is an IoT Edge deployment, which the emulator does not emulate.")
	}
	switch {
	case len(b.DeviceContent) > 0 && len(b.ModuleContent) > 0:
		return hub.ErrInvalidConfigurationContent.WithMessage("A configuration has deviceContent or moduleContent, not both.")
	case len(b.DeviceContent) == 0 && len(b.ModuleContent) == 0:
		return hub.ErrInvalidConfigurationContent.WithMessage("The content provided for configuration is invalid: deviceContent or moduleContent is required.")
	}
	c.content, c.modules = b.DeviceContent, len(b.ModuleContent) > 0
	if c.modules {
		c.content = b.ModuleContent
	}
	c.patch = map[string]any{}
	for _, k := range slices.Sorted(maps.Keys(c.content)) {
		p, err := contentPatch(k, c.content[k])
		if err != nil {
			return err
		}
		mergePatch(c.patch, p, nil, stamp{})
	}
	if err := validateSection(c.patch, desiredContentRoot); err != nil {
		return hub.ErrInvalidConfigurationContent.WithMessage("The content provided for configuration is invalid: %s", errMessage(err))
	}
	if err := checkSize(c.patch, "content", maxDesiredSize); err != nil {
		return err
	}
	return nil
}

// contentPatch turns one content member into a desired merge patch:
// "properties.desired.a.b": v is {"a": {"b": v}}.
func contentPatch(key string, v any) (map[string]any, error) {
	if key == desiredContentRoot {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, hub.ErrInvalidConfigurationContent.WithMessage("The content of '%s' must be a JSON object.", key)
		}
		return m, nil
	}
	rest, ok := strings.CutPrefix(key, desiredContentRoot+".")
	segs := strings.Split(rest, ".")
	if !ok || slices.Contains(segs, "") {
		return nil, hub.ErrInvalidConfigurationContent.WithMessage("The content key '%s' is invalid: 'properties.desired' or 'properties.desired.<path>' is required.", key)
	}
	for i := len(segs) - 1; i >= 0; i-- {
		v = map[string]any{segs[i]: v}
	}
	return v.(map[string]any), nil
}

func errMessage(err error) string {
	if e, ok := hub.AsError(err); ok {
		return e.Message
	}
	return err.Error()
}

// parseTargetCondition parses a target condition as the WHERE clause of a
// query on the twins the content is for: "" targets nothing, "*" every
// twin (Microsoft's automatic device management docs).
func parseTargetCondition(cond string, modules bool) (*iotquery.Query, error) {
	if strings.TrimSpace(cond) == "" {
		return nil, nil
	}
	from := "devices"
	if modules {
		from = "devices.modules"
	}
	src := "SELECT * FROM " + from
	if strings.TrimSpace(cond) != "*" {
		src += " WHERE " + cond
	}
	q, err := iotquery.Parse(src, iotquery.Options{Fold: foldTwinPath})
	if err == nil && (q.Aggregated() || q.Top >= 0 || !q.Star) {
		err = &iotquery.SyntaxError{Line: 1, Column: 1, Msg: "a target condition is a condition only"}
	}
	if err != nil {
		return nil, hub.ErrArgumentInvalid.WithMessage("The target condition '%s' is invalid: %v", cond, err)
	}
	return q, nil
}

// parseMetricQuery parses a custom metric query: a whole query on devices
// or devices.modules, naming configurations as configurations.[[id]].
func parseMetricQuery(src string) (*iotquery.Query, error) {
	q, err := iotquery.Parse(src, iotquery.Options{Fold: foldTwinPath})
	if err != nil {
		return nil, hub.ErrArgumentInvalid.WithMessage("The metric query '%s' is invalid: %v", src, err)
	}
	return q, nil
}

func validateMetrics(queries map[string]string) error {
	if len(queries) > maxCustomMetrics {
		return hub.ErrArgumentInvalid.WithMessage("A configuration has at most %d custom metrics; %d were given.", maxCustomMetrics, len(queries))
	}
	for _, name := range slices.Sorted(maps.Keys(queries)) {
		if name == "" {
			return hub.ErrArgumentInvalid.WithMessage("A custom metric has an empty name.")
		}
		if _, err := parseMetricQuery(queries[name]); err != nil {
			return err
		}
	}
	return nil
}

// sameContent says whether an update's content is the configuration's:
// the content cannot be changed once created (azure-iot-hub's
// update_configuration: "configuration Id and Content cannot be updated").
func (c *configEntry) sameContent(b *contentBody) bool {
	if b == nil {
		return true
	}
	u := &configEntry{}
	if err := u.setContent(b); err != nil {
		return false
	}
	return u.modules == c.modules && reflect.DeepEqual(u.patch, c.patch)
}
