package hub

import (
	"maps"
	"slices"
	"strings"
)

// EventsTopic is the MQTT topic a device (moduleID "") or module sends
// telemetry on, with the message's application properties in the topic's
// property bag: devices/{d}[/modules/{m}]/messages/events/{k}={v}&...
// Keys and values are percent-encoded as the Python SDK encodes them
// (urllib.parse.quote with nothing safe, DOC-MQTT's "RFC 2396-encoded"),
// and sorted by key, so the same message always makes the same topic. Ids
// are not encoded: the hub does not decode them (Python SDK wiki, "URL
// Encoding (MQTT)").
func EventsTopic(deviceID, moduleID string, properties map[string]string) string {
	var b strings.Builder
	b.WriteString("devices/" + deviceID)
	if moduleID != "" {
		b.WriteString("/modules/" + moduleID)
	}
	b.WriteString("/messages/events/")
	for i, k := range slices.Sorted(maps.Keys(properties)) {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(EscapeAll(k) + "=" + EscapeAll(properties[k]))
	}
	return b.String()
}
