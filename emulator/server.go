// Package emulator is an Azure IoT Hub that runs inside a Go test, shaped
// like net/http/httptest: Start one, point clients at its connection string
// and TLS trust, Close it.
//
//	s, err := emulator.Start(ctx, emulator.Options{})
//	if err != nil { ... }
//	defer s.Close()
//	cs := s.ConnectionString() // iothubowner
//
// It serves the registry, twin, query and direct method REST API over HTTPS
// and the device/module MQTT protocol over TLS and over WebSockets
// (wss://{host}/$iothub/websocket on the HTTPS port, as the real hub), the
// built-in endpoint over AMQP (over TLS, and over WebSockets at
// wss://{host}/$servicebus/websocket on the HTTPS port), with
// real SAS authentication and, over MQTT over TLS, X.509 certificates
// (x509.go), etags, versions and the error codes a real hub answers. Every known difference
// from the real service is listed in docs/fidelity.md.
//
// Paths under /$hubspec/ on the HTTPS port belong to the emulator itself,
// not to IoT Hub (whose API has nothing there): GET /$hubspec/health answers
// 200 {"status":"ok"} without authentication, for container health checks
// and start-up waits, and the control plane (control.go) offers the
// emulator-only controls of Server (FailRegistryCalls, AwaitConnections,
// DropConnection) to other processes, authorized like a registry write.
// Devices and modules can also ask for faults themselves with the official
// SDK suites' fault-injection telemetry (KillTcp, ShutDownMqtt,
// InvokeThrottling, InvokeAuthError; faults_mqtt.go), which live hubs no
// longer honour.
package emulator

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/internal/amqp"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Options configure an emulator. The zero value listens on loopback on random
// ports with a fresh CA, which is what tests want.
type Options struct {
	// HostName is the hub's host name as clients see it: the certificate is
	// made for it and connection strings carry it. Default "localhost".
	HostName string
	// HTTPSAddr, MQTTAddr and AMQPAddr are the listen addresses of the
	// REST API, of MQTT over TLS and of AMQP over TLS (the built-in
	// endpoint, eventhub_amqp.go). Default "127.0.0.1:0" (a random loopback
	// port).
	HTTPSAddr, MQTTAddr, AMQPAddr string
	// MQTTListener, when set, is where MQTT over TLS is served instead of a
	// listener on MQTTAddr, which is then ignored: a socket handed over by
	// systemd's socket activation, or a listener on an in-memory or
	// user-space network (one process can hold more connections through a
	// user-space TCP/IP stack on a TUN device than its descriptor limit
	// lets it hold kernel sockets: BenchmarkHeldConnections -connections.tun).
	// The emulator serves it as its own listener (MaxMQTTConnections, the
	// CONNECT deadline, Close closing the connections still open; its
	// connections must support deadlines) and owns it from the call to
	// Start: Close closes it, and so does a Start that fails. MQTTAddr()
	// reports its address.
	MQTTListener net.Listener
	// Certificate, when set, is served instead of a generated one; CACertPEM
	// is then what TLSConfig and CACertPEM report (the chain's last
	// certificate when empty).
	Certificate *tls.Certificate
	CACertPEM   []byte
	// PolicyKeys sets shared access policies' primary keys (base64) by
	// policy name (PolicyNames), so scripts can know them in advance. The
	// keys it does not name are generated, or kept from DataDir.
	PolicyKeys map[string]string
	// DataDir, when set, keeps the hub's state across restarts in one file
	// under it (store.go): identities, keys, twins, versions, etags and the
	// policies' keys. Every acknowledged write is on disk before it is
	// acknowledged. A corrupt file, or a directory another emulator holds,
	// fails Start. Empty: the state lives in memory only.
	DataDir string
	// MaxHTTPSConnections and MaxMQTTConnections cap the connections open
	// at once on each listener (MQTT over WebSockets counts as HTTPS); a
	// connection beyond the cap waits in the kernel's backlog until one
	// closes. Defaults: 1024 and 10000.
	MaxHTTPSConnections, MaxMQTTConnections int
	// MaxAMQPConnections caps the AMQP connections open at once, as the
	// others. Default 1024.
	MaxAMQPConnections int
	// EventHubPartitions is the partition count of the built-in endpoint
	// (default 4, IoT Hub's default); EventHubRetention the events each
	// partition keeps (default 10,000) and EventHubRetentionBytes their
	// size at most (bodies plus 512 bytes an event; default 64 MiB), the
	// oldest dropped first when either is reached: telemetry never makes
	// memory grow without bound. The newest event is always kept.
	EventHubPartitions, EventHubRetention int
	EventHubRetentionBytes                int64
	// DisableTwinAndLifecycleEvents stops the routing of twin-change
	// events (a twin updated or replaced, by the service or by a device's
	// reported properties) and lifecycle events (a device or module created
	// or deleted) to the built-in endpoint, leaving telemetry alone. They
	// are routed by default, as test hubs route them
	// (eventhub_notifications.go).
	DisableTwinAndLifecycleEvents bool
	// DeviceCAPEM holds the PEM of the CA certificates registered with the
	// hub, as verified CAs are on a real hub: the certificate of a
	// certificateAuthority device or module must chain to one of them.
	// More can be registered while the emulator runs (RegisterDeviceCA).
	// They are not kept in DataDir. A block that is not a CA certificate
	// fails Start.
	DeviceCAPEM []byte
	// Logger receives the emulator's logs. Default: discarded.
	Logger *slog.Logger
	// Now is the clock used for SAS expiry and timestamps. Default time.Now.
	Now func() time.Time
}

