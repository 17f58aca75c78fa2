package steps

import (
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub"
)

// TestPolicyToken: the token is the identity's (its resource), signed
// with the policy's key and naming the policy, as a token service holding
// the policy's key makes one; anything but an identity's connection
// string and a policy's is refused.
func TestPolicyToken(t *testing.T) {
	const (
		module = "HostName=hub.example:8443;DeviceId=house;ModuleId=thermostat;SharedAccessKey=b3duIGtleQ=="
		policy = "HostName=hub.example:8443;SharedAccessKeyName=device;SharedAccessKey=ZGV2aWNlIHBvbGljeQ=="
	)
	now := time.Unix(1_700_000_000, 0)
	token, err := policyToken(module, policy, now)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := hub.BuildSASToken("hub.example:8443/devices/house/modules/thermostat", "ZGV2aWNlIHBvbGljeQ==", "device", now.Add(time.Hour))
	if token != want {
		t.Errorf("token %q, want %q", token, want)
	}
	parsed, err := hub.ParseSASToken(token)
	if err != nil || parsed.Policy != "device" || !parsed.Expiry.Equal(now.Add(time.Hour)) {
		t.Errorf("token %+v, %v: want one of policy device for an hour", parsed, err)
	}
	for _, bad := range [][2]string{{policy, policy}, {module, module}, {module, "not a connection string"}} {
		if _, err := policyToken(bad[0], bad[1], now); err == nil || strings.Contains(err.Error(), "ZGV2") {
			t.Errorf("policyToken(%q, %q) = %v, want an error without the key", bad[0], bad[1], err)
		}
	}
}
