package emulator

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// identity is the device or module an MQTT connection acts as. Its MQTT
// client id is "{device}" or "{device}/{module}"; ids cannot contain '/'.
type identity struct{ deviceID, moduleID string }

func identityOf(clientID string) identity {
	d, m, _ := strings.Cut(clientID, "/")
	return identity{deviceID: d, moduleID: m}
}

func (id identity) clientID() string { return identityName(id.deviceID, id.moduleID) }

func (id identity) String() string { return id.clientID() }

// mqttUsername is the parsed CONNECT user name:
// "{host}/{device}[/{module}]/?api-version=...&DeviceClientType=...", or the
// legacy form without '?' that old C SDKs send ("{host}/{device}/api-version=...").
// The rules follow edgeHub's parser (Azure/iotedge MqttUsernameParser; the
// fidelity table's "CONNECT user name" row): the last segment
// holds the properties, api-version is mandatory, values are URL-unescaped
// and the first of duplicate keys wins.
type mqttUsername struct {
	host  string
	id    identity
	props map[string]string
}

func parseUsername(s string) (mqttUsername, error) {
	segs := strings.Split(s, "/")
	if len(segs) < 3 || len(segs) > 4 {
		return mqttUsername{}, fmt.Errorf("username %q: want {host}/{device}[/{module}]/?api-version={version}", s)
	}
	last := segs[len(segs)-1]
	query, ok := strings.CutPrefix(last, "?")
	if !ok && !strings.Contains(last, "api-version=") {
		return mqttUsername{}, fmt.Errorf("username %q: no api-version", s)
	}
	u := mqttUsername{host: segs[0], id: identity{deviceID: segs[1]}, props: map[string]string{}}
	if len(segs) == 4 {
		u.id.moduleID = segs[2]
	}
	for _, kv := range strings.Split(query, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			continue
		}
		if _, dup := u.props[k]; dup {
			continue
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		u.props[k] = v
	}
	if u.host == "" || u.id.deviceID == "" || (len(segs) == 4 && u.id.moduleID == "") {
		return mqttUsername{}, fmt.Errorf("username %q: empty host, device or module", s)
	}
	if u.props["api-version"] == "" {
		return mqttUsername{}, fmt.Errorf("username %q: no api-version", s)
	}
	return u, nil
}

// sameHost compares host names the way the hub's front end would:
// case-insensitively, and ignoring a ":port" the embedded emulator's
// HostName carries.
func sameHost(a, b string) bool {
	return strings.EqualFold(hostOnly(a), hostOnly(b))
}

// requestKind is what a device-to-hub PUBLISH asks for.
type requestKind int

const (
	reqTwinGet requestKind = iota + 1
	reqTwinPatchReported
	reqTelemetry
	reqMethodResponse
)

// request is a parsed device-to-hub topic.
type request struct {
	kind requestKind
	rid  string
}

var errTopicNotAllowed = errors.New("topic not allowed")

// parseRequestTopic maps a PUBLISH topic to the operation it asks for. Only
// the documented topics of the connection's own identity are accepted; the
// hub closes the connection on anything else (Microsoft's IoT Hub MQTT doc;
// IoT Edge's protocol gateway shuts a connection down on an unknown topic;
// the fidelity table's "Publish topics" row).
func parseRequestTopic(topic string, id identity) (request, error) {
	if rest, ok := strings.CutPrefix(topic, "$iothub/"); ok {
		path, query, _ := strings.Cut(rest, "?")
		q, err := url.ParseQuery(query)
		if err != nil {
			return request{}, fmt.Errorf("%w: %q: bad query", errTopicNotAllowed, topic)
		}
		rid := q.Get("$rid")
		var kind requestKind
		switch {
		case path == "twin/GET/":
			kind = reqTwinGet
		case path == "twin/PATCH/properties/reported/":
			kind = reqTwinPatchReported
		case strings.HasPrefix(path, "methods/res/"):
			kind = reqMethodResponse
		default:
			return request{}, fmt.Errorf("%w: %q", errTopicNotAllowed, topic)
		}
		if rid == "" {
			return request{}, fmt.Errorf("%w: %q: no $rid", errTopicNotAllowed, topic)
		}
		return request{kind: kind, rid: rid}, nil
	}
	if strings.HasPrefix(topic, telemetryPrefix(id)) {
		return request{kind: reqTelemetry}, nil
	}
	return request{}, fmt.Errorf("%w: %q", errTopicNotAllowed, topic)
}

func telemetryPrefix(id identity) string {
	if id.moduleID == "" {
		return "devices/" + id.deviceID + "/messages/events/"
	}
	return "devices/" + id.deviceID + "/modules/" + id.moduleID + "/messages/events/"
}

// eventProperties reads the application properties of a telemetry topic:
// the property bag after ".../messages/events/", "k=v&k2=v2" with each key
// and value percent-encoded (DOC-MQTT: RFC 2396 encoding; the Python SDK's
// wiki "URL Encoding (MQTT)": the hub decodes any percent-encoded
// character). A leading '?' (the wiki writes ".../events/?{properties}")
// and a trailing '/' are tolerated. '+' stays '+': RFC 2396 has no
// space-as-plus. Undecodable text is kept as sent and the first of
// duplicate keys wins, as in the user name.
func eventProperties(topic string, id identity) map[string]string {
	bag, ok := strings.CutPrefix(topic, telemetryPrefix(id))
	if !ok {
		return nil
	}
	bag = strings.TrimSuffix(strings.TrimPrefix(bag, "?"), "/")
	props := map[string]string{}
	for _, kv := range strings.Split(bag, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if dk, err := url.PathUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.PathUnescape(v); err == nil {
			v = dv
		}
		if _, dup := props[k]; k != "" && !dup {
			props[k] = v
		}
	}
	return props
}

// subscriptionAllowed reports whether an identity may subscribe to filter:
// the documented filters only, and only its own device-bound topics.
func subscriptionAllowed(filter string, id identity) bool {
	switch filter {
	case "$iothub/twin/res/#", "$iothub/twin/PATCH/properties/desired/#", "$iothub/methods/POST/#":
		return true
	}
	if id.moduleID == "" {
		return filter == "devices/"+id.deviceID+"/messages/devicebound/#"
	}
	prefix := "devices/" + id.deviceID + "/modules/" + id.moduleID + "/"
	return filter == prefix+"#" || filter == prefix+"inputs/#"
}

// topicMatches is MQTT topic-filter matching ('+' one level, '#' the rest).
func topicMatches(filter, topic string) bool {
	for {
		f, fRest, fMore := strings.Cut(filter, "/")
		if f == "#" {
			return true
		}
		t, tRest, tMore := strings.Cut(topic, "/")
		if f != "+" && f != t {
			return false
		}
		if !fMore || !tMore {
			return fMore == tMore || (!tMore && fRest == "#")
		}
		filter, topic = fRest, tRest
	}
}
