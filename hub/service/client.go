// Package service is a client of an IoT hub's service REST API (the
// registry of devices and modules, their twins, and direct methods) with a
// shared access policy, as the official service SDKs use it. It works
// against a real hub and the emulator alike.
package service

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hubspec/hubspec/hub"
)

const (
	// registryAPIVersion is what the Python, Node and C# service SDKs send.
	registryAPIVersion = "2021-04-12"
	registryUserAgent  = "hubspec/0.1 (registry; api-version=" + registryAPIVersion + ")"
	// maxResponseBody bounds what a broken or hostile server can make us
	// buffer; the largest legitimate answer (1000 devices) is far smaller.
	maxResponseBody = 4 << 20
	// maxRetryAfter caps a server's Retry-After so one header cannot park a
	// caller without a deadline for hours.
	maxRetryAfter = time.Minute
	maxBackoff    = 30 * time.Second
)

// RegistryClient talks to the registry and twin REST API of an IoT hub (real
// or emulated) with a shared access policy, like the Python service SDK:
// base URL https://{HostName}, a SAS token signed for the policy, and
// If-Match quoted so the hub honours it. It is safe for concurrent use.
type RegistryClient struct {
	cs        hub.ConnectionString
	sas       sasCache
	baseURL   string
	http      *http.Client
	ttl       time.Duration
	attempts  int
	baseDelay time.Duration
	log       *slog.Logger
	now       func() time.Time
	observe   func(HTTPExchange) // nil: nobody observes (see WithObserver)
}

type registryConfig struct {
	tlsConfig  *tls.Config
	httpClient *http.Client
	ttl        time.Duration
	attempts   int
	baseDelay  time.Duration
	logger     *slog.Logger
	clock      func() time.Time
	observe    func(HTTPExchange)
	amqpAddr   string // DialMessaging's address; "" = HostName on 5671
}

// Option configures NewRegistryClient.
type Option func(*registryConfig)

// WithTLSConfig sets the TLS configuration, e.g. one trusting the
// emulator's CA. Combined with WithHTTPClient it is applied to a copy of
// that client's *http.Transport.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(c *registryConfig) { c.tlsConfig = cfg }
}

// WithAMQPAddress sets the host:port DialMessaging dials (default: the
// HostName on 5671); TLS still verifies the hub's host name unless
// WithTLSConfig sets a ServerName.
func WithAMQPAddress(addr string) Option {
	return func(c *registryConfig) { c.amqpAddr = addr }
}

// WithHTTPClient replaces the HTTP client.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *registryConfig) { c.httpClient = hc }
}

// WithTokenTTL sets the lifetime of the token the client signs (default
// one hour, as the Python SDK); it signs a new one when 15% of that is
// left.
func WithTokenTTL(ttl time.Duration) Option {
	return func(c *registryConfig) { c.ttl = ttl }
}

// WithRetry sets how often a throttled (429) or unavailable (503) request is
// tried in total, and the first backoff delay, which doubles per attempt.
// The default is 4 attempts from 200ms; 0 or 1 disables retries.
func WithRetry(maxAttempts int, baseDelay time.Duration) Option {
	return func(c *registryConfig) { c.attempts, c.baseDelay = maxAttempts, baseDelay }
}

// WithLogger logs each request at debug level (method, path, status,
// attempt), never headers or tokens. The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(c *registryConfig) { c.logger = l }
}

// WithClock sets the clock used for token expiry, so tests can pin "se".
func WithClock(now func() time.Time) Option {
	return func(c *registryConfig) { c.clock = now }
}

