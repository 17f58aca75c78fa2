// Package device is a device's or module's MQTT client of an IoT hub, on
// paho: the twin protocol (get, reported patches, desired patches on a
// channel), direct methods (HandleMethod) and telemetry, over TLS or
// WebSockets, with SAS tokens it renews itself. It works against a real
// hub and the emulator alike.
package device

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/internal/mqttconn"
)

// Client is a device's or module's MQTT connection to a hub, on paho,
// speaking the twin protocol (GetTwin, UpdateReported and desired-property
// patches on a channel), answering direct method calls (HandleMethod) and
// sending telemetry.
//
// It keeps the hub's persistent session (clean session off), reconnects by
// itself, and after every reconnect re-reads the twin: a desired change made
// while it was away arrives as one Full patch, and patches whose $version is
// not newer than what it already delivered are dropped, so nothing is lost
// and nothing is delivered twice (IoT Hub's "device reconnection flow" for twins;
// docs/fidelity.md, "Desired changes while disconnected"). It renews its SAS token
// by reconnecting with a fresh one before the old one expires.
type Client struct {
	cs     hub.ConnectionString
	cfg    mqttconn.Settings
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

	// handlers answer direct method calls by name ("" for any other);
	// callsCtx is the context of the calls in flight on the current
	// connection, ended by cancelCalls when it is lost (methods.go).
	handlers    map[string]MethodHandler
	callsCtx    context.Context
	cancelCalls context.CancelFunc

	patches    *handoff[DesiredPatch]
	cloud      *handoff[CloudMessage] // a device's cloud-to-device messages; nil for a module
	listening  bool                   // CloudMessages subscribed: resubscribe on reconnect
	resyncing  bool                   // a GET is reading the twin: patches wait in buffered
	retryDelay time.Duration          // the back-off of the next retryResync; 0 after a read
	buffered   []DesiredPatch         // patches that arrived during a resync
	renew      func() bool            // stops the pending token renewal
	connSeq    int                    // connections made, for the renewal timer

	// sentUser and sentPassword are the credentials of the last CONNECT,
	// kept only for an observer (WithObserver).
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

// DialModule connects a module with its connection string
// (HostName=...;DeviceId=...;ModuleId=...;SharedAccessKey=...). It returns
// once the client is connected, subscribed and has read its twin's desired
// $version.
func DialModule(ctx context.Context, connectionString string, opts ...Option) (*Client, error) {
	cs, err := hub.ParseConnectionString(connectionString)
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
func DialDevice(ctx context.Context, connectionString string, opts ...Option) (*Client, error) {
	cs, err := hub.ParseConnectionString(connectionString)
	if err != nil {
		return nil, err
	}
	if cs.DeviceID == "" || cs.ModuleID != "" {
		return nil, errors.New("dial device: need a device connection string (DeviceId, no ModuleId)")
	}
	return dial(ctx, cs, opts)
}

func dial(ctx context.Context, cs hub.ConnectionString, opts []Option) (*Client, error) {
	cfg, tlsCfg := mqttconn.Resolve(cs, apply(opts))
	if cs.X509 && cfg.ClientCert == nil {
		return nil, errors.New("dial: an x509=true connection string needs device.WithClientCertificate")
	}
	c := &Client{
		cs: cs, cfg: cfg, log: cfg.Log,
		pending:  map[string]chan twinResponse{},
		handlers: map[string]MethodHandler{},
		ready:    make(chan struct{}),
		up:       make(chan struct{}),
		patches:  newHandoff[DesiredPatch](),
	}
	if cs.ModuleID == "" {
		// Ready before the first connect: a persistent session subscribed
		// by an earlier client may deliver at once, and a message the
		// client acknowledges must never be dropped.
		c.cloud = newHandoff[CloudMessage]()
	}
	c.callsCtx, c.cancelCalls = context.WithCancel(context.Background())
	c.client = c.newPaho(tlsCfg)
	c.tlsCfg = tlsCfg

	tok := c.client.Connect()
	if err := mqttconn.WaitToken(ctx, tok); err != nil {
		c.emitConnect(mqttconn.ConnectOutcome(tok, err))
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
func (c *Client) newPaho(tlsCfg *tls.Config) paho.Client {
	po := paho.NewClientOptions().
		AddBroker(c.cfg.BrokerURL()).
		SetClientID(c.clientID()).
		SetCredentialsProvider(c.credentials).
		SetTLSConfig(tlsCfg).
		SetProtocolVersion(4).
		SetCleanSession(false).
		SetKeepAlive(c.cfg.KeepAlive).
		SetStore(mqttconn.NewStore()).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(10 * time.Second).
		SetConnectTimeout(30 * time.Second).
		SetDefaultPublishHandler(c.onMessage).
		SetOnConnectHandler(func(pc paho.Client) {
			if c.isCurrent(pc) {
				c.emitConnect(mqttconn.ConnectOutcome(nil, nil))
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

func (c *Client) isCurrent(pc paho.Client) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.client == pc
}

func (c *Client) clientID() string { return c.cfg.ClientIDFor(c.cs) }

// credentials builds the user name and a fresh SAS password for every
// (re)connect: {HostName}/{device}[/{module}]/?api-version=...&DeviceClientType=...
func (c *Client) credentials() (string, string) {
	user, password := mqttconn.Credentials(c.cs, c.cfg)
	if c.cfg.Observe != nil {
		c.mu.Lock()
		c.sentUser, c.sentPassword = user, password
		c.mu.Unlock()
	}
	return user, password
}

// DesiredPatches delivers desired-property changes in version order. The
// channel is closed by Close.
func (c *Client) DesiredPatches() <-chan DesiredPatch { return c.patches.out }

// PendingPatches is how many desired patches the client has taken in that
// DesiredPatches has not handed over yet. While the client reads its twin
// to catch up (after a reconnect or a $version gap) the patches it holds
// back count, and so does the read itself, which may yield a patch. paho
// hands the client what the hub sent in order, so once a caller has seen
// the client handle a message (WithObserver), every desired patch the hub
// sent before it has been handed over, is counted here, or was dropped as
// stale: a check that nothing arrived can then end without waiting.
func (c *Client) PendingPatches() int {
	c.mu.Lock()
	n := len(c.buffered)
	if c.resyncing {
		n++
	}
	c.mu.Unlock()
	return n + c.patches.pending()
}

// Close disconnects and closes the DesiredPatches channel; direct method
// calls in flight are discarded.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	if c.renew != nil {
		c.renew()
	}
	pc := c.client
	c.mu.Unlock()
	if pc.IsConnectionOpen() {
		c.cfg.Emit(mqttconn.EventDisconnect, c.clientID(), "", 0, nil, "")
	}
	pc.Disconnect(250)
	c.dropCalls()
	c.failPending(errors.New("client closed"))
	c.patches.close()
	c.mu.Lock()
	cloud := c.cloud
	c.mu.Unlock()
	if cloud != nil {
		cloud.close()
	}
	return nil
}

// emitConnect reports how a connection attempt ended, with the
// credentials paho last asked for: paho asks before every attempt.
func (c *Client) emitConnect(outcome string) {
	if c.cfg.Observe == nil {
		return
	}
	c.mu.Lock()
	user, password := c.sentUser, c.sentPassword
	c.mu.Unlock()
	c.cfg.EmitConnect(c.clientID(), user, password, outcome)
}
