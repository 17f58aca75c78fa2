package emulator

import (
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// TestBrokerHooksNeedNoServe holds serveBroker to what it leaves out of
// mochi-mqtt's Server.Serve: none of the emulator's hooks may want
// OnStarted or restore state through the Stored* hooks, which only Serve
// calls. It names the mochi version serveBroker was written against, so an
// upgrade makes someone compare serveBroker with the new Serve.
func TestBrokerHooksNeedNoServe(t *testing.T) {
	if mqtt.Version != "2.7.9" {
		t.Fatalf("mochi-mqtt is %s: compare serveBroker (mqtt_broker.go) with this version's Server.Serve and eventLoop, then update this test", mqtt.Version)
	}
	hooks := []mqtt.Hook{&authHook{}, &telemetryHook{}, &faultHook{}, &aclHook{}, &connections{}, &twinHook{}, &methodHook{}, &willHook{}, &c2dHook{}}
	for _, h := range hooks {
		for _, b := range []byte{mqtt.OnStarted, mqtt.StoredClients, mqtt.StoredInflightMessages, mqtt.StoredRetainedMessages, mqtt.StoredSubscriptions, mqtt.StoredSysInfo} {
			if h.Provides(b) {
				t.Errorf("hook %T provides %d, which only mochi's Server.Serve calls: serveBroker must call it too", h, b)
			}
		}
	}
}
