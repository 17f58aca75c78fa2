package steps

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"time"

	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"
	"github.com/hubspec/hubspec/steps/internal/vocab"
)

// c2dVocabulary is cloud-to-device messaging: the service sends messages
// to a device over AMQP and reads the hub's feedback; the device receives
// them over MQTT.
var c2dVocabulary = []vocab.Def{
	step(c2d, `^device ("[^"]+") listens for cloud-to-device messages$`, listenC2D,
		"The connected device subscribes to its cloud-to-device messages; each one it receives is acknowledged, which completes it on the hub."),
	step(c2d, `^the service sends cloud-to-device message "([^"]+)" to device ("[^"]+")(?: asking for (none|positive|negative|full) acknowledgement)?(?: expiring in (\d+) seconds?)?$`, sendC2D,
		"The service sends a message to the device over AMQP: its id is made unique to the scenario, its body and an application property name it; the hub's refusal is left for the next step to check.",
		"<message> the message's alias, which later steps use", "", "<ack> which outcomes the hub reports as feedback (iothub-ack; default none)",
		"<seconds> the message's absolute expiry, from now (default: the hub's time to live)"),
	step(c2d, `^the service sends (\d+) cloud-to-device messages to device ("[^"]+")$`, sendManyC2D,
		"The service sends N messages to the device, each of which the hub must accept.",
		"<N> how many messages"),
	step(c2d, `^device ("[^"]+") receives cloud-to-device message "([^"]+)"$`, receivesC2D,
		"The next message the listening device receives is exactly the one the service sent: body, message id and application properties.",
		"", "<message> the alias the service sent it under"),
	step(c2d, `^device ("[^"]+") receives no cloud-to-device message within (\d+) seconds?$`, receivedNoC2D,
		"The listening device receives nothing within N seconds: on a live hub the step watches the whole window; on an emulator it ends as soon as the hub proves that nothing sent before the step can still arrive.",
		"", "<N> the window in seconds"),
	step(c2d, `^the service gets "(Success|Expired|DeliveryCountExceeded|Rejected|Purged)" feedback for cloud-to-device message "([^"]+)"$`, feedbackFor,
		"The hub's feedback about the message reaches the service, with this status code and the device's id (a live hub batches feedback: this waits up to 90 seconds).",
		"<status> the feedback's statusCode", "<message> the alias the service sent it under"),
}

// feedbackWait bounds the wait for feedback: a real hub sends a batch
// when it holds 64 records or 15 seconds after the last one.
const feedbackWait = 90 * time.Second

// c2dSent is a message the service sent, by alias.
type c2dSent struct {
	deviceAlias string
	msg         service.CloudMessage
}

// listenC2D subscribes the device's client to its messages.
func listenC2D(ctx context.Context, alias string) error {
	_, s, err := identityIn(ctx, "device", alias)
	if err != nil {
		return err
	}
	if s.client == nil {
		return fmt.Errorf("device %s is not connected: connect it first", alias)
	}
	ch, err := s.client.CloudMessages(ctx)
	if err != nil {
		return err
	}
	s.cloud = ch
	return nil
}

// messaging is the scenario's cloud-to-device client, dialled on first use
// and closed with the scenario.
func (w *world) messaging(ctx context.Context) (*service.MessagingClient, error) {
	if w.c2dClient != nil {
		return w.c2dClient, nil
	}
	c, err := w.sc.Run.Messaging(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect the service over AMQP: %w", err)
	}
	w.c2dClient = c
	w.sc.Defer("close the cloud-to-device client", func(context.Context) error { return c.Close() })
	return c, nil
}

// sendC2D sends one message; a refusal is kept for the next step.
func sendC2D(ctx context.Context, alias, deviceAlias, ack, seconds string) error {
	w, s, err := identityIn(ctx, "device", deviceAlias)
	if err != nil {
		return err
	}
	id, _, err := w.ids(s.ident)
	if err != nil {
		return err
	}
	msg := service.CloudMessage{
		MessageID: w.sc.Name(alias), Ack: ack, ContentType: "text/plain",
		Properties: map[string]string{"hubspec-message": alias},
		Body:       []byte("cloud-to-device message " + alias),
	}
	if seconds != "" {
		n, _ := strconv.Atoi(seconds)
		msg.Expiry = time.Now().Add(time.Duration(n) * time.Second)
	}
	c, err := w.messaging(ctx)
	if err != nil {
		return err
	}
	if w.c2dSent == nil {
		w.c2dSent = map[string]c2dSent{}
	}
	w.c2dSent[alias] = c2dSent{deviceAlias: deviceAlias, msg: msg}
	if err := c.Send(ctx, id, msg); err != nil {
		return w.refused(err)
	}
	return nil
}

