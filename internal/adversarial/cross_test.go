package adversarial

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"
)

// quietWait is how long a victim is watched for a message that must never
// come: a negative check needs a deadline, and this is the suite's only one
// of its kind per test.
const quietWait = time.Second

// victim is an identity connected with raw packets and subscribed to every
// topic the hub lets it subscribe to; it reports every PUBLISH it receives.
type victim struct {
	c      *rawConn
	got    chan string // topics of received PUBLISHes
	pongs  chan struct{}
	closed chan struct{}
}

func newVictim(t *testing.T, tg target, id ident, own ...string) *victim {
	t.Helper()
	c := dialRaw(t, tg)
	p := identityConnect(tg.Host(), id)
	p.cleanSession = true
	c.mustConnect(p)
	filters := append([]string{"$iothub/twin/PATCH/properties/desired/#", "$iothub/twin/res/#", "$iothub/methods/POST/#"}, own...)
	c.subscribe(1, filters...)
	v := &victim{c: c, got: make(chan string, 64), pongs: make(chan struct{}, 4), closed: make(chan struct{})}
	go func() {
		defer close(v.closed)
		for {
			typ, _, body, err := c.readPacket(time.Hour)
			if err != nil {
				return
			}
			switch typ {
			case pktPublish:
				if len(body) >= 2 {
					n := int(binary.BigEndian.Uint16(body))
					if 2+n <= len(body) {
						v.got <- string(body[2 : 2+n])
					}
				}
			case pktPingresp:
				v.pongs <- struct{}{}
			}
		}
	}()
	return v
}

// expectNothing waits quietWait for messages, then checks that the victim is
// still connected, so that silence means the hub sent nothing.
func (v *victim) expectNothing(t *testing.T, who string) {
	t.Helper()
	var leaked []string
	timer := time.NewTimer(quietWait)
	defer timer.Stop()
wait:
	for {
		select {
		case topic := <-v.got:
			leaked = append(leaked, topic)
		case <-timer.C:
			break wait
		}
	}
	if len(leaked) > 0 {
		t.Errorf("%s received messages it must never get: %q", who, leaked)
	}
	if err := v.c.write([]byte{pktPingreq << 4, 0}); err != nil {
		t.Fatalf("%s: connection lost: %v", who, err)
	}
	select {
	case <-v.pongs:
	case <-v.closed:
		t.Fatalf("%s: the hub closed the victim's connection", who)
	case <-time.After(opDeadline):
		t.Fatalf("%s: no PINGRESP within %v", who, opDeadline)
	}
}

type crossIdents struct {
	a, b, dev ident // module A (attacker), module B and device d2 (victims)
}

func setupCross(t *testing.T, tg target) crossIdents {
	newDevice(t, tg, "d1")
	return crossIdents{a: newModule(t, tg, "d1", "mA"), b: newModule(t, tg, "d1", "mB"), dev: newDevice(t, tg, "d2")}
}

// forbiddenTopics are topic names module A must never publish to, nor leave
// as its will: B's and d2's topics and the hub's own.
var forbiddenTopics = []string{
	"$iothub/twin/PATCH/properties/desired/?$version=999999",
	"$iothub/twin/res/200/?$rid=1",
	"$iothub/methods/POST/reboot/?$rid=1",
	"devices/d1/modules/mB/inputs/x",
	"devices/d1/modules/mB/messages/events/",
	"devices/d2/messages/events/",
	"devices/d2/messages/devicebound/x",
}