// Server is a running emulator.
type Server struct {
	hostName string // with ":port" unless the HTTPS port is 443
	log      *slog.Logger
	trust    *trust
	policies *policies
	registry *registry
	store    *store // nil without Options.DataDir
	events   *eventQueue
	broker   *mqtt.Server
	hook     mqttSide // the connection registry and clock, as control.go reaches them
	faults   *faults  // emulator-only failures, shared by MQTT, REST and control
	cas      *deviceCAs
	methods  *methods // direct method calls waiting for their answer
	jobs     *jobs    // scheduled jobs
	http     *http.Server
	httpsLn  *guardedListener
	mqttLn   *guardedListener
	amqpLn   *guardedListener
	amqp     *amqp.Server // the built-in endpoint (eventhub_amqp.go)
	eventHub *eventHub    // its events
	c2d      *c2dQueues   // cloud-to-device messages and feedback
	stopC2D  context.CancelFunc
	ws       *wsListener    // MQTT over WebSockets, on the HTTPS port
	amqpWS   *amqpWSHandler // AMQP over WebSockets, on the HTTPS port
	served   chan struct{}  // closed when the HTTPS server has stopped serving
	fresh    freshConns     // HTTPS connections that have not sent a request yet

	closeOnce sync.Once // Close may be called more than once, as httptest's may
	closeErr  error
}

// Start starts an emulator and returns once both listeners accept
// connections. ctx bounds start-up only.
func Start(ctx context.Context, opts Options) (*Server, error) {
	s, err := start(ctx, opts)
	if err != nil && opts.MQTTListener != nil {
		opts.MQTTListener.Close() // the emulator owns it, as Options says
	}
	return s, err
}

