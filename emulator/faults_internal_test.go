package emulator

import (
	"log/slog"
	"maps"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

func TestEventProperties(t *testing.T) {
	dev, mod := identity{"d", ""}, identity{"d", "m"}
	for _, tc := range []struct {
		topic string
		id    identity
		want  map[string]string
	}{
		{"devices/d/messages/events/", dev, map[string]string{}},
		{"devices/d/messages/events/a=1&b=two", dev, map[string]string{"a": "1", "b": "two"}},
		{"devices/d/modules/m/messages/events/a=1", mod, map[string]string{"a": "1"}},
		{"devices/d/messages/events/?a=1/", dev, map[string]string{"a": "1"}},
		{"devices/d/messages/events/k%20x=v%26w%3D%2F&k2=a+b", dev, map[string]string{"k x": "v&w=/", "k2": "a+b"}},
		{"devices/d/messages/events/a=1&a=2&=3&flag", dev, map[string]string{"a": "1", "flag": ""}},
		{"devices/d/messages/events/bad=%zz", dev, map[string]string{"bad": "%zz"}},
		{"devices/d/messages/events/%24.ct=application%2Fjson&%24.ce=utf-8", dev, map[string]string{"$.ct": "application/json", "$.ce": "utf-8"}},
		{"devices/other/messages/events/a=1", dev, nil},
	} {
		if got := eventProperties(tc.topic, tc.id); !maps.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("eventProperties(%q) = %v, want %v", tc.topic, got, tc.want)
		}
	}
}

func TestParseFaultRequest(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		delay, duration string
		want            [2]time.Duration
	}{
		{"1", "5", [2]time.Duration{time.Second, 5 * time.Second}},
		{" 1.5 ", "0.25", [2]time.Duration{1500 * time.Millisecond, 250 * time.Millisecond}},
		{"-1", "abc", [2]time.Duration{0, 0}},
		{"NaN", "Inf", [2]time.Duration{0, 0}},
		{"1e400", "86401", [2]time.Duration{0, 0}},
		{"", "86400", [2]time.Duration{0, 24 * time.Hour}},
	} {
		f, ok := parseFaultRequest(map[string]string{
			propFaultType: "KillTcp", propFaultReason: "boom",
			propFaultDelay: tc.delay, propFaultDuration: tc.duration,
		}, log, "d")
		if !ok || f.kind != "KillTcp" || f.reason != "boom" || f.delay != tc.want[0] || f.duration != tc.want[1] {
			t.Errorf("delay %q duration %q: %+v %v, want %v", tc.delay, tc.duration, f, ok, tc.want)
		}
	}
	if _, ok := parseFaultRequest(map[string]string{propFaultDelay: "1"}, log, "d"); ok {
		t.Error("a message without a fault type is a fault request")
	}
}

// FuzzFaultRequest: no topic makes the property parser or the fault parser
// panic, and every delay and duration is within [0, maxFaultSeconds].
func FuzzFaultRequest(f *testing.F) {
	f.Add("AzIoTHub_FaultOperationType=KillTcp&AzIoTHub_FaultOperationDelayInSecs=1")
	f.Add("AzIoTHub_FaultOperationType=InvokeThrottling&AzIoTHub_FaultOperationDurationInSecs=1e308")
	f.Add("?%zz=%&&==&AzIoTHub_FaultOperationDelayInSecs=-0x1p-2/")
	log := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, bag string) {
		id := identity{"d", "m"}
		props := eventProperties(telemetryPrefix(id)+bag, id)
		props[propFaultType] = "KillTcp"
		fr, _ := parseFaultRequest(props, log, "d/m")
		for _, d := range []time.Duration{fr.delay, fr.duration} {
			if d < 0 || d > maxFaultSeconds*time.Second {
				t.Fatalf("bag %q: duration %s out of range", bag, d)
			}
		}
	})
}

