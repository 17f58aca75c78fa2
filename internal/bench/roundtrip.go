package bench

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/hubspec/hubspec/internal/loadgen"
	"github.com/hubspec/hubspec/internal/mqttconn"
)

// A round trip is one QoS 1 PUBLISH over TLS, timed from the client's
// Publish until another PUBLISH that it caused arrives over MQTT:
//
//   - on Mosquitto, the message itself, at a second client subscribed
//     (QoS 1) to the topic the first publishes on;
//   - on the emulator, which forwards nothing from one client to another
//     (IoT Hub has no device-to-device messages), the closest path there is:
//     a device's reported-properties patch on
//     $iothub/twin/PATCH/properties/reported/?$rid={n}, which the hub
//     applies to the twin and answers on $iothub/twin/res/204/?$rid={n}
//     on the same connection (subscribed QoS 1).
//
// Both use the same paho client with the same settings (dialPaho) and the
// same message bodies (message). A client has one message in flight at a
// time; Concurrency clients run at once.

// arrival is a message a round-trip client received: the sequence number
// it answers, or what was wrong with it.
type arrival struct {
	seq int
	err error
}

// tripper is one client of a round-trip measurement.
type tripper struct {
	publish func(seq int, body []byte) paho.Token
	arrived chan arrival
	close   func()
}

// newArrivals is the channel a tripper's handler feeds. paho calls
// handlers one at a time and must not be blocked: an arrival there is no
// room for (a duplicate delivery, with one message in flight) is dropped.
func newArrivals() chan arrival { return make(chan arrival, 16) }

func offer(ch chan arrival, a arrival) {
	select {
	case ch <- a:
	default:
	}
}

// tripTimeout bounds one round trip.
const tripTimeout = 30 * time.Second