// sendManyC2D sends n messages, every one of which must be accepted.
func sendManyC2D(ctx context.Context, n, deviceAlias string) error {
	count, _ := strconv.Atoi(n)
	w := worldFrom(ctx)
	for i := 1; i <= count; i++ {
		if err := sendC2D(ctx, fmt.Sprintf("bulk-%d", i), deviceAlias, "", ""); err != nil {
			return err
		}
		if err := w.takeRefusal(); err != nil {
			return fmt.Errorf("message %d of %d: %w", i, count, err)
		}
	}
	return nil
}

// receivesC2D checks the next message the device received.
func receivesC2D(ctx context.Context, deviceAlias, alias string) error {
	w, s, err := identityIn(ctx, "device", deviceAlias)
	if err != nil {
		return err
	}
	sent, ok := w.c2dSent[alias]
	if !ok {
		return fmt.Errorf("the service has sent no cloud-to-device message %q", alias)
	}
	if s.cloud == nil {
		return fmt.Errorf("device %s does not listen for cloud-to-device messages", deviceAlias)
	}
	wait, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	select {
	case got, open := <-s.cloud:
		if !open {
			return errors.New("the device's client closed")
		}
		return sameC2D(got, sent.msg)
	case <-wait.Done():
		return fmt.Errorf("device %s received no cloud-to-device message within %s (waiting for %q)", deviceAlias, waitFor, alias)
	}
}

// sameC2D compares what the device received with what was sent.
func sameC2D(got device.CloudMessage, want service.CloudMessage) error {
	if got.MessageID != want.MessageID || string(got.Body) != string(want.Body) ||
		got.ContentType != want.ContentType || !maps.Equal(got.Properties, want.Properties) {
		return fmt.Errorf("the device received message %q (body %q, content type %q, properties %v), want %q (body %q, content type %q, properties %v)",
			got.MessageID, got.Body, got.ContentType, got.Properties, want.MessageID, want.Body, want.ContentType, want.Properties)
	}
	return nil
}

// receivedNoC2D checks that nothing waits on the device's channel.
func receivedNoC2D(ctx context.Context, deviceAlias, secs string) error {
	w, s, err := identityIn(ctx, "device", deviceAlias)
	if err != nil {
		return err
	}
	if s.cloud == nil || s.client == nil {
		return fmt.Errorf("device %s does not listen for cloud-to-device messages", deviceAlias)
	}
	c := s.client
	src := source{
		who: s.ident, ch: reflect.ValueOf(s.cloud), tap: s.taps[c],
		held: func() bool { return c.PendingCloudMessages() > 0 },
		arrived: func(v reflect.Value, open bool) string {
			if !open {
				return "its connection closed"
			}
			got := v.Interface().(device.CloudMessage)
			return fmt.Sprintf("message %q (body %q)", got.MessageID, got.Body)
		},
	}
	return w.expectNothing(ctx, seconds(secs), []source{src}, func(i ident, what string) error {
		return fmt.Errorf("%s received %s", i, what)
	})
}

// feedbackFor waits for the hub's feedback about a message.
func feedbackFor(ctx context.Context, status, alias string) error {
	w := worldFrom(ctx)
	sent, ok := w.c2dSent[alias]
	if !ok {
		return fmt.Errorf("the service has sent no cloud-to-device message %q", alias)
	}
	_, s, err := identityIn(ctx, "device", sent.deviceAlias)
	if err != nil {
		return err
	}
	id, _, err := w.ids(s.ident)
	if err != nil {
		return err
	}
	wait, cancel := context.WithTimeout(ctx, feedbackWait)
	defer cancel()
	rec, err := w.sc.Run.AwaitFeedback(wait, sent.msg.MessageID)
	if err != nil {
		return err
	}
	if rec.StatusCode != status || rec.DeviceID != id {
		return fmt.Errorf("feedback for %q: status %q for device %q, want %q for %q", alias, rec.StatusCode, rec.DeviceID, status, id)
	}
	return nil
}
