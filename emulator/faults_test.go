package emulator_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub"
)

// faultTopic is the telemetry topic of a fault-injection message, written
// by hand as the SDK suites' messages arrive on the wire.
func faultTopic(m *hub.Module, kind, delay, duration string) string {
	return "devices/" + m.DeviceID + "/modules/" + m.ModuleID + "/messages/events/" +
		"AzIoTHub_FaultOperationType=" + kind + "&AzIoTHub_FaultOperationCloseReason=boom" +
		"&AzIoTHub_FaultOperationDelayInSecs=" + delay + "&AzIoTHub_FaultOperationDurationInSecs=" + duration
}

func connected(t *testing.T, s *emulator.Server, m *hub.Module) (*rawClient, creds) {
	t.Helper()
	c := moduleCreds(t, s, m, "", time.Now().Add(time.Hour))
	rc := mustDial(t, s, c)
	rc.subscribe(t, "$iothub/twin/res/#")
	return rc, c
}

// answer sends a twin request and returns the status of its answer.
func (rc *rawClient) answer(t *testing.T, topic, rid, body string) (int, []byte) {
	t.Helper()
	rc.publish(t, topic+rid, 1, body)
	m := rc.next(t)
	status, rest, _ := strings.Cut(strings.TrimPrefix(m.Topic(), "$iothub/twin/res/"), "/?$rid=")
	if !strings.HasPrefix(rest, rid) {
		t.Fatalf("answer on %s, want $rid=%s", m.Topic(), rid)
	}
	n, _ := strconv.Atoi(status)
	return n, m.Payload()
}

// eventually polls check every 50 ms until it holds or wait has passed.
func eventually(t *testing.T, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not so after %s", what, wait)
		}
		<-tick.C
	}
}

func TestFaultClosesOnlyTheConnectionThatAsked(t *testing.T) {
	for _, kind := range []string{"KillTcp", "ShutDownMqtt"} {
		t.Run(kind, func(t *testing.T) {
			s, reg := startHub(t)
			m := createModule(t, reg, "dev1", "mod1")
			rc, c := connected(t, s, m)
			other, _ := connected(t, s, createModule(t, reg, "dev1", "mod2"))
			rc.publish(t, faultTopic(m, kind, "0", "0"), 1, "")
			rc.closedByHub(t)
			other.subscribe(t, "$iothub/twin/PATCH/properties/desired/#") // a round trip: still open
			if again := mustDial(t, s, c); !again.sessionPresent {
				t.Fatal("the persistent session did not survive the fault")
			}
		})
	}
}

func TestFaultWaitsForItsDelay(t *testing.T) {
	s, reg := startHub(t)
	m := createModule(t, reg, "dev1", "mod1")
	rc, _ := connected(t, s, m)
	rc.publish(t, faultTopic(m, "ShutDownMqtt", "1", "0"), 1, "")
	if status, _ := rc.answer(t, "$iothub/twin/GET/?$rid=", "1", ""); status != 200 {
		t.Fatalf("GET before the delay passed: %d", status)
	}
	rc.closedByHub(t)
}

// TestFaultNeverClosesTheNextConnection: a delayed close meant for a
// connection that has since been replaced leaves its successor alone.
func TestFaultNeverClosesTheNextConnection(t *testing.T) {
	gone := make(chan struct{}, 1)
	s, reg := startHubWith(t, emulator.Options{Logger: slog.New(&recordWatch{
		msg: "mqtt fault injection: the connection that asked is gone; nothing closed", seen: gone,
	})})
	m := createModule(t, reg, "dev1", "mod1")
	first, c := connected(t, s, m)
	first.publish(t, faultTopic(m, "KillTcp", "1", "0"), 1, "")
	second := mustDial(t, s, c)
	first.closedByHub(t) // taken over by the second
	select {
	case <-gone:
	case <-time.After(wait):
		t.Fatal("the delayed fault never fired")
	}
	second.subscribe(t, "$iothub/twin/res/#") // a round trip: still open
}