// measureTrips runs warmup untimed and then perClient timed round trips on
// every tripper at once and summarises the timed ones.
func measureTrips(ctx context.Context, trippers []tripper, warmup, perClient, size int) (loadgen.Latency, error) {
	var mu sync.Mutex
	var samples []time.Duration
	var first error
	var wg sync.WaitGroup
	for _, t := range trippers {
		wg.Go(func() {
			mine := make([]time.Duration, 0, perClient)
			for seq := range warmup + perClient {
				d, err := trip(ctx, t, seq, message(seq, size))
				if err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
					return
				}
				if seq >= warmup {
					mine = append(mine, d)
				}
			}
			mu.Lock()
			samples = append(samples, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if first != nil {
		return loadgen.Latency{}, first
	}
	return loadgen.Summarize(samples), nil
}

// trip times one round trip: from Publish to the arrival of seq. The
// PUBACK is awaited after the clock stops, so the next message never
// overtakes it.
func trip(ctx context.Context, t tripper, seq int, body []byte) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, tripTimeout)
	defer cancel()
	start := time.Now()
	tok := t.publish(seq, body)
	for {
		select {
		case a := <-t.arrived:
			if a.err != nil {
				return 0, a.err
			}
			if a.seq != seq {
				continue // a late duplicate of an earlier message
			}
			d := time.Since(start)
			if err := mqttconn.WaitToken(ctx, tok); err != nil {
				return 0, fmt.Errorf("PUBACK of message %d: %w", seq, err)
			}
			return d, nil
		case <-ctx.Done():
			return 0, fmt.Errorf("message %d: no answer: %w", seq, ctx.Err())
		}
	}
}

// bodyKey is the JSON member every round-trip message carries: a twin's
// reported property on the emulator, an opaque payload on Mosquitto.
const bodyKey = "hubspecBench"

// minMessage is the smallest message size: the JSON around a sequence
// number of 9 digits.
const minMessage = len(`{"` + bodyKey + `":"123456789"}`)

// message is the body of round trip seq: {"hubspecBench":"{seq} xx…x"}
// padded with x to size bytes (at least minMessage), valid JSON, so the
// emulator takes it as a reported patch and Mosquitto carries the same
// bytes.
func message(seq, size int) []byte {
	head := `{"` + bodyKey + `":"` + strconv.Itoa(seq)
	const tail = `"}`
	pad := max(size-len(head)-len(tail), 0)
	if pad > 0 {
		head += " " + strings.Repeat("x", pad-1)
	}
	return []byte(head + tail)
}

// messageSeq reads the sequence number back from a message's body.
func messageSeq(body []byte) (int, error) {
	s, ok := strings.CutPrefix(string(body), `{"`+bodyKey+`":"`)
	if !ok {
		return 0, fmt.Errorf("not a bench message: %.40q", body)
	}
	digits, _, _ := strings.Cut(strings.TrimSuffix(s, `"}`), " ")
	return strconv.Atoi(digits)
}

// dialPaho connects a paho client as the SDK-like clients of this project
// do (MQTT 3.1.1, persistent session, 60 s keep-alive, no reconnects), to
// either broker.
func dialPaho(ctx context.Context, addr string, tlsCfg *tls.Config, l login) (paho.Client, error) {
	o := paho.NewClientOptions().AddBroker("tls://" + addr).
		SetClientID(l.clientID).SetUsername(l.user).SetPassword(l.password).SetTLSConfig(tlsCfg).
		SetProtocolVersion(4).SetCleanSession(false).SetKeepAlive(60 * time.Second).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(connectTimeout)
	c := paho.NewClient(o)
	if err := mqttconn.WaitToken(ctx, c.Connect()); err != nil {
		c.Disconnect(0)
		return nil, fmt.Errorf("connect %s: %w", l.clientID, err)
	}
	return c, nil
}

// subscribe subscribes c to filter at QoS 1 with handle.
func subscribe(ctx context.Context, c paho.Client, filter string, handle paho.MessageHandler) error {
	if err := mqttconn.WaitToken(ctx, c.Subscribe(filter, 1, handle)); err != nil {
		return fmt.Errorf("subscribe %s: %w", filter, err)
	}
	return nil
}

// twinResponsePrefix is where the emulator answers twin requests.
const twinResponsePrefix = "$iothub/twin/res/"

// reportedTripper is a device of the emulator that reports a property and
// receives the hub's answer.
func reportedTripper(ctx context.Context, addr string, tlsCfg *tls.Config, l login) (tripper, error) {
	c, err := dialPaho(ctx, addr, tlsCfg, l)
	if err != nil {
		return tripper{}, err
	}
	arrived := newArrivals()
	err = subscribe(ctx, c, twinResponsePrefix+"#", func(_ paho.Client, m paho.Message) {
		offer(arrived, twinAnswer(m.Topic()))
	})
	if err != nil {
		c.Disconnect(0)
		return tripper{}, err
	}
	return tripper{
		publish: func(seq int, body []byte) paho.Token {
			return c.Publish("$iothub/twin/PATCH/properties/reported/?$rid="+strconv.Itoa(seq), 1, false, body)
		},
		arrived: arrived,
		close:   func() { c.Disconnect(250) },
	}, nil
}

// twinAnswer reads a twin response topic: a 204 answers the request
// whose $rid it names; another status is an error.
func twinAnswer(topic string) arrival {
	status, query, _ := strings.Cut(strings.TrimPrefix(topic, twinResponsePrefix), "/?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return arrival{err: fmt.Errorf("twin response %q: %w", topic, err)}
	}
	if status != "204" {
		return arrival{err: fmt.Errorf("twin response %q: status %s, want 204", topic, status)}
	}
	seq, err := strconv.Atoi(q.Get("$rid"))
	if err != nil {
		return arrival{err: fmt.Errorf("twin response %q: $rid: %w", topic, err)}
	}
	return arrival{seq: seq}
}

// forwardTripper is a pair of Mosquitto clients: one publishes on a topic
// of its own, the other is subscribed to it.
func forwardTripper(ctx context.Context, addr string, tlsCfg *tls.Config, pub, sub login) (tripper, error) {
	topic := "hubspec-bench/" + pub.clientID
	receiver, err := dialPaho(ctx, addr, tlsCfg, sub)
	if err != nil {
		return tripper{}, err
	}
	arrived := newArrivals()
	err = subscribe(ctx, receiver, topic, func(_ paho.Client, m paho.Message) {
		seq, err := messageSeq(m.Payload())
		offer(arrived, arrival{seq: seq, err: err})
	})
	if err != nil {
		receiver.Disconnect(0)
		return tripper{}, err
	}
	sender, err := dialPaho(ctx, addr, tlsCfg, pub)
	if err != nil {
		receiver.Disconnect(0)
		return tripper{}, err
	}
	return tripper{
		publish: func(_ int, body []byte) paho.Token { return sender.Publish(topic, 1, false, body) },
		arrived: arrived,
		close:   func() { sender.Disconnect(250); receiver.Disconnect(250) },
	}, nil
}

// closeAll closes every tripper.
func closeAll(ts []tripper) {
	var wg sync.WaitGroup
	for _, t := range ts {
		wg.Go(t.close)
	}
	wg.Wait()
}