// NewRegistryClient returns a client for the hub of a service (shared
// access policy) connection string. No network I/O happens here.
func NewRegistryClient(connectionString string, opts ...Option) (*RegistryClient, error) {
	cs, err := hub.ParseConnectionString(connectionString)
	if err != nil {
		return nil, err
	}
	if !cs.IsService() {
		return nil, errors.New("registry client: needs a service (shared access policy) connection string")
	}
	cfg := registryConfig{ttl: time.Hour, attempts: 4, baseDelay: 200 * time.Millisecond, clock: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.ttl <= 0 || cfg.attempts < 0 || cfg.baseDelay < 0 || cfg.clock == nil {
		return nil, errors.New("registry client: token TTL must be positive, retry settings non-negative, clock non-nil")
	}
	hc, err := buildHTTPClient(cfg.httpClient, cfg.tlsConfig)
	if err != nil {
		return nil, err
	}
	log := cfg.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &RegistryClient{
		cs: cs, baseURL: "https://" + cs.HostName, http: hc, ttl: cfg.ttl,
		attempts: max(cfg.attempts, 1), baseDelay: cfg.baseDelay, log: log, now: cfg.clock, observe: cfg.observe,
	}, nil
}

// buildHTTPClient never follows redirects in its default client: the hub
// does not redirect, and a redirect would be a misconfiguration to report.
// Its own transport keeps as many idle connections to the hub as it keeps in
// all, rather than Go's default of 2 a host: a client talks to one host, and
// an app with more calls in flight would otherwise close the extra
// connections after each call and pay a TLS handshake for the next.
func buildHTTPClient(hc *http.Client, tlsCfg *tls.Config) (*http.Client, error) {
	if hc != nil && tlsCfg == nil {
		return hc, nil
	}
	var tr *http.Transport
	switch {
	case hc == nil || hc.Transport == nil:
		tr = http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = tr.MaxIdleConns
	default:
		t, ok := hc.Transport.(*http.Transport)
		if !ok {
			return nil, errors.New("registry client: WithTLSConfig needs WithHTTPClient's Transport to be an *http.Transport")
		}
		tr = t.Clone()
	}
	tr.TLSClientConfig = tlsCfg.Clone()
	if hc != nil {
		c := *hc
		c.Transport = tr
		return &c, nil
	}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}, nil
}

// HostName is the hub's host name (with port, if the string had one).
func (c *RegistryClient) HostName() string { return c.cs.HostName }

// restCall describes one REST operation.
type restCall struct {
	method  string
	path    string      // already escaped
	query   url.Values  // api-version is added
	body    any         // JSON-encoded when non-nil
	ifMatch string      // header value; "" sends none
	ok      []int       // accepted statuses
	out     any         // decoded from a successful body when non-nil
	headers http.Header // more request headers (a query's paging)
	// gotHeader, when non-nil, receives the successful answer's headers.
	gotHeader *http.Header
}

// do runs k, retrying 429 and 503 answers. Errors are *Error for hub
// answers, unwrapped: the public methods add the operation as context.
func (c *RegistryClient) do(ctx context.Context, k restCall) error {
	var payload []byte
	if k.body != nil {
		var err error
		if payload, err = json.Marshal(k.body); err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
	}
	q := url.Values{}
	for key, v := range k.query {
		q[key] = v
	}
	q.Set("api-version", registryAPIVersion)
	u := c.baseURL + k.path + "?" + q.Encode()
	for attempt := 1; ; attempt++ {
		status, hdr, body, err := c.roundTrip(ctx, k, u, payload, attempt)
		if err != nil {
			return err
		}
		if slices.Contains(k.ok, status) {
			if k.gotHeader != nil {
				*k.gotHeader = hdr
			}
			if k.out == nil || len(bytes.TrimSpace(body)) == 0 {
				return nil
			}
			if err := json.Unmarshal(body, k.out); err != nil {
				return fmt.Errorf("decode %d response: %w", status, err)
			}
			return nil
		}
		if status >= 200 && status < 300 {
			return fmt.Errorf("unexpected status %d (want %v)", status, k.ok)
		}
		hubErr := hub.ParseError(status, hdr.Get("iothub-errorcode"), body)
		if (status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable) || attempt >= c.attempts {
			return hubErr
		}
		d := c.backoff(attempt, hdr.Get("Retry-After"))
		c.log.DebugContext(ctx, "iothub retry", "method", k.method, "path", k.path, "status", status, "attempt", attempt, "delay", d)
		if err := sleepCtx(ctx, d); err != nil {
			return fmt.Errorf("%w (while waiting to retry after %w)", err, hubErr)
		}
	}
}

// sasCache is the policy token the client sends, signed once and used
// until it has 15% of its lifetime left, as the C# service SDK keeps its
// token (Azure/azure-iot-sdk-csharp, SharedAccessKeyCredentials: "renewed
// when it has 15% or less of the sas token's lifespan left"). Signing on
// every request cost an HMAC and a dozen allocations per call.
type sasCache struct {
	mu      sync.Mutex
	token   string
	renewAt time.Time
}