func TestFaultInvokeThrottling(t *testing.T) {
	s, reg := startHub(t)
	m := createModule(t, reg, "dev1", "mod1")
	rc, _ := connected(t, s, m)
	other, _ := connected(t, s, createModule(t, reg, "dev1", "mod2"))
	rc.publish(t, faultTopic(m, "InvokeThrottling", "0", "2"), 1, "")

	status, body := rc.answer(t, "$iothub/twin/GET/?$rid=", "1", "")
	var detail struct{ ErrorCode int }
	if err := json.Unmarshal(body, &detail); status != 429 || err != nil || detail.ErrorCode != 429001 {
		t.Fatalf("throttled GET: %d %s, want 429 with errorCode 429001", status, body)
	}
	if status, _ := rc.answer(t, "$iothub/twin/PATCH/properties/reported/?$rid=", "2", `{"x":1}`); status != 429 {
		t.Fatalf("throttled reported PATCH: %d", status)
	}
	rc.publish(t, "devices/dev1/modules/mod1/messages/events/", 1, "telemetry") // still acknowledged
	if status, _ := other.answer(t, "$iothub/twin/GET/?$rid=", "3", ""); status != 200 {
		t.Fatalf("another module's GET: %d", status)
	}
	twin, err := reg.GetModuleTwin(context.Background(), "dev1", "mod1")
	if err != nil || twin.ReportedVersion() != 1 {
		t.Fatalf("a throttled report was applied: %v, %v", twin, err)
	}
	rid := 3
	eventually(t, "GET answered 200 after the throttle", func() bool {
		rid++
		status, _ := rc.answer(t, "$iothub/twin/GET/?$rid=", strconv.Itoa(rid), "")
		return status == 200
	})
}

func TestFaultInvokeAuthError(t *testing.T) {
	s, reg := startHub(t)
	m := createModule(t, reg, "dev1", "mod1")
	rc, c := connected(t, s, m)
	rc.publish(t, faultTopic(m, "InvokeAuthError", "0", "2"), 1, "")
	rc.closedByHub(t)
	if _, err := dialRaw(s, c, 4); err == nil || !strings.Contains(err.Error(), "connack 5") {
		t.Fatalf("reconnect during the window: %v, want CONNACK 5", err)
	}
	connected(t, s, createModule(t, reg, "dev1", "mod2")) // another identity connects
	eventually(t, "reconnect accepted after the window", func() bool {
		again, err := dialRaw(s, c, 4)
		if err == nil {
			again.c.Disconnect(0)
		}
		return err == nil
	})
}

// TestFaultRequestsTheEmulatorDoesNotKnowAreIgnored: AMQP faults and bad
// numbers are acknowledged; numbers that are not seconds count as 0.
func TestFaultRequestsTheEmulatorDoesNotKnowAreIgnored(t *testing.T) {
	s, reg := startHub(t)
	m := createModule(t, reg, "dev1", "mod1")
	rc, _ := connected(t, s, m)
	rc.publish(t, faultTopic(m, "KillAmqpConnection", "0", "5"), 1, "")
	rc.publish(t, faultTopic(m, "InvokeThrottling", "0", "-5"), 1, "")
	if status, _ := rc.answer(t, "$iothub/twin/GET/?$rid=", "1", ""); status != 200 {
		t.Fatalf("GET after ignored faults: %d", status)
	}
	rc.publish(t, faultTopic(m, "KillTcp", "soon", "%zz"), 1, "")
	rc.closedByHub(t)
}

// recordWatch is a slog handler that signals when a record with msg is
// logged, so a test waits for an event inside the emulator, not for time.
type recordWatch struct {
	msg  string
	seen chan struct{}
}

func (h *recordWatch) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordWatch) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordWatch) WithGroup(string) slog.Handler            { return h }
func (h *recordWatch) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		select {
		case h.seen <- struct{}{}:
		default:
		}
	}
	return nil
}
