package emulator_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/Azure/go-amqp"
	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"
)

// c2dDevice creates a device and returns its connection string.
func c2dDevice(t testing.TB, s *emulator.Server, reg *service.RegistryClient, id string) string {
	t.Helper()
	d, err := reg.CreateDevice(context.Background(), &hub.Device{DeviceID: id})
	if err != nil {
		t.Fatal(err)
	}
	return hub.ConnectionString{HostName: s.HostName(), DeviceID: id, SharedAccessKey: d.Authentication.SymmetricKey.PrimaryKey}.String()
}

// dialC2D connects a device and subscribes it to its messages.
func dialC2D(t testing.TB, s *emulator.Server, cs string) (*device.Client, <-chan device.CloudMessage) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := device.DialDevice(ctx, cs, device.WithTLSConfig(s.TLSConfig()), device.WithAddress(s.MQTTAddr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	msgs, err := c.CloudMessages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c, msgs
}

func dialMessaging(t testing.TB, s *emulator.Server) *service.MessagingClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := service.DialMessaging(ctx, s.ConnectionString(), service.WithTLSConfig(s.TLSConfig()), service.WithAMQPAddress(s.AMQPAddr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// awaitFeedback returns the first feedback record about messageID.
func awaitFeedback(ctx context.Context, t testing.TB, m *service.MessagingClient, messageID string) service.FeedbackRecord {
	t.Helper()
	for {
		records, err := m.ReceiveFeedback(ctx)
		if err != nil {
			t.Fatalf("feedback for %s: %v", messageID, err)
		}
		for _, r := range records {
			if r.OriginalMessageID == messageID {
				return r
			}
		}
	}
}

// TestCloudToDeviceFullAck: the device receives exactly what the service
// sent (body, system and application properties, through the topic's
// property bag), and the service gets Success feedback for it.
func TestCloudToDeviceFullAck(t *testing.T) {
	s, reg := startHub(t)
	cs := c2dDevice(t, s, reg, "dev1")
	_, msgs := dialC2D(t, s, cs)
	m := dialMessaging(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	sent := service.CloudMessage{
		MessageID: "m-1", CorrelationID: "c/1", Ack: service.AckFull, ContentType: "application/json",
		ContentEncoding: "utf-8", Properties: map[string]string{"k": "v w&x=y", "plus": "a+b"}, Body: []byte(`{"on":true}`),
	}
	if err := m.Send(ctx, "dev1", sent); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-msgs:
		if string(got.Body) != string(sent.Body) || got.MessageID != "m-1" || got.CorrelationID != "c/1" ||
			got.ContentType != "application/json" || got.ContentEncoding != "utf-8" || got.Ack != "full" ||
			got.To != "/devices/dev1/messages/deviceBound" || len(got.Properties) != 2 ||
			got.Properties["k"] != "v w&x=y" || got.Properties["plus"] != "a+b" {
			t.Errorf("device received %+v", got)
		}
	case <-ctx.Done():
		t.Fatal("no message reached the device")
	}
	fb := awaitFeedback(ctx, t, m, "m-1")
	if fb.StatusCode != "Success" || fb.DeviceID != "dev1" || fb.DeviceGenerationID == "" || fb.EnqueuedTimeUTC == "" {
		t.Errorf("feedback %+v", fb)
	}
}

// TestCloudToDeviceHeldWhileOffline: a message sent while the device is
// offline arrives once it subscribes, and never at another device.
func TestCloudToDeviceHeldWhileOffline(t *testing.T) {
	s, reg := startHub(t)
	cs := c2dDevice(t, s, reg, "dev1")
	other := c2dDevice(t, s, reg, "dev2")
	_, otherMsgs := dialC2D(t, s, other)
	m := dialMessaging(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Send(ctx, "dev1", service.CloudMessage{MessageID: "held", Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	_, msgs := dialC2D(t, s, cs)
	select {
	case got := <-msgs:
		if got.MessageID != "held" {
			t.Errorf("got %+v", got)
		}
	case <-ctx.Done():
		t.Fatal("the held message never arrived")
	}
	select {
	case got := <-otherMsgs:
		t.Errorf("dev2 received dev1's message %+v", got)
	default:
	}
}

// TestCloudToDeviceQueueLimit: 50 messages wait for an offline device; the
// 51st is refused with 403004, and purging the queue makes room.
func TestCloudToDeviceQueueLimit(t *testing.T) {
	s, reg := startHub(t)
	c2dDevice(t, s, reg, "dev1")
	m := dialMessaging(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 50 {
		if err := m.Send(ctx, "dev1", service.CloudMessage{MessageID: fmt.Sprint(i), Body: []byte("x")}); err != nil {
			t.Fatalf("message %d: %v", i+1, err)
		}
	}
	err := m.Send(ctx, "dev1", service.CloudMessage{MessageID: "51", Body: []byte("x")})
	if !errors.Is(err, hub.ErrDeviceMaximumQueueDepthExceeded) {
		t.Fatalf("51st message: %v, want 403004", err)
	}
	n, err := reg.PurgeCloudMessages(ctx, "dev1")
	if err != nil || n != 50 {
		t.Fatalf("purge: %d, %v; want 50 purged", n, err)
	}
	if err := m.Send(ctx, "dev1", service.CloudMessage{MessageID: "after", Body: []byte("x")}); err != nil {
		t.Errorf("after the purge: %v", err)
	}
}

// TestCloudToDeviceExpiry: a message whose expiry passes (by the
// emulator's clock) while its device is offline gets Expired feedback and
// is never delivered.
func TestCloudToDeviceExpiry(t *testing.T) {
	clock := &fakeClock{at: time.Now()}
	s, reg := startHubWith(t, emulator.Options{Now: clock.now})
	cs := c2dDevice(t, s, reg, "dev1")
	m := dialMessaging(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg := service.CloudMessage{MessageID: "old", Ack: service.AckNegative, Expiry: clock.now().Add(time.Minute), Body: []byte("x")}
	if err := m.Send(ctx, "dev1", msg); err != nil {
		t.Fatal(err)
	}
	clock.advance(2 * time.Minute)
	fb := awaitFeedback(ctx, t, m, "old")
	if fb.StatusCode != "Expired" || fb.DeviceID != "dev1" {
		t.Errorf("feedback %+v", fb)
	}
	_, msgs := dialC2D(t, s, cs)
	if err := m.Send(ctx, "dev1", service.CloudMessage{MessageID: "fresh", Body: []byte("y")}); err != nil {
		t.Fatal(err)
	}
	if got := <-msgs; got.MessageID != "fresh" {
		t.Errorf("the device received %q first, want only the unexpired message", got.MessageID)
	}
}

// TestCloudToDeviceRefusals: the hub's refusals, each on the AMQP rejected
// outcome with the condition the service SDKs map.
func TestCloudToDeviceRefusals(t *testing.T) {
	s, reg := startHub(t)
	c2dDevice(t, s, reg, "dev1")
	m := dialMessaging(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Send(ctx, "nobody", service.CloudMessage{Body: []byte("x")}); !errors.Is(err, hub.ErrDeviceNotFound) {
		t.Errorf("unknown device: %v, want 404001", err)
	}
	big := service.CloudMessage{Body: []byte(strings.Repeat("x", 64<<10+1))}
	if err := m.Send(ctx, "dev1", big); !errors.Is(err, hub.ErrMessageTooLarge) {
		t.Errorf("65 KB: %v, want 413001", err)
	}
	if err := m.Send(ctx, "dev1", service.CloudMessage{Ack: "sometimes", Body: []byte("x")}); !errors.Is(err, hub.ErrArgumentInvalid) {
		t.Errorf("bad iothub-ack: %v, want 400004", err)
	}

	sess := serviceSession(ctx, t, s)
	snd, err := sess.NewSender(ctx, "/messages/devicebound", nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, to := range map[string]*string{"no to": nil, "module": ptr("/devices/dev1/modules/m/messages/devicebound")} {
		err := snd.Send(ctx, &amqp.Message{Properties: &amqp.MessageProperties{To: to}, Data: [][]byte{[]byte("x")}}, nil)
		var ae *amqp.Error
		if !errors.As(err, &ae) || ae.Condition != "com.microsoft:argument-error" {
			t.Errorf("%s: %v, want com.microsoft:argument-error", name, err)
		}
	}
}

// TestCloudToDeviceNeedsServiceConnect: without a claim the sender link is
// refused; a token of a policy without ServiceConnect is refused on $cbs.
func TestCloudToDeviceNeedsServiceConnect(t *testing.T) {
	s, _ := startHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	anon, err := dialEventHub(ctx, t, s, amqp.SASLTypeAnonymous())
	if err != nil {
		t.Fatal(err)
	}
	var ae *amqp.Error
	if _, err := anon.NewSender(ctx, "/messages/devicebound", nil); !errors.As(err, &ae) || ae.Condition != amqp.ErrCondUnauthorizedAccess {
		t.Errorf("sender without a claim: %v, want amqp:unauthorized-access", err)
	}
	cs, _ := s.PolicyConnectionString("registryReadWrite")
	_, err = service.DialMessaging(ctx, cs, service.WithTLSConfig(s.TLSConfig()), service.WithAMQPAddress(s.AMQPAddr()))
	if !errors.Is(err, hub.ErrUnauthorized) {
		t.Errorf("registryReadWrite: %v, want 401002", err)
	}
}

// serviceSession is an AMQP session holding the iothubowner claim, put
// through SASL PLAIN as the C SDK's service client does.
func serviceSession(ctx context.Context, t *testing.T, s *emulator.Server) *amqp.Session {
	t.Helper()
	token, err := hub.BuildSASToken(s.HostName(), ownerKey(t, s), "iothubowner", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := dialEventHub(ctx, t, s, amqp.SASLTypePlain("iothubowner@sas.root."+s.EventHubName(), token))
	if err != nil {
		t.Fatal(err)
	}
	return sess
}

func ptr[T any](v T) *T { return &v }