// TestCrossIdentityPublishSubscribe: module A publishing to another
// identity's topics or the hub's own, or subscribing to another identity's
// filters, has its connection closed (docs/fidelity.md MQTT "Publish
// topics", "Subscriptions"), and no victim receives anything.
func TestCrossIdentityPublishSubscribe(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		ids := setupCross(t, tg)
		b := newVictim(t, tg, ids.b, "devices/d1/modules/mB/#")
		d2 := newVictim(t, tg, ids.dev, "devices/d2/messages/devicebound/#")
		attacker := func(t *testing.T) *rawConn {
			c := dialRaw(t, tg)
			p := identityConnect(tg.Host(), ids.a)
			p.cleanSession = true
			c.mustConnect(p)
			return c
		}
		for _, topic := range forbiddenTopics {
			t.Run("publish "+topic, func(t *testing.T) {
				c := attacker(t)
				if err := c.write(publishPacket(topic, []byte(`{"forged":true}`), true)); err != nil {
					t.Fatal(err)
				}
				closed, seen := c.closedWithin(opDeadline)
				if !closed {
					t.Errorf("connection still open %v after a publish to %s", opDeadline, topic)
				}
				if strings.ContainsRune(string(seen), pktPuback) {
					t.Errorf("the hub acknowledged a publish to %s", topic)
				}
			})
		}
		for _, filter := range []string{"devices/d1/modules/mB/#", "devices/d1/modules/mB/inputs/#", "devices/d2/messages/devicebound/#",
			"devices/+/modules/+/#", "#", "$iothub/#"} {
			t.Run("subscribe "+filter, func(t *testing.T) {
				c := attacker(t)
				body := binary.BigEndian.AppendUint16(nil, 7)
				body = append(append(body, mqttString(filter)...), 1)
				if err := c.write(packet(pktSubscribe<<4|0x02, body)); err != nil {
					t.Fatal(err)
				}
				if closed, _ := c.closedWithin(opDeadline); !closed {
					t.Errorf("connection still open %v after subscribing to %s", opDeadline, filter)
				}
			})
		}
		t.Run("victims received nothing", func(t *testing.T) {
			b.expectNothing(t, "module mB")
			d2.expectNothing(t, "device d2")
		})
	})
}

// TestWillsCrossIdentities (defect 1): the hub accepts a will only on the
// identity's own telemetry topic; a CONNECT with any other will is not
// accepted (a CONNACK refusal, 1 to 5, or the connection closed before
// CONNACK 0), and nothing the broker would publish on the client's behalf
// reaches another identity when the connection drops.
func TestWillsCrossIdentities(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		ids := setupCross(t, tg)
		b := newVictim(t, tg, ids.b, "devices/d1/modules/mB/#")
		d2 := newVictim(t, tg, ids.dev, "devices/d2/messages/devicebound/#")
		willConnect := func(topic string) connectPacket {
			p := identityConnect(tg.Host(), ids.a)
			p.cleanSession = true
			p.hasWill, p.willTopic, p.willMessage = true, topic, []byte(`{"forged":"will"}`)
			return p
		}
		for _, topic := range forbiddenTopics {
			t.Run("will on "+topic, func(t *testing.T) {
				c := dialRaw(t, tg)
				got := c.connect(willConnect(topic))
				if got == 0 {
					t.Errorf("CONNECT with a will on %s: CONNACK 0, want a refusal (CONNACK 1-5) or a close", topic)
				} else if got != closedBeforeConnack && (got < 1 || got > 5) {
					t.Errorf("CONNECT with a will on %s: CONNACK %d, not an MQTT 3.1.1 return code", topic, got)
				}
				// Drop the socket without DISCONNECT: a broker that
				// accepted the will would now publish it.
				c.conn.NetConn().Close()
			})
		}
		t.Run("will on its own telemetry topic", func(t *testing.T) {
			c := dialRaw(t, tg)
			own := fmt.Sprintf("devices/%s/modules/%s/messages/events/", ids.a.device, ids.a.module)
			if got := c.connect(willConnect(own)); got != 0 {
				t.Fatalf("CONNECT with a will on %s: %s, want CONNACK 0", own, outcome(got))
			}
			c.conn.NetConn().Close()
		})
		t.Run("victims received nothing", func(t *testing.T) {
			b.expectNothing(t, "module mB")
			d2.expectNothing(t, "device d2")
		})
	})
}
