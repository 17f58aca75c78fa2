package emulator_test

import (
	"context"
	"testing"
	"time"
)

// TestSendEventReachesTheHub: an ordinary event is acknowledged, and a
// fault-injection event's properties arrive as the hub reads them: the
// emulator honours the KillTcp it asks for and the client reconnects.
func TestSendEventReachesTheHub(t *testing.T) {
	s, _, cs, opts := moduleOnEmulator(t)
	c := dialModule(t, cs, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.SendEvent(ctx, []byte(`{"temperature":21.5}`), map[string]string{"unit": "°C", "k x": "a&b"}); err != nil {
		t.Fatal(err)
	}
	if err := c.SendEvent(ctx, nil, map[string]string{
		"AzIoTHub_FaultOperationType": "KillTcp", "AzIoTHub_FaultOperationCloseReason": "boom",
		"AzIoTHub_FaultOperationDelayInSecs": "0", "AzIoTHub_FaultOperationDurationInSecs": "0",
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.AwaitConnections(ctx, "dev1", "mod1", 2); err != nil {
		t.Fatalf("the hub did not act on the event's properties: %v", err)
	}
	if _, err := c.GetTwin(ctx); err != nil {
		t.Fatalf("after the reconnect: %v", err)
	}
}

func TestSendEventFailsWhenClosedOrCancelled(t *testing.T) {
	_, _, cs, opts := moduleOnEmulator(t)
	c := dialModule(t, cs, opts)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.SendEvent(cancelled, []byte("x"), nil); err == nil {
		t.Error("SendEvent with a cancelled context succeeded")
	}
	c.Close()
	if err := c.SendEvent(context.Background(), []byte("x"), nil); err == nil {
		t.Error("SendEvent on a closed client succeeded")
	}
}
