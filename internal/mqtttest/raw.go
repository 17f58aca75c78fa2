// Package mqtttest holds the MQTT powers that only tests and conformance
// steps need: a bare connection that does nothing on its own (DialRaw), a
// given SAS token instead of a signed one, a client identifier other than
// the identity's, and a handler for the messages a resumed session delivers
// before any subscription. Applications use hub/device; this package is
// internal so that nothing outside this module can lean on these powers.
package mqtttest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/internal/mqttconn"
)

// DialRaw connects a bare paho client exactly as device.DialModule or device.DialDevice
// would (address, transport, TLS, client id, user name, SAS token, clean
// session off) and does nothing more: no subscriptions, no twin protocol,
// no reconnects. It exists for tests of what a hub does with packets the
// SDKs never send, such as a QoS 2 publish or a publish to a topic that is
// not the identity's; use device.DialModule or device.DialDevice for anything else.
//
// A CONNACK refusal is a *device.ConnectRefusedError. onLost, if not nil, is
// called once when the connection is lost after it was made (the hub
// closing it included), but not when the caller disconnects. With
// device.WithObserver, the client returned reports what goes through it.
func DialRaw(ctx context.Context, connectionString string, onLost func(error), opts ...device.Option) (paho.Client, error) {
	cs, err := hub.ParseConnectionString(connectionString)
	if err != nil {
		return nil, err
	}
	if cs.DeviceID == "" {
		return nil, fmt.Errorf("dial raw: need a device or module connection string")
	}
	cfg, tlsCfg := mqttconn.Resolve(cs, func(s *mqttconn.Settings) {
		for _, o := range opts {
			o(s)
		}
	})
	id := cfg.ClientIDFor(cs)
	user, password := mqttconn.Credentials(cs, cfg)
	po := paho.NewClientOptions().
		AddBroker(cfg.BrokerURL()).
		SetClientID(id).
		SetUsername(user).
		SetPassword(password).
		SetTLSConfig(tlsCfg).
		SetProtocolVersion(4).
		SetCleanSession(false).
		SetKeepAlive(cfg.KeepAlive).
		SetStore(mqttconn.NewStore()).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(30 * time.Second).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			cfg.EmitMessage(id, m)
			if cfg.OnMessage != nil {
				cfg.OnMessage(m)
			}
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			cfg.Emit(mqttconn.EventConnectionLost, id, "", 0, nil, err.Error())
			if onLost != nil {
				onLost(err)
			}
		})
	pc := paho.NewClient(po)
	tok := pc.Connect()
	err = mqttconn.WaitToken(ctx, tok)
	cfg.EmitConnect(id, user, password, mqttconn.ConnectOutcome(tok, err))
	if err != nil {
		pc.Disconnect(0)
		if ct, ok := tok.(*paho.ConnectToken); ok && ct.ReturnCode() >= 1 && ct.ReturnCode() <= 5 {
			return nil, fmt.Errorf("connect %s: %w", id, &device.ConnectRefusedError{Code: ct.ReturnCode()})
		}
		return nil, fmt.Errorf("connect %s: %w", id, err)
	}
	return observeRaw(pc, cfg, id), nil
}

// observeRaw wraps a DialRaw client so that the observer sees what the
// caller sends through it and what arrives on its subscriptions (messages
// no subscription claims reach DialRaw's default handler, which reports
// them). A subscription is reported when it is asked for: DialRaw's caller
// waits for the SUBACK itself. Without an observer the client is returned
// as it is.
func observeRaw(pc paho.Client, cfg mqttconn.Settings, id string) paho.Client {
	if cfg.Observe == nil {
		return pc
	}
	return observedClient{Client: pc, cfg: cfg, id: id}
}

// observedClient is a paho client whose traffic an observer sees.
type observedClient struct {
	paho.Client
	cfg mqttconn.Settings
	id  string
}

func (o observedClient) Publish(topic string, qos byte, retained bool, payload any) paho.Token {
	detail := ""
	if retained {
		detail = "retain"
	}
	o.cfg.Emit(mqttconn.EventSent, o.id, topic, qos, payloadBytes(payload), detail)
	return o.Client.Publish(topic, qos, retained, payload)
}

func (o observedClient) Subscribe(topic string, qos byte, callback paho.MessageHandler) paho.Token {
	o.cfg.Emit(mqttconn.EventSubscribe, o.id, topic, qos, nil, "")
	return o.Client.Subscribe(topic, qos, o.handler(callback))
}

func (o observedClient) SubscribeMultiple(filters map[string]byte, callback paho.MessageHandler) paho.Token {
	o.cfg.Emit(mqttconn.EventSubscribe, o.id, mqttconn.FilterList(filters), 0, nil, "")
	return o.Client.SubscribeMultiple(filters, o.handler(callback))
}

func (o observedClient) Unsubscribe(topics ...string) paho.Token {
	o.cfg.Emit(mqttconn.EventUnsubscribe, o.id, strings.Join(topics, ", "), 0, nil, "")
	return o.Client.Unsubscribe(topics...)
}

func (o observedClient) Disconnect(quiesce uint) {
	if o.Client.IsConnectionOpen() {
		o.cfg.Emit(mqttconn.EventDisconnect, o.id, "", 0, nil, "")
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
		o.cfg.EmitMessage(o.id, m)
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
