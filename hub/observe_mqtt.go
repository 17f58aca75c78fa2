package hub

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// emitMessage reports a PUBLISH the hub sent.
func (cfg dialConfig) emitMessage(clientID string, m paho.Message) {
	if cfg.observe != nil {
		cfg.emit(MQTTReceived, clientID, m.Topic(), m.Qos(), m.Payload(), "")
	}
}

// emitConnect reports how a connection attempt ended, with the
// credentials paho last asked for: paho asks before every attempt.
func (c *MQTTClient) emitConnect(outcome string) {
	if c.cfg.observe == nil {
		return
	}
	c.mu.Lock()
	user, password := c.sentUser, c.sentPassword
	c.mu.Unlock()
	c.cfg.emitConnect(c.clientID(), user, password, outcome)
}

// connectOutcome says how a CONNECT ended: the CONNACK code and its
// meaning, or the error when the hub sent no CONNACK (paho's 254 is a
// network failure, not the hub's answer). tok is nil for a connection
// paho reports made.
func connectOutcome(tok paho.Token, err error) string {
	if ct, ok := tok.(*paho.ConnectToken); ok && ct.ReturnCode() >= 1 && ct.ReturnCode() <= 5 {
		return fmt.Sprintf("CONNACK %d (%s)", ct.ReturnCode(), packets.ConnackReturnCodes[ct.ReturnCode()])
	}
	if err != nil {
		return "no CONNACK: " + err.Error()
	}
	return "CONNACK 0 (" + packets.ConnackReturnCodes[0] + ")"
}

// subackDetail is the QoS the hub granted each filter, or the error.
func subackDetail(tok paho.Token, err error) string {
	if err != nil {
		return "no SUBACK: " + err.Error()
	}
	st, ok := tok.(*paho.SubscribeToken)
	if !ok {
		return "SUBACK"
	}
	granted := st.Result()
	parts := make([]string, 0, len(granted))
	for _, f := range slices.Sorted(maps.Keys(granted)) {
		parts = append(parts, fmt.Sprintf("%s QoS %d", f, granted[f]))
	}
	return "SUBACK: " + strings.Join(parts, ", ")
}

// filterList names a subscription's filters in a stable order.
func filterList(filters map[string]byte) string {
	return strings.Join(slices.Sorted(maps.Keys(filters)), ", ")
}

// observeRaw wraps a DialRaw client so that the observer sees what the
// caller sends through it and what arrives on its subscriptions (messages
// no subscription claims reach DialRaw's default handler, which reports
// them). A subscription is reported when it is asked for: DialRaw's caller
// waits for the SUBACK itself. Without an observer the client is returned
// as it is.
func observeRaw(pc paho.Client, cfg dialConfig, id string) paho.Client {
	if cfg.observe == nil {
		return pc
	}
	return observedClient{Client: pc, cfg: cfg, id: id}
}

// observedClient is a paho client whose traffic an observer sees.
type observedClient struct {
	paho.Client
	cfg dialConfig
	id  string
}

func (o observedClient) Publish(topic string, qos byte, retained bool, payload any) paho.Token {
	detail := ""
	if retained {
		detail = "retain"
	}
	o.cfg.emit(MQTTSent, o.id, topic, qos, payloadBytes(payload), detail)
	return o.Client.Publish(topic, qos, retained, payload)
}

func (o observedClient) Subscribe(topic string, qos byte, callback paho.MessageHandler) paho.Token {
	o.cfg.emit(MQTTSubscribe, o.id, topic, qos, nil, "")
	return o.Client.Subscribe(topic, qos, o.handler(callback))
}

func (o observedClient) SubscribeMultiple(filters map[string]byte, callback paho.MessageHandler) paho.Token {
	o.cfg.emit(MQTTSubscribe, o.id, filterList(filters), 0, nil, "")
	return o.Client.SubscribeMultiple(filters, o.handler(callback))
}

func (o observedClient) Unsubscribe(topics ...string) paho.Token {
	o.cfg.emit(MQTTUnsubscribe, o.id, strings.Join(topics, ", "), 0, nil, "")
	return o.Client.Unsubscribe(topics...)
}

func (o observedClient) Disconnect(quiesce uint) {
	if o.Client.IsConnectionOpen() {
		o.cfg.emit(MQTTDisconnect, o.id, "", 0, nil, "")
	}
	o.Client.Disconnect(quiesce)
}

// handler reports each message before the caller's handler sees it. A nil
// handler stays nil, so paho routes those messages to the default handler.
func (o observedClient) handler(h paho.MessageHandler) paho.MessageHandler {
	if h == nil {
		return nil
	}
	return func(c paho.Client, m paho.Message) {
		o.cfg.emitMessage(o.id, m)
		h(c, m)
	}
}

// payloadBytes is a payload as paho accepts it (string, []byte,
// bytes.Buffer), for the observer.
func payloadBytes(payload any) []byte {
	switch p := payload.(type) {
	case string:
		return []byte(p)
	case []byte:
		return p
	case bytes.Buffer:
		return p.Bytes()
	}
	return nil
}