func start(ctx context.Context, opts Options) (*Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	opts.setDefaults()
	s := &Server{log: slog.New(hub.RedactHandler(opts.Logger.Handler())), served: make(chan struct{})} // no log line may hold a secret

	var err error
	if opts.Certificate != nil {
		s.trust, err = suppliedTrust(*opts.Certificate, opts.CACertPEM)
	} else {
		s.trust, err = newTrust([]string{opts.HostName}, opts.Now())
	}
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	s.cas = newDeviceCAs()
	if len(opts.DeviceCAPEM) > 0 {
		if _, err := s.cas.add(opts.DeviceCAPEM); err != nil {
			return nil, fmt.Errorf("emulator: device CA: %w", err)
		}
	}
	var kept keptState
	if opts.DataDir != "" {
		if s.store, kept, err = openAndLoad(opts.DataDir); err != nil {
			return nil, fmt.Errorf("emulator: %w", err)
		}
	}
	if s.policies, err = newPolicies(opts.PolicyKeys, kept.policyKeys); err == nil && s.store != nil {
		err = s.store.savePolicies(s.policies.keys())
	}
	if err != nil {
		s.closeStore()
		return nil, fmt.Errorf("emulator: %w", err)
	}

	var lc net.ListenConfig
	httpsLn, err := lc.Listen(ctx, "tcp", opts.HTTPSAddr)
	if err != nil {
		s.closeStore()
		return nil, fmt.Errorf("emulator: listen https: %w", err)
	}
	mqttLn, err := listenMQTT(ctx, &lc, opts)
	if err != nil {
		httpsLn.Close()
		s.closeStore()
		return nil, fmt.Errorf("emulator: listen mqtt: %w", err)
	}
	amqpLn, err := lc.Listen(ctx, "tcp", opts.AMQPAddr)
	if err != nil {
		httpsLn.Close()
		mqttLn.Close()
		s.closeStore()
		return nil, fmt.Errorf("emulator: listen amqp: %w", err)
	}
	s.httpsLn = newGuardedListener(httpsLn, "https", opts.MaxHTTPSConnections, 0, false, s.log)
	s.amqpLn = newGuardedListener(amqpLn, "amqp", opts.MaxAMQPConnections, 0, false, s.log)
	s.mqttLn = newGuardedListener(mqttLn, "mqtt", opts.MaxMQTTConnections, connectTimeout, true, s.log)
	s.hostName = hostWithPort(opts.HostName, s.httpsLn.Addr())

	s.registry = newRegistry(opts.Now)
	if s.store != nil {
		s.registry.restore(kept.devices, kept.etagSeq, s.store)
	}
	s.events = newEventQueue()
	s.eventHub = newEventHub(hubName(opts.HostName), opts.EventHubPartitions, opts.EventHubRetention, opts.EventHubRetentionBytes, opts.Now())
	s.faults = newFaults(s.registry)
	s.broker = newBroker(s.log)
	conns := newConnections(s.broker, s.log, func(id identity, connected bool) {
		s.registry.setConnected(id.deviceID, id.moduleID, connected)
	}, func() error { return flushQueue(context.Background(), s.events) }, s.registry.sessionEpoch)
	s.hook = mqttSide{connections: conns, now: opts.Now}
	twin := &twinHook{registry: s.registry, conns: conns, faults: s.faults, now: opts.Now, log: s.log}
	s.methods = newMethods(s.registry, conns, s.log)
	if err := addHooks(s.broker,
		newAuthHook(s.broker, s.registry, s.policies, s.cas, conns, s.hostName, s.log, s.faults),
		&aclHook{log: s.log},
		conns,
		twin,
		&methodHook{methods: s.methods, log: s.log},
		&faultHook{faults: s.faults, conns: conns, log: s.log},
		&telemetryHook{hub: s.eventHub, now: opts.Now},
		newWillHook(s.eventHub, opts.Now),
	); err != nil {
		s.closeListeners()
		return nil, fmt.Errorf("emulator: %w", err)
	}
	s.c2d = newC2DQueues(s.registry.clocks, newFeedbackQueue(opts.Now))
	c2dMQTT := &c2dHook{queues: s.c2d, conns: conns, registry: s.registry}
	if err := s.broker.AddHook(c2dMQTT, nil); err != nil {
		s.closeListeners()
		return nil, fmt.Errorf("emulator: mqtt hook %s: %w", c2dMQTT.ID(), err)
	}
	s.c2d.onEnqueue = c2dMQTT.pump
	s.registry.setEvents(registryEvents{
		DesiredChanged: func(deviceID, moduleID string, patch []byte, version int64, online bool) {
			if online {
				s.events.push(func() { twin.pushDesired(deviceID, moduleID, patch, version) })
			}
		},
		IdentityGone: func(deviceID, moduleID string) {
			s.events.push(func() { s.identityGone(identity{deviceID: deviceID, moduleID: moduleID}) })
		},
		Notify: s.notifier(opts),
	})
	s.jobs = newJobs(s.registry, s.methods, opts.Now, s.log)
	rest := newRESTHandler(s.registry, s.policies, s.hostName, opts.Now, s.log, s.faults, s.methods, s.c2d, s.jobs)
	ws := newWSListener("wss", s.httpsLn.Addr().String(), s.log, rest)
	s.ws = ws
	for _, l := range []listeners.Listener{mqttNetListener{Net: listeners.NewNet("mqtts", tls.NewListener(s.mqttLn, s.trust.mqttServerConfig())), guard: s.mqttLn}, ws} {
		if err := s.broker.AddListener(l); err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("emulator: mqtt listener %s: %w", l.ID(), err)
		}
	}
	serveBroker(s.broker)

	s.amqp = newEventHubEndpoint(s.eventHub, s.policies, s.hostName, opts.Now, s.log).server()
	c2dAMQP := &c2dEndpoint{queues: s.c2d, registry: s.registry, hubName: hubName(opts.HostName), now: opts.Now, log: s.log}
	s.amqp.Attach = c2dAMQP.route(s.amqp.Attach)
	s.amqpWS = newAMQPWSHandler(s.amqp, opts.MaxAMQPConnections, s.log, rest)
	mux := routes(ws, s.amqpWS, rest, http.HandlerFunc(s.serveControl), http.HandlerFunc(s.serveHealth))
	s.http = &http.Server{
		Handler:           mux,
		ConnState:         s.fresh.track,
		ReadHeaderTimeout: httpReadHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       httpIdleTimeout,
		MaxHeaderBytes:    httpMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	go func() {
		defer close(s.served)
		err := s.http.Serve(tls.NewListener(s.httpsLn, s.trust.serverConfig()))
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("https server stopped", "error", err)
		}
	}()
	var c2dCtx context.Context
	c2dCtx, s.stopC2D = context.WithCancel(context.Background())
	go s.c2d.expireEvery(c2dCtx, time.Second)
	go func() { _ = s.amqp.Serve(tls.NewListener(s.amqpLn, s.trust.serverConfig())) }()
	s.log.Info("iot hub emulator started", "host", s.hostName, "https", s.httpsLn.Addr().String(),
		"mqtt", s.mqttLn.Addr().String(), "amqp", s.amqpLn.Addr().String(), "websocket", s.URL()+websocketPath)
	return s, nil
}

