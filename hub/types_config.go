package hub

// Configuration is an automatic device (or module) configuration, the
// Configuration object of the IoT Hub REST reference and azure-iot-hub's
// protocol model: Content is merged into the desired properties of every
// twin TargetCondition matches, the highest Priority winning where several
// match. The hub sets CreatedTimeUtc, LastUpdatedTimeUtc, ETag and the
// metrics' Results.
type Configuration struct {
	ID                 string                `json:"id"`
	SchemaVersion      string                `json:"schemaVersion,omitempty"`
	Labels             map[string]string     `json:"labels,omitempty"`
	Content            *ConfigurationContent `json:"content,omitempty"`
	TargetCondition    string                `json:"targetCondition"`
	CreatedTimeUtc     string                `json:"createdTimeUtc,omitempty"`
	LastUpdatedTimeUtc string                `json:"lastUpdatedTimeUtc,omitempty"`
	Priority           int                   `json:"priority"`
	SystemMetrics      *ConfigurationMetrics `json:"systemMetrics,omitempty"`
	Metrics            *ConfigurationMetrics `json:"metrics,omitempty"`
	ETag               string                `json:"etag,omitempty"`
}

// ConfigurationContent is what a configuration sets: DeviceContent for
// device twins or ModuleContent for module twins, keyed by
// "properties.desired" or "properties.desired.<path>".
type ConfigurationContent struct {
	DeviceContent map[string]any `json:"deviceContent,omitempty"`
	ModuleContent map[string]any `json:"moduleContent,omitempty"`
}

// ConfigurationMetrics are a configuration's metric queries by name and,
// in the hub's answers, their results (the number of twins each counts).
// The system metrics are "targetedCount" and "appliedCount".
type ConfigurationMetrics struct {
	Results map[string]int64  `json:"results,omitempty"`
	Queries map[string]string `json:"queries,omitempty"`
}

// ConfigurationQueriesTestInput is POST /configurations/testQueries: a
// target condition and custom metric queries to check before creating.
type ConfigurationQueriesTestInput struct {
	TargetCondition     string            `json:"targetCondition"`
	CustomMetricQueries map[string]string `json:"customMetricQueries,omitempty"`
}

// ConfigurationQueriesTestResponse says what is wrong with each: "" and
// no entry mean the condition or query is valid.
type ConfigurationQueriesTestResponse struct {
	TargetConditionError    string            `json:"targetConditionError"`
	CustomMetricQueryErrors map[string]string `json:"customMetricQueryErrors"`
}

// Configuration statuses a twin shows under "configurations" for each
// configuration that targets it: the one applied, the others targeted.
const (
	ConfigurationApplied  = "Applied"
	ConfigurationTargeted = "Targeted"
)

// TwinConfiguration is a configuration's status on a twin it targets:
// ConfigurationApplied or ConfigurationTargeted.
type TwinConfiguration struct {
	Status string `json:"status"`
}
