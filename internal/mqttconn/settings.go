// Package mqttconn holds what hub/device and internal/mqtttest share to
// dial a hub over MQTT: the settings their options set, the credentials an
// identity presents, the observer events, and a paho store that shares no
// packet with paho's writer.
package mqttconn

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
	"github.com/hubspec/hubspec/hub"
)

// Settings is how to dial a hub over MQTT: what the device client's
// options (hub/device) and the test-only ones (internal/mqtttest) set. It
// lives in this internal package so that both can set it while neither
// exports it.
type Settings struct {
	Addr       string
	WebSockets bool // MQTT over WebSockets
	TLS        *tls.Config
	TTL        time.Duration
	KeepAlive  time.Duration
	Now        func() time.Time
	AfterFunc  func(time.Duration, func()) (stop func() bool) // the client's timers: token renewal, retries
	Log        *slog.Logger
	Token      string             // a given SAS token, used instead of signing one
	ClientCert *tls.Certificate   // an X.509 client certificate, presented instead of a SAS token (device.WithClientCertificate)
	ClientID   string             // a client identifier sent instead of the identity's own (mqtttest.WithClientID)
	OnMessage  func(paho.Message) // mqtttest.DialRaw's handler of unrouted messages (mqtttest.WithOnMessage)
	Observe    func(Event)        // nil: nobody observes (see device.WithObserver)
	ModelID    string             // the Plug and Play model announced in the user name (device.WithModelID)
}

// Resolve applies the options over the defaults and works out the
// address and the TLS configuration to dial.
func Resolve(cs hub.ConnectionString, apply func(*Settings)) (Settings, *tls.Config) {
	cfg := Settings{TTL: time.Hour, KeepAlive: 60 * time.Second, Now: time.Now, AfterFunc: wallAfterFunc}
	apply(&cfg)
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Addr == "" {
		host := cs.GatewayHostName
		if host == "" {
			host = cs.HostWithoutPort()
		}
		port := "8883"
		if cfg.WebSockets {
			port = "443"
		}
		cfg.Addr = net.JoinHostPort(host, port)
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLS != nil {
		tlsCfg = cfg.TLS.Clone()
	}
	if tlsCfg.ServerName == "" {
		tlsCfg.ServerName, _, _ = net.SplitHostPort(cfg.Addr)
	}
	if cfg.ClientCert != nil {
		tlsCfg.Certificates = []tls.Certificate{*cfg.ClientCert}
	}
	return cfg, tlsCfg
}

// UsesSAS says whether the client presents a SAS token, which it renews by
// reconnecting before it expires; a certificate alone needs no renewal.
func (cfg Settings) UsesSAS() bool { return cfg.Token != "" || cfg.ClientCert == nil }

// ClientIDFor is the client identifier to send for cs: its own, unless
// mqtttest.WithClientID chose another.
func (cfg Settings) ClientIDFor(cs hub.ConnectionString) string {
	if cfg.ClientID != "" {
		return cfg.ClientID
	}
	return IdentityClientID(cs)
}

// BrokerURL is the URL paho dials: tls://addr, or the WebSocket path.
func (cfg Settings) BrokerURL() string {
	if cfg.WebSockets {
		return "wss://" + cfg.Addr + "/$iothub/websocket"
	}
	return "tls://" + cfg.Addr
}

// Credentials are the MQTT user name and password for cs (the user name
// with "&model-id=" and the URL-encoded model when one is announced, as the
// Python device SDK writes it: pipeline_stages_iothub_mqtt.py): a given token;
// no password when the client presents a certificate, as the SDKs send
// none with X.509 (azure-iot-sdk-python pipeline_stages_mqtt.py); or a
// token signed with the connection string's key.
func Credentials(cs hub.ConnectionString, cfg Settings) (string, string) {
	user := cs.HostName + "/" + IdentityClientID(cs) + "/?api-version=" + APIVersion +
		"&DeviceClientType=" + url.QueryEscape("hubspec/0.1")
	if cfg.ModelID != "" {
		user += "&model-id=" + url.QueryEscape(cfg.ModelID)
	}
	if cfg.Token != "" {
		return user, cfg.Token
	}
	if cfg.ClientCert != nil {
		return user, ""
	}
	token, err := cs.SASToken(cfg.TTL, cfg.Now())
	if err != nil {
		cfg.Log.Error("sas token", "error", err)
	}
	return user, token
}

// IdentityClientID is the MQTT client identifier of the identity cs names:
// {device} or {device}/{module}, as IoT Hub requires (docs/fidelity.md, MQTT).
func IdentityClientID(cs hub.ConnectionString) string {
	if cs.ModuleID == "" {
		return cs.DeviceID
	}
	return cs.DeviceID + "/" + cs.ModuleID
}

// APIVersion is the api-version a client puts in its MQTT user name;
// without one a real hub misbehaves.
const APIVersion = "2021-04-12"

// ConnectRefusedError is a CONNACK refusal: 5 for a bad key, an expired
// token or an unknown identity; 3 for a disabled device.
type ConnectRefusedError struct {
	Code byte
}

func (e *ConnectRefusedError) Error() string {
	return fmt.Sprintf("mqtt connect refused: CONNACK %d", e.Code)
}

// WaitToken waits for a paho token or the context.
func WaitToken(ctx context.Context, tok paho.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wallAfterFunc is time.AfterFunc in the shape of Settings.AfterFunc.
func wallAfterFunc(d time.Duration, fn func()) (stop func() bool) {
	return time.AfterFunc(d, fn).Stop
}
