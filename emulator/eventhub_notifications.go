package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/hubspec/hubspec/internal/amqp"
)

// The operations and schemas of the events IoT Hub routes to the built-in
// endpoint besides telemetry (docs/fidelity.md, "Twin-change and lifecycle
// events"): a change to a twin, and an identity created or deleted.
const (
	opUpdateTwin   = "updateTwin"
	opReplaceTwin  = "replaceTwin"
	opCreateDevice = "createDeviceIdentity"
	opDeleteDevice = "deleteDeviceIdentity"
	opCreateModule = "createModuleIdentity"
	opDeleteModule = "deleteModuleIdentity"

	sourceTwinChange = "twinChangeEvents"
	sourceLifecycle  = "deviceLifecycleEvents"
	schemaTwinChange = "twinChangeNotification"
	schemaLifecycle  = "deviceLifecycleNotification"
)

// notification is one twin-change or lifecycle event, made by the registry
// under its lock from a change it is about to commit: the body is rendered
// there, so it shows the twin exactly as that change left it.
type notification struct {
	deviceID, moduleID string
	opType             string
	at                 string // operationTimestamp, the registry's clock
	body               []byte
}

// source and schema are the event's iothub-message-source and
// iothub-message-schema, which follow from its operation.
func (n notification) source() (source, schema string) {
	if n.opType == opUpdateTwin || n.opType == opReplaceTwin {
		return sourceTwinChange, schemaTwinChange
	}
	return sourceLifecycle, schemaLifecycle
}

// message is the event as the built-in endpoint holds it: the system
// properties (content type and encoding, a correlation id, the hub's name
// as user id), the iothub-* annotations naming the identity, and the
// application properties opType, hubName, deviceId, moduleId,
// operationTimestamp and iothub-message-schema, as Microsoft's
// non-telemetry event schema documents them.
func (n notification) message(hubName string, now time.Time) *amqp.Message {
	source, schema := n.source()
	msg := &amqp.Message{
		Data: [][]byte{n.body},
		Properties: &amqp.Properties{
			CorrelationID:   newCorrelationID(),
			UserID:          []byte(hubName),
			ContentType:     "application/json",
			ContentEncoding: "utf-8",
		},
		Annotations: amqp.Annotations{
			amqp.Symbol("iothub-connection-device-id"): n.deviceID,
			amqp.Symbol("iothub-enqueuedtime"):         now.UTC().Truncate(time.Millisecond),
			amqp.Symbol("iothub-message-source"):       source,
		},
		ApplicationProperties: map[string]any{
			"hubName":               hubName,
			"deviceId":              n.deviceID,
			"operationTimestamp":    n.at,
			"iothub-message-schema": schema,
			"opType":                n.opType,
		},
	}
	if n.moduleID != "" {
		msg.Annotations[amqp.Symbol("iothub-connection-module-id")] = n.moduleID
		msg.ApplicationProperties["moduleId"] = n.moduleID
	}
	return msg
}

// newCorrelationID is a random 12-hex-digit id, the shape of the
// correlation ids real events carry.
func newCorrelationID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// fireNotification queues an event of the write in progress (see write).
// Its body is rendered once the write is committed, still under the lock,
// so it shows the twin exactly as the write left it; makeBody is never
// called when events are off. A body holds only values decoded from JSON
// and the registry's own strings and counters, which always marshal: an
// error would be a bug, and drops the event rather than a committed write.
// Caller holds r.mu.
func (r *registry) fireNotification(deviceID, moduleID, opType string, makeBody func() ([]byte, error)) {
	f := r.events.Notify
	if f == nil {
		return
	}
	at := r.timestamp()
	r.pending = append(r.pending, func() {
		if body, err := makeBody(); err == nil {
			f(notification{deviceID: deviceID, moduleID: moduleID, opType: opType, at: at, body: body})
		}
	})
}

// lifecycleBody is a lifecycle event's body: the identity's twin with its
// ids, etag, version, tags (when any) and both sections with $metadata and
// $version. A replaceTwin event's body is the same document.
func lifecycleBody(deviceID, moduleID string, tw *twinState) ([]byte, error) {
	desired, err := tw.desired.toJSON(true)
	if err != nil {
		return nil, err
	}
	reported, err := tw.reported.toJSON(true)
	if err != nil {
		return nil, err
	}
	var tags map[string]any
	if len(tw.tags) > 0 {
		tags = tw.tags
	}
	return marshalJSON(struct {
		DeviceID   string             `json:"deviceId"`
		ModuleID   string             `json:"moduleId,omitempty"`
		ETag       string             `json:"etag"`
		Version    int64              `json:"version"`
		Tags       map[string]any     `json:"tags,omitempty"`
		Properties twinPropertiesJSON `json:"properties"`
	}{deviceID, moduleID, tw.etagString(), tw.version, tags, twinPropertiesJSON{Desired: desired, Reported: reported}})
}

// twinUpdateBody is an updateTwin event's body: the twin's new version, the
// tags the write changed (when it changed any) and the one section it
// changed, "desired" or "reported" (none for a tags-only write), holding
// the members as written (null for a deleted one), the $metadata of the
// section's root and of each written member, and the section's $version.
// It is written directly (json_append.go), as encoding/json would render
// {version, tags omitempty, properties omitempty}: it is made under the
// registry lock for every twin write.
func twinUpdateBody(tw *twinState, tags map[string]any, section string, patch map[string]any) ([]byte, error) {
	o := jsonObject{b: append(make([]byte, 0, 512), '{')}
	o.int("version", tw.version)
	if len(tags) > 0 {
		o.value("tags", tags)
	}
	if section != "" {
		s := &tw.desired
		if section == "reported" {
			s = &tw.reported
		}
		o.member("properties")
		o.b = append(o.b, '{')
		o.member(section)
		// The members as written, with the $metadata of those that are
		// still there, in the order a section is rendered.
		written := func(k string) bool { _, ok := patch[k]; return ok }
		b, err := appendSection(o.b, patch, s.meta, written, s.version)
		if err != nil {
			return nil, err
		}
		o.b = append(b, '}')
	}
	if o.err != nil {
		return nil, o.err
	}
	return append(o.b, '}'), nil
}

// fireLifecycle queues the lifecycle event of an identity created or
// deleted, its body the identity's twin. Caller holds r.mu.
func (r *registry) fireLifecycle(deviceID, moduleID, opType string, tw *twinState) {
	r.fireNotification(deviceID, moduleID, opType, func() ([]byte, error) {
		return lifecycleBody(deviceID, moduleID, tw)
	})
}