// renewalShare is the part of a token's lifetime left when it is renewed.
const renewalShare = 0.15

// token is the cached token, signed afresh when there is none yet or its
// renewal time has come by the client's clock.
func (c *RegistryClient) token() (string, error) {
	c.sas.mu.Lock()
	defer c.sas.mu.Unlock()
	now := c.now()
	if c.sas.token != "" && now.Before(c.sas.renewAt) {
		return c.sas.token, nil
	}
	token, err := hub.BuildSASToken(c.cs.HostName, c.cs.SharedAccessKey, c.cs.SharedAccessKeyName, now.Add(c.ttl))
	if err != nil {
		return "", err
	}
	c.sas.token, c.sas.renewAt = token, now.Add(c.ttl-time.Duration(float64(c.ttl)*renewalShare))
	return token, nil
}

// roundTrip sends one attempt.
func (c *RegistryClient) roundTrip(ctx context.Context, k restCall, u string, payload []byte, attempt int) (int, http.Header, []byte, error) {
	token, err := c.token()
	if err != nil {
		return 0, nil, nil, err
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, k.method, u, body)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", registryUserAgent)
	req.Header.Set("Request-Id", requestID())
	if payload != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	if k.ifMatch != "" {
		req.Header.Set("If-Match", k.ifMatch)
	}
	for name, v := range k.headers {
		req.Header[name] = v
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.observeHTTP(req, payload, nil, nil, start, err)
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	c.observeHTTP(req, payload, resp, b, start, err)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read %d response: %w", resp.StatusCode, err)
	}
	if len(b) > maxResponseBody {
		return 0, nil, nil, fmt.Errorf("%d response body exceeds %d bytes", resp.StatusCode, maxResponseBody)
	}
	c.log.DebugContext(ctx, "iothub request", "method", k.method, "path", k.path,
		"status", resp.StatusCode, "attempt", attempt, "duration", time.Since(start))
	return resp.StatusCode, resp.Header, b, nil
}

// backoff is baseDelay·2^(attempt-1), capped, with "equal jitter" (half
// fixed, half random) so concurrent scenarios throttled together spread out.
// A Retry-After in seconds from the server wins, capped at maxRetryAfter.
func (c *RegistryClient) backoff(attempt int, retryAfter string) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(retryAfter)); err == nil && s >= 0 {
		return time.Duration(min(s, int(maxRetryAfter/time.Second))) * time.Second
	}
	d := c.baseDelay
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	if d < 2 {
		return d
	}
	return d/2 + mathrand.N(d/2)
}

// sleepCtx sleeps for d or until ctx is done, whichever is first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ifMatch turns an etag into an If-Match value. "" and "*" mean
// unconditional and send a bare *. Anything else is quoted unless it already
// is: the hub silently ignores unquoted etags (docs/fidelity.md, "Unquoted
// If-Match"), which would turn an optimistic update into an unconditional
// one.
func ifMatch(etag string) string {
	if etag == "" || etag == "*" {
		return "*"
	}
	if len(etag) >= 2 && strings.HasSuffix(etag, `"`) && (etag[0] == '"' || strings.HasPrefix(etag, `W/"`)) {
		return etag
	}
	return `"` + etag + `"`
}

// escapeID is Python's quote(id, safe="") as msrest applies it to path
// parameters, so ids with "/", "#", "?", "%" or ":" reach the hub intact.
func escapeID(id string) string { return hub.EscapeAll(id) }

// requestID is a random UUIDv4-shaped Request-Id, as the Node SDK sends.
func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	hex.Encode(s[9:13], b[4:6])
	hex.Encode(s[14:18], b[6:8])
	hex.Encode(s[19:23], b[8:10])
	hex.Encode(s[24:], b[10:])
	s[8], s[13], s[18], s[23] = '-', '-', '-', '-'
	return string(s[:])
}

// deviceRequest is the device body the Python service SDK
// (azure-iot-hub's IoTHubRegistryManager) sends:
// no read-only fields, keys as given ("" asks the hub to generate them).
type deviceRequest struct {
	DeviceID       string                  `json:"deviceId"`
	Status         string                  `json:"status,omitempty"`
	StatusReason   *string                 `json:"statusReason,omitempty"`
	Authentication *hub.Authentication     `json:"authentication,omitempty"`
	Capabilities   *hub.DeviceCapabilities `json:"capabilities,omitempty"`
}