// listenMQTT is the listener MQTT over TLS is served on: the caller's, or a
// new one on MQTTAddr.
func listenMQTT(ctx context.Context, lc *net.ListenConfig, opts Options) (net.Listener, error) {
	if opts.MQTTListener != nil {
		return opts.MQTTListener, nil
	}
	return lc.Listen(ctx, "tcp", opts.MQTTAddr)
}

// notifier enqueues the registry's twin-change and lifecycle events on the
// built-in endpoint, in the partition of their device as telemetry is; nil
// when the options turn them off.
func (s *Server) notifier(opts Options) func(notification) {
	if opts.DisableTwinAndLifecycleEvents {
		return nil
	}
	return func(n notification) {
		now := opts.Now()
		s.eventHub.enqueue(n.deviceID, n.message(s.eventHub.name, now), now)
	}
}

// routes sends the WebSocket and health paths and the control plane (the
// rest of /$hubspec/) to their handlers and every other path, exactly as
// sent, to the REST front end. http.ServeMux is not used because it cleans
// paths and answers 301/307 redirects (for "/devices/..", "//x"), which no
// IoT Hub answers; the REST front end gives those its own 4xx in the hub's
// shape. /$iothub/websocket serves MQTT or AMQP by the subprotocol asked
// for, as edgeHub does (IoT Hub's own AMQP clients dial it).
func routes(mqttWS, amqpWS, rest, control, health http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == websocketPath && wantsAMQP(r):
			amqpWS.ServeHTTP(w, r)
		case r.URL.Path == websocketPath:
			mqttWS.ServeHTTP(w, r)
		case isAMQPWebSocketPath(r.URL.Path):
			amqpWS.ServeHTTP(w, r)
		case r.URL.Path == HealthPath:
			health.ServeHTTP(w, r)
		case strings.HasPrefix(r.URL.Path, controlPrefix):
			// The control plane's awaits may outlast the REST write timeout;
			// they end on their own deadline.
			_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
			control.ServeHTTP(w, r)
		default:
			rest.ServeHTTP(w, r)
		}
	})
}

