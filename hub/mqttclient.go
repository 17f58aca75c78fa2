package hub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// MQTTAPIVersion is the api-version the client puts in its MQTT user name;
// without one a real hub misbehaves (protocol.md §4.2).
const MQTTAPIVersion = "2021-04-12"

// MQTTClient is a device's or module's MQTT connection to a hub, on paho,
// speaking the twin protocol: GetTwin, UpdateReported and desired-property
// patches on a channel.
//
// It keeps the hub's persistent session (clean session off), reconnects by
// itself, and after every reconnect re-reads the twin: a desired change made
// while it was away arrives as one Full patch, and patches whose $version is
// not newer than what it already delivered are dropped, so nothing is lost
// and nothing is delivered twice (protocol.md §4.7). It renews its SAS token
// by reconnecting with a fresh one before the old one expires.
type MQTTClient struct {
	cs     ConnectionString
	cfg    dialConfig
	tlsCfg *tls.Config
	log    *slog.Logger

	// client is the current paho client; a token renewal replaces it. Read
	// it under gate (operations) or mu (everything else).
	client paho.Client

	// gate lets a SAS renewal wait for operations in flight and keeps new
	// ones out while it reconnects.
	gate sync.RWMutex

	mu       sync.Mutex
	pending  map[string]chan twinResponse
	held     int64         // highest desired $version delivered or read
	ready    chan struct{} // closed after the first connect's resync
	up       chan struct{} // closed while connected and resynced
	closed   bool
	readyErr error

	patches   *patchQueue
	resyncing bool           // a GET is reading the twin: patches wait in buffered
	buffered  []DesiredPatch // patches that arrived during a resync
	renew     *time.Timer
	connSeq   int // connections made, for the renewal timer

	// sentUser and sentPassword are the credentials of the last CONNECT,
	// kept only for an observer (DialObserver).
	sentUser, sentPassword string
}

// DesiredPatch is a change to the twin's desired properties.
type DesiredPatch struct {
	// Version is the desired section's $version after the change.
	Version int64
	// Properties are the changed members (nil values are deletions) or, when
	// Full is true, the whole desired section.
	Properties map[string]any
	// Full marks a resync after a reconnect: the hub changed desired
	// properties while the client was away, and Properties is the whole
	// section as read by a GET.
	Full bool
}

// ConnectRefusedError is a CONNACK refusal: 5 for a bad key, an expired
// token or an unknown identity; 3 for a disabled device (protocol.md §4.3).
type ConnectRefusedError struct {
	Code byte
}

func (e *ConnectRefusedError) Error() string {
	return fmt.Sprintf("mqtt connect refused: CONNACK %d", e.Code)
}

type dialConfig struct {
	addr      string
	ws        bool // MQTT over WebSockets
	tls       *tls.Config
	ttl       time.Duration
	keepAlive time.Duration
	now       func() time.Time
	log       *slog.Logger
	token     string             // a given SAS token, used instead of signing one
	clientID  string             // a client identifier sent instead of the identity's own (DialClientID)
	onMessage func(paho.Message) // DialRaw's handler of unrouted messages (DialOnMessage)
	observe   func(MQTTEvent)    // nil: nobody observes (see DialObserver)
}

// DialOption configures DialModule and DialDevice.
type DialOption func(*dialConfig)

// DialAddress sets the address (host:port) to dial. Default: the
// connection string's GatewayHostName, else its HostName, on port 8883
// (443 with DialWebSockets).
func DialAddress(addr string) DialOption { return func(c *dialConfig) { c.addr = addr } }

// DialWebSockets speaks MQTT over WebSockets, wss://{addr}/$iothub/websocket
// with the subprotocol "mqtt" (paho's), as the SDKs do when only port 443
// may leave a network (protocol.md §4.1).
func DialWebSockets() DialOption { return func(c *dialConfig) { c.ws = true } }

// DialTLSConfig sets the TLS configuration, e.g. one trusting an emulator's CA.
func DialTLSConfig(cfg *tls.Config) DialOption { return func(c *dialConfig) { c.tls = cfg } }

// DialTokenTTL sets the SAS token lifetime (default 1h). The client renews
// the token when 80% of it has passed, as the C SDK does.
func DialTokenTTL(d time.Duration) DialOption { return func(c *dialConfig) { c.ttl = d } }

// DialKeepAlive sets the MQTT keep-alive (default 60s, the Python SDK's).
func DialKeepAlive(d time.Duration) DialOption { return func(c *dialConfig) { c.keepAlive = d } }

// DialClock sets the clock used for token expiry.
func DialClock(now func() time.Time) DialOption { return func(c *dialConfig) { c.now = now } }

// DialClientID sends id as the MQTT client identifier instead of the
// identity's own ({device} or {device}/{module}); the user name and the
// token stay the identity's. A hub refuses the mismatch, and conformance
// checks use this to see that it does; nothing else should.
func DialClientID(id string) DialOption { return func(c *dialConfig) { c.clientID = id } }

// DialOnMessage makes a DialRaw client hand fn every message that no
// subscription callback of its own takes: above all those a persistent
// session delivers as soon as it is resumed, before the new client has
// subscribed to anything. DialModule and DialDevice ignore it.
func DialOnMessage(fn func(paho.Message)) DialOption { return func(c *dialConfig) { c.onMessage = fn } }