// moduleRequest is the module body the Python SDK sends; managedBy is always
// present, "" by default, as in create_module_with_sas.
type moduleRequest struct {
	ModuleID       string              `json:"moduleId"`
	ManagedBy      string              `json:"managedBy"`
	DeviceID       string              `json:"deviceId"`
	Authentication *hub.Authentication `json:"authentication,omitempty"`
}

// createAuth defaults an identity's authentication for create: nothing at
// all, or a sas type without keys, becomes sas with two empty keys, which
// asks the hub to generate them (PYHUB create_*_with_sas, NODEHUB
// _normalizeAuthentication). The caller's struct is not modified.
func createAuth(a *hub.Authentication) *hub.Authentication {
	if a == nil || *a == (hub.Authentication{}) {
		return &hub.Authentication{Type: hub.AuthSAS, SymmetricKey: &hub.SymmetricKey{}}
	}
	c := *a
	if c.Type == "" && c.SymmetricKey != nil {
		c.Type = hub.AuthSAS
	}
	if c.Type == hub.AuthSAS && c.SymmetricKey == nil {
		c.SymmetricKey = &hub.SymmetricKey{}
	}
	return &c
}

func devicePath(d string) string { return "/devices/" + escapeID(d) }

func modulePath(d, m string) string { return devicePath(d) + "/modules/" + escapeID(m) }

// CreateDevice creates d with PUT /devices/{id} and no If-Match, so an
// existing device yields ErrDeviceAlreadyExists (409) instead of an update.
// Status defaults to enabled and capabilities to {iotEdge:false}; see
// createAuth for keys. It returns the device as stored, with its keys.
func (c *RegistryClient) CreateDevice(ctx context.Context, d *hub.Device) (*hub.Device, error) {
	if d == nil || d.DeviceID == "" {
		return nil, errors.New("create device: empty device id")
	}
	req := deviceRequest{DeviceID: d.DeviceID, Status: cmp.Or(d.Status, hub.StatusEnabled), StatusReason: d.StatusReason,
		Authentication: createAuth(d.Authentication), Capabilities: cmp.Or(d.Capabilities, &hub.DeviceCapabilities{})}
	var out hub.Device
	err := c.do(ctx, restCall{method: http.MethodPut, path: devicePath(d.DeviceID), body: req, ok: []int{200}, out: &out})
	if err != nil {
		return nil, fmt.Errorf("create device %s: %w", d.DeviceID, err)
	}
	return &out, nil
}

// GetDevice reads a device identity.
func (c *RegistryClient) GetDevice(ctx context.Context, deviceID string) (*hub.Device, error) {
	var out hub.Device
	if err := c.get(ctx, devicePath(deviceID), &out, deviceID); err != nil {
		return nil, fmt.Errorf("get device %s: %w", deviceID, err)
	}
	return &out, nil
}

// UpdateDevice replaces d's identity if its etag still matches ("" or "*":
// unconditionally). Fields are sent as given, without create's defaults.
func (c *RegistryClient) UpdateDevice(ctx context.Context, d *hub.Device, etag string) (*hub.Device, error) {
	if d == nil || d.DeviceID == "" {
		return nil, errors.New("update device: empty device id")
	}
	req := deviceRequest{DeviceID: d.DeviceID, Status: d.Status, StatusReason: d.StatusReason,
		Authentication: d.Authentication, Capabilities: d.Capabilities}
	var out hub.Device
	err := c.do(ctx, restCall{method: http.MethodPut, path: devicePath(d.DeviceID), body: req, ifMatch: ifMatch(etag), ok: []int{200}, out: &out})
	if err != nil {
		return nil, fmt.Errorf("update device %s: %w", d.DeviceID, err)
	}
	return &out, nil
}

// DeleteDevice deletes a device, its modules and twins. Like every SDK it
// always sends If-Match ("*" when etag is ""), since the hub's behaviour
// without one is undocumented.
func (c *RegistryClient) DeleteDevice(ctx context.Context, deviceID, etag string) error {
	if err := c.del(ctx, devicePath(deviceID), etag, deviceID); err != nil {
		return fmt.Errorf("delete device %s: %w", deviceID, err)
	}
	return nil
}

