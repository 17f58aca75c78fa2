package device

import (
	"crypto/tls"
	"log/slog"
	"time"

	"github.com/hubspec/hubspec/internal/mqttconn"
)

// Option configures DialModule and DialDevice.
type Option func(*mqttconn.Settings)

// apply is the options as one function over the settings.
func apply(opts []Option) func(*mqttconn.Settings) {
	return func(s *mqttconn.Settings) {
		for _, o := range opts {
			o(s)
		}
	}
}

// WithAddress sets the address (host:port) to dial. Default: the
// connection string's GatewayHostName, else its HostName, on port 8883
// (443 with WithWebSockets).
func WithAddress(addr string) Option { return func(c *mqttconn.Settings) { c.Addr = addr } }

// WithWebSockets speaks MQTT over WebSockets, wss://{addr}/$iothub/websocket
// with the subprotocol "mqtt" (paho's), as the SDKs do when only port 443
// may leave a network.
func WithWebSockets() Option { return func(c *mqttconn.Settings) { c.WebSockets = true } }

// WithTLSConfig sets the TLS configuration, e.g. one trusting an emulator's CA.
func WithTLSConfig(cfg *tls.Config) Option { return func(c *mqttconn.Settings) { c.TLS = cfg } }

// WithClientCertificate authenticates with an X.509 certificate in the TLS
// handshake instead of a SAS token: the CONNECT carries no password. The
// identity must be registered with selfSigned authentication (the
// certificate's thumbprint) or certificateAuthority (the certificate
// chains to a CA registered with the hub and its common name is the device
// id, or {device id}/{module id} for a module). The connection string then
// names the identity only: HostName=...;DeviceId=...;x509=true, as the SDKs
// write it. MQTT over TLS only: the emulator takes no certificate over
// WebSockets (docs/fidelity.md, "X.509 authentication").
func WithClientCertificate(cert tls.Certificate) Option {
	return func(c *mqttconn.Settings) { c.ClientCert = &cert }
}

// WithTokenTTL sets the SAS token lifetime (default 1h). The client renews
// the token when 80% of it has passed, as the C SDK does.
func WithTokenTTL(d time.Duration) Option { return func(c *mqttconn.Settings) { c.TTL = d } }

// WithKeepAlive sets the MQTT keep-alive (default 60s, the Python SDK's).
func WithKeepAlive(d time.Duration) Option { return func(c *mqttconn.Settings) { c.KeepAlive = d } }

// Clock is the time a client reads and waits on: the moment its SAS tokens
// are signed at, and the timers of its token renewal and of its retries.
// A test gives one it can move forward (see WithClock); the default is the
// wall clock.
type Clock interface {
	Now() time.Time
	// AfterFunc runs fn on its own goroutine once d has passed, unless
	// stop is called first; stop reports whether it prevented the call.
	AfterFunc(d time.Duration, fn func()) (stop func() bool)
}

// WithClock sets the clock the client signs tokens by and waits on.
func WithClock(c Clock) Option {
	return func(s *mqttconn.Settings) { s.Now, s.AfterFunc = c.Now, c.AfterFunc }
}

// WithTokenTime signs tokens as if it were now() (a token born expired, or
// in the future), while the client waits on the wall clock.
func WithTokenTime(now func() time.Time) Option { return func(c *mqttconn.Settings) { c.Now = now } }

// WithLogger sets a logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(c *mqttconn.Settings) { c.Log = l } }

// WithObserver calls fn for the MQTT traffic of the client: connection
// attempts, publishes both ways, subscriptions, disconnects. fn runs on
// paho's goroutines, which deliver messages in order: it must not block
// (append under a mutex and return), or the client stalls.
//
// A DialModule or DialDevice client reports the outcome of a connection
// made or refused; paho's own reconnect attempts that fail are not seen,
// only the loss before them and the connection that finally succeeds.
func WithObserver(fn func(Event)) Option { return func(c *mqttconn.Settings) { c.Observe = fn } }

// WithModelID announces the IoT Plug and Play model the device or module
// implements, a DTMI such as "dtmi:com:example:Thermostat;1", in the MQTT
// user name of every CONNECT ("&model-id=", URL-encoded), as the SDKs'
// model id option does. The hub shows it as the twin's modelId and the
// digital twin's $metadata.$model.
func WithModelID(dtmi string) Option { return func(c *mqttconn.Settings) { c.ModelID = dtmi } }