// DialLogger sets a logger (default: discard).
func DialLogger(l *slog.Logger) DialOption { return func(c *dialConfig) { c.log = l } }

// DialModule connects a module with its connection string
// (HostName=...;DeviceId=...;ModuleId=...;SharedAccessKey=...). It returns
// once the client is connected, subscribed and has read its twin's desired
// $version.
func DialModule(ctx context.Context, connectionString string, opts ...DialOption) (*MQTTClient, error) {
	cs, err := ParseConnectionString(connectionString)
	if err != nil {
		return nil, err
	}
	if cs.ModuleID == "" {
		return nil, errors.New("dial module: connection string has no ModuleId")
	}
	return dial(ctx, cs, opts)
}

// DialDevice connects a device with its connection string
// (HostName=...;DeviceId=...;SharedAccessKey=...).
func DialDevice(ctx context.Context, connectionString string, opts ...DialOption) (*MQTTClient, error) {
	cs, err := ParseConnectionString(connectionString)
	if err != nil {
		return nil, err
	}
	if cs.DeviceID == "" || cs.ModuleID != "" {
		return nil, errors.New("dial device: need a device connection string (DeviceId, no ModuleId)")
	}
	return dial(ctx, cs, opts)
}

func dial(ctx context.Context, cs ConnectionString, opts []DialOption) (*MQTTClient, error) {
	cfg, tlsCfg := resolveDial(cs, opts)
	c := &MQTTClient{
		cs: cs, cfg: cfg, log: cfg.log,
		pending: map[string]chan twinResponse{},
		ready:   make(chan struct{}),
		up:      make(chan struct{}),
		patches: newPatchQueue(),
	}
	c.client = c.newPaho(tlsCfg)
	c.tlsCfg = tlsCfg

	tok := c.client.Connect()
	if err := waitToken(ctx, tok); err != nil {
		c.emitConnect(connectOutcome(tok, err))
		// Close even when ctx ended first: paho would otherwise go on
		// connecting, and a client nobody holds would fight the next one
		// with the same identity for the session.
		c.Close()
		// Codes 1-5 are the broker's CONNACK refusals; paho reports a
		// network failure as 0xFE, which is no answer from the hub at all.
		if ct, ok := tok.(*paho.ConnectToken); ok && ct.ReturnCode() >= 1 && ct.ReturnCode() <= 5 {
			return nil, fmt.Errorf("connect %s: %w", c.clientID(), &ConnectRefusedError{Code: ct.ReturnCode()})
		}
		return nil, fmt.Errorf("connect %s: %w", c.clientID(), err)
	}
	select {
	case <-c.ready:
	case <-ctx.Done():
		c.Close()
		return nil, fmt.Errorf("connect %s: %w", c.clientID(), ctx.Err())
	}
	if c.readyErr != nil {
		c.Close()
		return nil, fmt.Errorf("connect %s: %w", c.clientID(), c.readyErr)
	}
	return c, nil
}

// newPaho makes a paho client for one connection lifetime. Handlers ignore
// events of a client that a token renewal has replaced.
func (c *MQTTClient) newPaho(tlsCfg *tls.Config) paho.Client {
	po := paho.NewClientOptions().
		AddBroker(c.cfg.brokerURL()).
		SetClientID(c.clientID()).
		SetCredentialsProvider(c.credentials).
		SetTLSConfig(tlsCfg).
		SetProtocolVersion(4).
		SetCleanSession(false).
		SetKeepAlive(c.cfg.keepAlive).
		SetStore(newCopyingStore()).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(10 * time.Second).
		SetConnectTimeout(30 * time.Second).
		SetDefaultPublishHandler(c.onMessage).
		SetOnConnectHandler(func(pc paho.Client) {
			if c.isCurrent(pc) {
				c.emitConnect(connectOutcome(nil, nil))
				go c.onConnect(pc)
			}
		}).
		SetConnectionLostHandler(func(pc paho.Client, err error) {
			if c.isCurrent(pc) {
				c.onConnectionLost(err)
			}
		})
	return paho.NewClient(po)
}

func (c *MQTTClient) isCurrent(pc paho.Client) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.client == pc
}

func (c *MQTTClient) clientID() string { return c.cfg.clientIDFor(c.cs) }

// credentials builds the user name and a fresh SAS password for every
// (re)connect: {HostName}/{device}[/{module}]/?api-version=...&DeviceClientType=...
func (c *MQTTClient) credentials() (string, string) {
	user, password := credentials(c.cs, c.cfg)
	if c.cfg.observe != nil {
		c.mu.Lock()
		c.sentUser, c.sentPassword = user, password
		c.mu.Unlock()
	}
	return user, password
}

// DesiredPatches delivers desired-property changes in version order. The
// channel is closed by Close.
func (c *MQTTClient) DesiredPatches() <-chan DesiredPatch { return c.patches.out }

// Close disconnects and closes the DesiredPatches channel.
func (c *MQTTClient) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	if c.renew != nil {
		c.renew.Stop()
	}
	pc := c.client
	c.mu.Unlock()
	if pc.IsConnectionOpen() {
		c.cfg.emit(MQTTDisconnect, c.clientID(), "", 0, nil, "")
	}
	pc.Disconnect(250)
	c.failPending(errors.New("client closed"))
	c.patches.close()
	return nil
}

// waitToken waits for a paho token or the context.
func waitToken(ctx context.Context, tok paho.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}
