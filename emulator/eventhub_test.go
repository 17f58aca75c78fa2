package emulator_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/hubspec/hubspec/emulator"
)

// eventHubConsumer is an azeventhubs consumer on the emulator's built-in
// endpoint, with the connection string the emulator prints and its CA.
func eventHubConsumer(t *testing.T, s *emulator.Server, cs string) *azeventhubs.ConsumerClient {
	t.Helper()
	// go-amqp takes the TLS server name from the endpoint's host:port
	// unless one is set (go-amqp conn.go), so the name is set here.
	tlsConfig := s.TLSConfig()
	tlsConfig.ServerName = "localhost"
	c, err := azeventhubs.NewConsumerClientFromConnectionString(cs, "", azeventhubs.DefaultConsumerGroup,
		&azeventhubs.ConsumerClientOptions{TLSConfig: tlsConfig})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// partitionOf finds the partition that holds the device's events by
// asking every partition's properties, as a reader without the hash would.
func partitionWithEvents(ctx context.Context, t *testing.T, c *azeventhubs.ConsumerClient) azeventhubs.PartitionProperties {
	t.Helper()
	props, err := c.GetEventHubProperties(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(props.PartitionIDs) != 4 || props.Name != "localhost" {
		t.Fatalf("event hub properties: %+v, want 4 partitions of localhost", props)
	}
	for _, id := range props.PartitionIDs {
		pp, err := c.GetPartitionProperties(ctx, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !pp.IsEmpty {
			return pp
		}
	}
	t.Fatal("no partition holds an event")
	return azeventhubs.PartitionProperties{}
}

func receiveOne(ctx context.Context, t *testing.T, pc *azeventhubs.PartitionClient) *azeventhubs.ReceivedEventData {
	t.Helper()
	evs, err := pc.ReceiveEvents(ctx, 1, nil)
	if err != nil || len(evs) != 1 {
		t.Fatalf("ReceiveEvents: %d events, %v", len(evs), err)
	}
	return evs[0]
}

// TestTelemetryReachesTheBuiltInEndpoint: a module's telemetry, sent over
// MQTT with application and system properties, is read by azeventhubs
// from the earliest position with IoT Hub's annotations; a reader from
// the latest position sees only what comes after it.
func TestTelemetryReachesTheBuiltInEndpoint(t *testing.T) {
	s, _, cs, opts := moduleOnEmulatorWith(t, emulator.Options{DisableTwinAndLifecycleEvents: true})
	dev := dialModule(t, cs, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := dev.SendEvent(ctx, []byte(`{"t":21.5}`), map[string]string{"unit": "°C", "$.mid": "m-1", "$.ct": "application/json", "$.ce": "utf-8"}); err != nil {
		t.Fatal(err)
	}
	c := eventHubConsumer(t, s, s.EventHubConnectionString())
	pp := partitionWithEvents(ctx, t, c)
	if pp.LastEnqueuedSequenceNumber != 0 || pp.BeginningSequenceNumber != 0 {
		t.Errorf("partition properties %+v, want one event at sequence 0", pp)
	}
	pc, err := c.NewPartitionClient(pp.PartitionID, &azeventhubs.PartitionClientOptions{StartPosition: azeventhubs.StartPosition{Earliest: to(true)}})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx)
	ev := receiveOne(ctx, t, pc)
	if string(ev.Body) != `{"t":21.5}` || ev.Properties["unit"] != "°C" {
		t.Errorf("event body %q properties %v", ev.Body, ev.Properties)
	}
	if ev.MessageID == nil || *ev.MessageID != "m-1" || ev.ContentType == nil || *ev.ContentType != "application/json" {
		t.Errorf("message-id %v content-type %v, want m-1 application/json", ev.MessageID, ev.ContentType)
	}
	sp := ev.SystemProperties
	if sp["iothub-connection-device-id"] != "dev1" || sp["iothub-connection-module-id"] != "mod1" || sp["iothub-message-source"] != "Telemetry" {
		t.Errorf("system properties %v", sp)
	}
	if ev.SequenceNumber != 0 || ev.EnqueuedTime == nil || ev.EnqueuedTime.IsZero() {
		t.Errorf("sequence %d enqueued %v", ev.SequenceNumber, ev.EnqueuedTime)
	}

	latest, err := c.NewPartitionClient(pp.PartitionID, &azeventhubs.PartitionClientOptions{StartPosition: azeventhubs.StartPosition{Latest: to(true)}})
	if err != nil {
		t.Fatal(err)
	}
	defer latest.Close(ctx)
	// The link is attached lazily by ReceiveEvents: a short receive attaches
	// it and must find nothing, since the only event came before it.
	short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
	evs, _ := latest.ReceiveEvents(short, 1, nil)
	cancelShort()
	if len(evs) != 0 {
		t.Fatalf("a reader from latest saw %d earlier events", len(evs))
	}
	if err := dev.SendEvent(ctx, []byte("second"), nil); err != nil {
		t.Fatal(err)
	}
	if ev := receiveOne(ctx, t, latest); string(ev.Body) != "second" || ev.SequenceNumber != 1 {
		t.Errorf("after latest: body %q sequence %d", ev.Body, ev.SequenceNumber)
	}
	if ev := receiveOne(ctx, t, pc); string(ev.Body) != "second" {
		t.Errorf("the earliest reader's second event: %q", ev.Body)
	}
}

// TestBuiltInEndpointRefusesBadKeys: a connection string whose key is
// wrong is refused on $cbs, and a policy without ServiceConnect is too.
func TestBuiltInEndpointRefusesBadKeys(t *testing.T) {
	s, _ := startHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	good := s.EventHubConnectionString()
	bad := good[:strings.Index(good, "SharedAccessKey=")] + "SharedAccessKey=AAAA" + good[strings.Index(good, ";EntityPath"):]
	if _, err := eventHubConsumer(t, s, bad).GetEventHubProperties(ctx, nil); err == nil {
		t.Error("a wrong key read the event hub's properties")
	}
	rr, err := s.PolicyConnectionString("registryRead")
	if err != nil {
		t.Fatal(err)
	}
	key := rr[strings.Index(rr, "SharedAccessKey=")+len("SharedAccessKey="):]
	noSC := strings.Replace(good[:strings.Index(good, "SharedAccessKey=")], "iothubowner", "registryRead", 1) +
		"SharedAccessKey=" + key + good[strings.Index(good, ";EntityPath"):]
	if _, err := eventHubConsumer(t, s, noSC).GetEventHubProperties(ctx, nil); err == nil {
		t.Error("a policy without ServiceConnect read the event hub's properties")
	}
}

func to[T any](v T) *T { return &v }