// serveHealth answers 200 {"status":"ok",...} while both listeners accept
// connections and 503 {"status":"unhealthy",...} while one cannot (out of
// file descriptors, say), naming each listener's state, so a container's
// health check sees a dead MQTT side even though HTTPS still answers.
func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ans := struct {
		Status    string            `json:"status"`
		Listeners map[string]string `json:"listeners"`
	}{Status: "ok", Listeners: map[string]string{}}
	code := http.StatusOK
	for _, l := range []*guardedListener{s.httpsLn, s.mqttLn, s.amqpLn} {
		st := l.state()
		ans.Listeners[l.name] = st
		if st != "ok" {
			ans.Status, code = "unhealthy", http.StatusServiceUnavailable
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(ans)
}

func (o *Options) setDefaults() {
	if o.HostName == "" {
		o.HostName = "localhost"
	}
	if o.MaxHTTPSConnections <= 0 {
		o.MaxHTTPSConnections = defaultMaxHTTPSConnections
	}
	if o.MaxMQTTConnections <= 0 {
		o.MaxMQTTConnections = defaultMaxMQTTConnections
	}
	if o.HTTPSAddr == "" {
		o.HTTPSAddr = "127.0.0.1:0"
	}
	if o.MQTTAddr == "" {
		o.MQTTAddr = "127.0.0.1:0"
	}
	if o.AMQPAddr == "" {
		o.AMQPAddr = "127.0.0.1:0"
	}
	if o.MaxAMQPConnections <= 0 {
		o.MaxAMQPConnections = defaultMaxAMQPConnections
	}
	if o.EventHubPartitions <= 0 {
		o.EventHubPartitions = defaultEventHubPartitions
	}
	if o.EventHubRetention <= 0 {
		o.EventHubRetention = defaultEventHubRetention
	}
	if o.EventHubRetentionBytes <= 0 {
		o.EventHubRetentionBytes = defaultEventHubRetentionBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// hostWithPort is the HostName clients must use: the official SDKs build
// https://{HostName}, so a port other than 443 has to travel in it.
func hostWithPort(host string, addr net.Addr) string {
	port := addr.(*net.TCPAddr).Port
	if port == 443 {
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// Close stops the emulator: in-flight HTTPS requests finish, MQTT sessions
// (over TLS and over WebSockets) are disconnected, and Close returns once
// everything has stopped; later calls return what the first did. WebSocket
// connections are hijacked from the HTTPS server, so its Shutdown does not
// wait for them; disconnectMQTT ends them.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Server) close() error {
	s.faults.stop()   // pending fault delays and control long polls end first
	s.methods.close() // and direct method calls waiting for an answer
	s.stopC2D()       // and the expiry of cloud-to-device messages
	s.jobs.close()    // and scheduled jobs, whose method calls have just ended
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- s.http.Shutdown(ctx) }()
	// Shutdown waits for in-flight requests, but also, for up to 5 s, for
	// connections that have not sent a request yet; those are closed here.
	s.fresh.closeAll()
	err := <-shut
	<-s.served
	s.disconnectMQTT()
	// The registry's events run before the broker closes: a deleted
	// identity's clean-up (identityGone) removes its session from
	// mochi-mqtt's client list, whose write lock deadlocks the broker's
	// Close as a client ending would (see disconnectMQTT).
	s.events.close()
	s.broker.Close()
	s.amqpLn.Close()
	_ = s.amqp.Close() // closes every AMQP connection and waits for them
	s.amqpWS.close()   // and the WebSocket handlers they ran in
	s.closeStore()
	return err
}

// disconnectMQTT ends every MQTT connection, and waits until mochi-mqtt has
// finished with each, before the broker's own Close runs. That Close lists
// a listener's clients under a read lock it takes twice (mochi-mqtt v2.7.9
// Clients.GetByListener calls Len while holding it), which deadlocks when a
// client ending at that moment asks for the write lock in between; the
// adversarial suite hit it. With no connection left in mochi's hands, no
// client can end during the broker's Close.
func (s *Server) disconnectMQTT() {
	disconnectAll := func(string) {
		for _, cl := range s.broker.Clients.GetAll() {
			_ = s.broker.DisconnectClient(cl, packets.ErrServerShuttingDown)
		}
	}
	s.mqttLn.Close() // no new connection; every open one is closed
	disconnectAll("")
	s.mqttLn.handedOut.Wait()
	s.ws.Close(disconnectAll) // the same for MQTT over WebSockets; waits for its handlers
}

func (s *Server) closeListeners() {
	s.httpsLn.Close()
	s.mqttLn.Close()
	s.amqpLn.Close()
	s.closeStore()
}

func (s *Server) closeStore() {
	if s.store != nil {
		if err := s.store.close(); err != nil {
			s.log.Error("close data dir", "error", err)
		}
	}
}

// HostName is the hub host name clients use, with the HTTPS port unless it is 443.
func (s *Server) HostName() string { return s.hostName }

// URL is the base URL of the REST API, e.g. https://localhost:41234.
func (s *Server) URL() string { return "https://" + s.hostName }

// HTTPSAddr is the address the REST API listens on.
func (s *Server) HTTPSAddr() string { return s.httpsLn.Addr().String() }

// MQTTAddr is the address MQTT over TLS listens on.
func (s *Server) MQTTAddr() string { return s.mqttLn.Addr().String() }

// AMQPAddr is the address AMQP over TLS (the built-in endpoint) listens on.
func (s *Server) AMQPAddr() string { return s.amqpLn.Addr().String() }

// EventHubName is the built-in endpoint's Event Hubs-compatible name: the
// first label of the host name, as IoT Hub names it by default.
func (s *Server) EventHubName() string { return s.eventHub.name }

// EventHubConnectionString is the built-in endpoint's Event Hubs-compatible
// connection string with the iothubowner policy, as the portal shows it
// (Endpoint=sb://{host}/;SharedAccessKeyName=iothubowner;
// SharedAccessKey=...;EntityPath={name}), with the AMQP port in the
// endpoint: azeventhubs dials amqps://{endpoint host}.
func (s *Server) EventHubConnectionString() string {
	key, _ := s.policies.primaryKey("iothubowner")
	host := net.JoinHostPort(hostOnly(s.hostName), strconv.Itoa(s.amqpLn.Addr().(*net.TCPAddr).Port))
	return "Endpoint=sb://" + host + "/;SharedAccessKeyName=iothubowner;SharedAccessKey=" + key + ";EntityPath=" + s.eventHub.name
}

// hubName is the hub's name: the first label of its host name.
func hubName(host string) string {
	name, _, _ := strings.Cut(host, ".")
	return name
}

// CACertPEM is the PEM of the CA that clients must trust.
func (s *Server) CACertPEM() []byte { return append([]byte(nil), s.trust.caPEM...) }

// TLSConfig is a client TLS configuration that trusts this emulator only.
func (s *Server) TLSConfig() *tls.Config { return s.trust.clientConfig() }

// ConnectionString is the iothubowner policy's service connection string.
func (s *Server) ConnectionString() string {
	cs, _ := s.PolicyConnectionString("iothubowner")
	return cs
}

// PolicyConnectionString is the service connection string of one of the
// hub's shared access policies: iothubowner, service, device, registryRead
// or registryReadWrite.
func (s *Server) PolicyConnectionString(policy string) (string, error) {
	key, ok := s.policies.primaryKey(policy)
	if !ok {
		return "", fmt.Errorf("emulator: no shared access policy %q (have %v)", policy, s.policies.names())
	}
	return hub.ConnectionString{HostName: s.hostName, SharedAccessKeyName: policy, SharedAccessKey: key}.String(), nil
}

// AwaitConnections waits until the device (moduleID "") or module has had at
// least n accepted MQTT connections since the emulator started: tests wait on
// a reconnect with it instead of sleeping.
func (s *Server) AwaitConnections(ctx context.Context, deviceID, moduleID string, n int) error {
	return s.hook.awaitConnections(ctx, identity{deviceID: deviceID, moduleID: moduleID}, n)
}

// mqttSide is what the server and its control plane (control.go) use of the
// MQTT side: the connection registry (DropConnection, AwaitConnections and
// the connections controls) and the clock answers are stamped with.
type mqttSide struct {
	*connections
	now func() time.Time
}

// identityGone closes a deleted or disabled identity's connection and
// forgets its session. A deleted one's count of accepted connections goes
// too, and a deleted device's cloud-to-device messages and feedback, so
// nothing is kept for identities that no longer exist.
func (s *Server) identityGone(id identity) {
	s.hook.forget(id)
	if s.registry.identityExists(id) {
		return // disabled: it may be enabled again
	}
	s.hook.forgetCount(id)
	if id.moduleID == "" {
		s.c2d.forget(id.deviceID)
	}
}

// freshConns tracks the HTTPS connections in http.StateNew, so Close can
// drop them at once instead of letting net/http wait for them.
type freshConns struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (f *freshConns) track(c net.Conn, state http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if state == http.StateNew {
		if f.conns == nil {
			f.conns = map[net.Conn]struct{}{}
		}
		f.conns[c] = struct{}{}
		return
	}
	delete(f.conns, c)
}

func (f *freshConns) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.Close()
	}
}
