package emulator

import "testing"

func TestParseUsername(t *testing.T) {
	for _, tc := range []struct {
		in     string
		want   identity
		host   string
		client string
		ok     bool
	}{
		{"hub.net/dev/mod/?api-version=2021-04-12&DeviceClientType=x", identity{"dev", "mod"}, "hub.net", "x", true},
		{"hub.net/dev/?api-version=2019-10-01&DeviceClientType=azure-iot-device-iothub-py%2F2.14.0%28x%29", identity{"dev", ""}, "hub.net", "azure-iot-device-iothub-py/2.14.0(x)", true},
		{"hub.net/dev/api-version=2016-11-14&DeviceClientType=iothubclient", identity{"dev", ""}, "hub.net", "", true},
		{"hub.net:8443/dev/mod/?api-version=1&api-version=2", identity{"dev", "mod"}, "hub.net:8443", "", true},
		{"hub.net/dev/mod/?DeviceClientType=x", identity{}, "", "", false},
		{"hub.net/dev", identity{}, "", "", false},
		{"hub.net//mod/?api-version=1", identity{}, "", "", false},
		{"a/b/c/d/?api-version=1", identity{}, "", "", false},
		{"", identity{}, "", "", false},
	} {
		u, err := parseUsername(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("parseUsername(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && (u.id != tc.want || u.host != tc.host) {
			t.Errorf("parseUsername(%q) = %+v", tc.in, u)
		}
		if tc.ok && tc.client != "" && u.props["DeviceClientType"] != tc.client {
			t.Errorf("parseUsername(%q) DeviceClientType = %q, want %q", tc.in, u.props["DeviceClientType"], tc.client)
		}
	}
}

func TestParseRequestTopic(t *testing.T) {
	mod := identity{"dev", "mod"}
	for _, tc := range []struct {
		topic string
		id    identity
		kind  requestKind
		rid   string
	}{
		{"$iothub/twin/GET/?$rid=1", mod, reqTwinGet, "1"},
		{"$iothub/twin/PATCH/properties/reported/?$rid=a-b&$version=3", mod, reqTwinPatchReported, "a-b"},
		{"$iothub/methods/res/200/?$rid=9", mod, reqMethodResponse, "9"},
		{"devices/dev/modules/mod/messages/events/", mod, reqTelemetry, ""},
		{"devices/dev/modules/mod/messages/events/%24.ct=application%2Fjson", mod, reqTelemetry, ""},
		{"devices/dev/messages/events/", identity{"dev", ""}, reqTelemetry, ""},
		{"devices/dev/messages/events/", mod, 0, ""},
		{"devices/dev/modules/other/messages/events/", mod, 0, ""},
		{"$iothub/twin/GET/", mod, 0, ""},
		{"$iothub/twin/PATCH/properties/desired/?$rid=1", mod, 0, ""},
		{"$iothub/twin/GET/?$rid=%zz", mod, 0, ""},
	} {
		req, err := parseRequestTopic(tc.topic, tc.id)
		if tc.kind == 0 {
			if err == nil {
				t.Errorf("parseRequestTopic(%q) accepted", tc.topic)
			}
			continue
		}
		if err != nil || req.kind != tc.kind || req.rid != tc.rid {
			t.Errorf("parseRequestTopic(%q) = %+v, %v", tc.topic, req, err)
		}
	}
}

func TestTopicMatches(t *testing.T) {
	for _, tc := range []struct {
		filter, topic string
		want          bool
	}{
		{"$iothub/twin/res/#", "$iothub/twin/res/200/?$rid=1", true},
		{"$iothub/twin/res/#", "$iothub/twin/res", true},
		{"$iothub/twin/res/#", "$iothub/twin/PATCH/properties/desired/?$version=2", false},
		{"a/+/c", "a/b/c", true},
		{"a/+/c", "a/b/d", false},
		{"a/b", "a/b/c", false},
		{"a/b/c", "a/b", false},
		{"#", "anything/at/all", true},
	} {
		if got := topicMatches(tc.filter, tc.topic); got != tc.want {
			t.Errorf("topicMatches(%q, %q) = %v", tc.filter, tc.topic, got)
		}
	}
}

func FuzzParseUsername(f *testing.F) {
	f.Add("hub.net/dev/mod/?api-version=2021-04-12&DeviceClientType=x")
	f.Add("hub.net/dev/api-version=2016-11-14")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseUsername(s)
		if err == nil && (u.host == "" || u.id.deviceID == "" || u.props["api-version"] == "") {
			t.Fatalf("accepted %q as %+v", s, u)
		}
	})
}

func FuzzParseRequestTopic(f *testing.F) {
	f.Add("$iothub/twin/GET/?$rid=1")
	f.Add("$iothub/twin/PATCH/properties/reported/?$rid=1&$version=2")
	f.Add("devices/d/modules/m/messages/events/a=b")
	f.Fuzz(func(t *testing.T, topic string) {
		req, err := parseRequestTopic(topic, identity{"d", "m"})
		if err == nil && req.kind != reqTelemetry && req.rid == "" {
			t.Fatalf("accepted %q without $rid", topic)
		}
	})
}
