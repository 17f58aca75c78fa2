package hub

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// DialSASToken makes the client present token as its MQTT password instead
// of signing one with the connection string's key, as the SDKs'
// create_from_sastoken do with a token from a token service. The client
// cannot renew a given token: once the hub stops taking it, reconnects fail.
func DialSASToken(token string) DialOption { return func(c *dialConfig) { c.token = token } }

// DialRaw connects a bare paho client exactly as DialModule or DialDevice
// would (address, transport, TLS, client id, user name, SAS token, clean
// session off) and does nothing more: no subscriptions, no twin protocol,
// no reconnects. It exists for tests of what a hub does with packets the
// SDKs never send, such as a QoS 2 publish or a publish to a topic that is
// not the identity's; use DialModule or DialDevice for anything else.
//
// A CONNACK refusal is a *ConnectRefusedError. onLost, if not nil, is
// called once when the connection is lost after it was made (the hub
// closing it included), but not when the caller disconnects. With
// DialObserver, the client returned reports what goes through it.
func DialRaw(ctx context.Context, connectionString string, onLost func(error), opts ...DialOption) (paho.Client, error) {
	cs, err := ParseConnectionString(connectionString)
	if err != nil {
		return nil, err
	}
	if cs.DeviceID == "" {
		return nil, fmt.Errorf("dial raw: need a device or module connection string")
	}
	cfg, tlsCfg := resolveDial(cs, opts)
	id := cfg.clientIDFor(cs)
	user, password := credentials(cs, cfg)
	po := paho.NewClientOptions().
		AddBroker(cfg.brokerURL()).
		SetClientID(id).
		SetUsername(user).
		SetPassword(password).
		SetTLSConfig(tlsCfg).
		SetProtocolVersion(4).
		SetCleanSession(false).
		SetKeepAlive(cfg.keepAlive).
		SetStore(newCopyingStore()).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(30 * time.Second).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			cfg.emitMessage(id, m)
			if cfg.onMessage != nil {
				cfg.onMessage(m)
			}
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			cfg.emit(MQTTConnectionLost, id, "", 0, nil, err.Error())
			if onLost != nil {
				onLost(err)
			}
		})
	pc := paho.NewClient(po)
	tok := pc.Connect()
	err = waitToken(ctx, tok)
	cfg.emitConnect(id, user, password, connectOutcome(tok, err))
	if err != nil {
		pc.Disconnect(0)
		if ct, ok := tok.(*paho.ConnectToken); ok && ct.ReturnCode() >= 1 && ct.ReturnCode() <= 5 {
			return nil, fmt.Errorf("connect %s: %w", id, &ConnectRefusedError{Code: ct.ReturnCode()})
		}
		return nil, fmt.Errorf("connect %s: %w", id, err)
	}
	return observeRaw(pc, cfg, id), nil
}

// resolveDial applies the options over the defaults and works out the
// address and the TLS configuration to dial.
func resolveDial(cs ConnectionString, opts []DialOption) (dialConfig, *tls.Config) {
	cfg := dialConfig{ttl: time.Hour, keepAlive: 60 * time.Second, now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.log == nil {
		cfg.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.addr == "" {
		host := cs.GatewayHostName
		if host == "" {
			host = cs.HostWithoutPort()
		}
		port := "8883"
		if cfg.ws {
			port = "443"
		}
		cfg.addr = net.JoinHostPort(host, port)
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.tls != nil {
		tlsCfg = cfg.tls.Clone()
	}
	if tlsCfg.ServerName == "" {
		tlsCfg.ServerName, _, _ = net.SplitHostPort(cfg.addr)
	}
	return cfg, tlsCfg
}

// clientIDFor is the client identifier to send for cs: its own, unless
// DialClientID chose another.
func (cfg dialConfig) clientIDFor(cs ConnectionString) string {
	if cfg.clientID != "" {
		return cfg.clientID
	}
	return clientID(cs)
}

// brokerURL is the URL paho dials: tls://addr, or the WebSocket path.
func (cfg dialConfig) brokerURL() string {
	if cfg.ws {
		return "wss://" + cfg.addr + "/$iothub/websocket"
	}
	return "tls://" + cfg.addr
}

func credentials(cs ConnectionString, cfg dialConfig) (string, string) {
	user := cs.HostName + "/" + clientID(cs) + "/?api-version=" + MQTTAPIVersion +
		"&DeviceClientType=" + url.QueryEscape("hubspec/0.1")
	if cfg.token != "" {
		return user, cfg.token
	}
	token, err := cs.SASToken(cfg.ttl, cfg.now())
	if err != nil {
		cfg.log.Error("sas token", "error", err)
	}
	return user, token
}

// clientID is {device} or {device}/{module} (protocol.md §4.2).
func clientID(cs ConnectionString) string {
	if cs.ModuleID == "" {
		return cs.DeviceID
	}
	return cs.DeviceID + "/" + cs.ModuleID
}
