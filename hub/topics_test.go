package hub_test

import (
	"testing"

	"github.com/hubspec/hubspec/hub"
)

func TestEventsTopic(t *testing.T) {
	for _, tc := range []struct {
		device, module string
		props          map[string]string
		want           string
	}{
		{"d", "", nil, "devices/d/messages/events/"},
		{"d", "m", map[string]string{}, "devices/d/modules/m/messages/events/"},
		{"d", "", map[string]string{"b": "2", "a": "1"}, "devices/d/messages/events/a=1&b=2"},
		{"d", "m", map[string]string{"k x": "v&w=/+", "$.ct": "application/json", "é": "~_.-"},
			"devices/d/modules/m/messages/events/%24.ct=application%2Fjson&k%20x=v%26w%3D%2F%2B&%C3%A9=~_.-"},
		{"d:1", "m.2", map[string]string{"AzIoTHub_FaultOperationType": "KillTcp"},
			"devices/d:1/modules/m.2/messages/events/AzIoTHub_FaultOperationType=KillTcp"},
	} {
		if got := hub.EventsTopic(tc.device, tc.module, tc.props); got != tc.want {
			t.Errorf("EventsTopic(%q, %q, %v) = %q, want %q", tc.device, tc.module, tc.props, got, tc.want)
		}
	}
}