// TestFaultsStopCancelsPendingDelays: after stop, no delayed fault is left
// to fire and no new one is scheduled or run.
func TestFaultsStopCancelsPendingDelays(t *testing.T) {
	reg := newRegistry(nil)
	mustPutDevice(t, reg, "d", `{}`)
	f := newFaults(reg)
	f.after("d", time.Hour, func() { t.Error("a delayed fault ran after stop") })
	if len(f.timers) != 1 {
		t.Fatalf("%d fault timers before stop, want 1", len(f.timers))
	}
	f.stop()
	if len(f.timers) != 0 {
		t.Fatalf("%d fault timers left after stop", len(f.timers))
	}
	clk, _ := reg.deviceClock("d")
	if n := clk.Pending(); n != 0 {
		t.Fatalf("%d timers left on the device's clock after stop", n)
	}
	f.after("d", 0, func() { t.Error("a fault ran after stop") })
	f.after("d", time.Millisecond, func() { t.Error("a fault was scheduled after stop") })
	if len(f.timers) != 0 {
		t.Fatal("a fault was scheduled after stop")
	}
	select {
	case <-f.done:
	default:
		t.Fatal("stop did not end the control plane's long polls")
	}
	f.stop() // twice is fine
}

func TestFaultWindowsOnlyGrow(t *testing.T) {
	f := newFaults(newRegistry(nil))
	id := identity{"d", ""}
	f.openWindow(f.throttled, id, time.Hour)
	f.openWindow(f.throttled, id, time.Nanosecond)
	if !f.inWindow(f.throttled, id) || f.inWindow(f.throttled, identity{"d", "m"}) || f.inWindow(f.refused, id) {
		t.Fatal("windows: a short fault cut a long one short, or a window leaked to another identity or kind")
	}
	f.openWindow(f.refused, id, 0)
	if f.inWindow(f.refused, id) {
		t.Fatal("a window of no duration is open")
	}
}

// TestAFaultsWindowOpensBeforeItsPUBACK: a fault requested without delay is
// in force once the hub has taken the request in (OnPublish, before the
// PUBACK leaves), so a client that has its PUBACK, or a test that moves
// the device's clock right after, meets the window already open; a delayed
// fault opens nothing yet, and only the requesting identity's window opens.
func TestAFaultsWindowOpensBeforeItsPUBACK(t *testing.T) {
	reg := newRegistry(nil)
	mustPutDevice(t, reg, "d", `{}`)
	h := &faultHook{faults: newFaults(reg), log: slog.New(slog.DiscardHandler)}
	publish := func(clientID, topic string) {
		t.Helper()
		if _, err := h.OnPublish(&mqtt.Client{ID: clientID}, packets.Packet{TopicName: topic}); err != nil {
			t.Fatalf("OnPublish refused %s: %v", topic, err)
		}
	}
	d, m := identity{"d", ""}, identity{"d", "m"}
	publish("d", "devices/d/messages/events/AzIoTHub_FaultOperationType=InvokeThrottling&AzIoTHub_FaultOperationDurationInSecs=3")
	if !h.faults.throttledTwin(d) {
		t.Fatal("InvokeThrottling without delay: no window open before the PUBACK")
	}
	publish("d/m", "devices/d/modules/m/messages/events/AzIoTHub_FaultOperationType=InvokeAuthError&AzIoTHub_FaultOperationDelayInSecs=1&AzIoTHub_FaultOperationDurationInSecs=3")
	if h.faults.refusedConnect(m) != nil {
		t.Fatal("InvokeAuthError with a delay of 1 s: the window opened before its delay")
	}
	publish("d/m", "devices/d/modules/m/messages/events/AzIoTHub_FaultOperationType=InvokeAuthError&AzIoTHub_FaultOperationDurationInSecs=3")
	if h.faults.refusedConnect(m) == nil {
		t.Fatal("InvokeAuthError without delay: connects not refused before the PUBACK")
	}
	if h.faults.refusedConnect(d) != nil || h.faults.throttledTwin(m) {
		t.Fatal("a fault's window opened for another identity, or of another kind")
	}
}