// ListDevices lists up to top devices (the hub caps at 1000); top <= 0
// leaves the choice to the hub.
func (c *RegistryClient) ListDevices(ctx context.Context, top int) ([]*hub.Device, error) {
	q := url.Values{}
	if top > 0 {
		q.Set("top", strconv.Itoa(top))
	}
	var out []*hub.Device
	if err := c.do(ctx, restCall{method: http.MethodGet, path: "/devices", query: q, ok: []int{200}, out: &out}); err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	return out, nil
}

// CreateModule creates m with PUT and no If-Match (existing module:
// ErrModuleAlreadyExistsOnDevice). The swagger allows 200 and 201; both
// are accepted, as PYHUB does.
func (c *RegistryClient) CreateModule(ctx context.Context, m *hub.Module) (*hub.Module, error) {
	if m == nil || m.DeviceID == "" || m.ModuleID == "" {
		return nil, errors.New("create module: empty device or module id")
	}
	req := moduleRequest{ModuleID: m.ModuleID, ManagedBy: m.ManagedBy, DeviceID: m.DeviceID, Authentication: createAuth(m.Authentication)}
	var out hub.Module
	err := c.do(ctx, restCall{method: http.MethodPut, path: modulePath(m.DeviceID, m.ModuleID), body: req, ok: []int{200, 201}, out: &out})
	if err != nil {
		return nil, fmt.Errorf("create module %s/%s: %w", m.DeviceID, m.ModuleID, err)
	}
	return &out, nil
}

// GetModule reads a module identity.
func (c *RegistryClient) GetModule(ctx context.Context, deviceID, moduleID string) (*hub.Module, error) {
	var out hub.Module
	if err := c.get(ctx, modulePath(deviceID, moduleID), &out, deviceID, moduleID); err != nil {
		return nil, fmt.Errorf("get module %s/%s: %w", deviceID, moduleID, err)
	}
	return &out, nil
}

// ListModules lists the modules of a device.
func (c *RegistryClient) ListModules(ctx context.Context, deviceID string) ([]*hub.Module, error) {
	var out []*hub.Module
	if err := c.get(ctx, devicePath(deviceID)+"/modules", &out, deviceID); err != nil {
		return nil, fmt.Errorf("list modules of %s: %w", deviceID, err)
	}
	return out, nil
}

// UpdateModule replaces m's identity if its etag still matches.
func (c *RegistryClient) UpdateModule(ctx context.Context, m *hub.Module, etag string) (*hub.Module, error) {
	if m == nil || m.DeviceID == "" || m.ModuleID == "" {
		return nil, errors.New("update module: empty device or module id")
	}
	req := moduleRequest{ModuleID: m.ModuleID, ManagedBy: m.ManagedBy, DeviceID: m.DeviceID, Authentication: m.Authentication}
	var out hub.Module
	err := c.do(ctx, restCall{method: http.MethodPut, path: modulePath(m.DeviceID, m.ModuleID), body: req, ifMatch: ifMatch(etag), ok: []int{200}, out: &out})
	if err != nil {
		return nil, fmt.Errorf("update module %s/%s: %w", m.DeviceID, m.ModuleID, err)
	}
	return &out, nil
}

// DeleteModule deletes a module and its twin, always sending If-Match.
func (c *RegistryClient) DeleteModule(ctx context.Context, deviceID, moduleID, etag string) error {
	if err := c.del(ctx, modulePath(deviceID, moduleID), etag, deviceID, moduleID); err != nil {
		return fmt.Errorf("delete module %s/%s: %w", deviceID, moduleID, err)
	}
	return nil
}

// checkIDs refuses to send a request whose path would name another
// resource: GET /devices/ with an empty id would list devices instead.
func checkIDs(ids ...string) error {
	if slices.Contains(ids, "") {
		return errors.New("empty id")
	}
	return nil
}

func (c *RegistryClient) get(ctx context.Context, path string, out any, ids ...string) error {
	if err := checkIDs(ids...); err != nil {
		return err
	}
	return c.do(ctx, restCall{method: http.MethodGet, path: path, ok: []int{200}, out: out})
}

func (c *RegistryClient) del(ctx context.Context, path, etag string, ids ...string) error {
	if err := checkIDs(ids...); err != nil {
		return err
	}
	return c.do(ctx, restCall{method: http.MethodDelete, path: path, ifMatch: ifMatch(etag), ok: []int{204}})
}
