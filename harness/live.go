package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"

	"github.com/hubspec/hubspec/hub"
)

// A live hub throttles: an S1 unit allows 100 identity registry operations
// a minute (Azure's "IoT Hub quotas and throttling" documentation) and four
// concurrent scenarios can spend that in seconds.
// The registry client backs off on 429 and 503 (honouring Retry-After) for
// up to liveRetryAttempts tries, doubling from liveRetryBase up to its 30 s
// cap: about a minute in all, long enough for a throttled minute to pass.
const (
	liveRetryAttempts = 8
	liveRetryBase     = 500 * time.Millisecond
	// liveProbeTimeout bounds OpenLive's permission check, retries included.
	liveProbeTimeout = 2 * time.Minute
)

// live is a real IoT hub, or anything that speaks its protocol, reached
// through a service connection string. It has none of the emulator-only
// capabilities (Emulated, ConnectionAwaiter): scenarios that need them are
// skipped, and nothing here assumes the hub is a Hubspec emulator.
type live struct {
	cs       hub.ConnectionString
	tls      *tls.Config // nil: the system roots
	mqttAddr string      // "": the dial default, HostName on 8883
	amqp     AMQPEndpoint
}

// OpenLive connects to the hub of c.ConnectionString (IOTHUB_CONNECTION_STRING),
// a shared access policy string with registry read, registry write and
// service connect: iothubowner, or a custom policy with those three.
// c.CAFile (IOTHUB_CA_FILE) adds a PEM to the system roots, for a hub behind
// a private CA; c.MQTTAddress (IOTHUB_MQTT_ADDRESS) is where MQTT clients
// dial instead of the hub's HostName on 8883.
//
// It checks the policy's permissions with three requests that change
// nothing (read, delete and read the twin of a device that does not
// exist), so a wrong policy fails here with one clear message instead of
// in every scenario. No error ever contains the policy's key.
func OpenLive(ctx context.Context, c Config) (Target, error) {
	if c.ConnectionString == "" {
		return nil, errors.New("IOTHUB_TARGET=live needs IOTHUB_CONNECTION_STRING: a shared access policy connection string " +
			"(HostName=...;SharedAccessKeyName=...;SharedAccessKey=...) with registry read, registry write and service connect, such as iothubowner's")
	}
	cs, err := hub.ParseConnectionString(c.ConnectionString)
	if err != nil {
		return nil, fmt.Errorf("IOTHUB_CONNECTION_STRING: %w", err) // names keys, never values
	}
	if !cs.IsService() {
		return nil, errors.New("IOTHUB_CONNECTION_STRING is a device or module connection string: " +
			"the live target needs a shared access policy string (HostName=...;SharedAccessKeyName=...;SharedAccessKey=...)")
	}
	l := &live{cs: cs}
	if c.CAFile != "" {
		if l.tls, err = trustFile(c.CAFile); err != nil {
			return nil, err
		}
	}
	if l.mqttAddr, err = mqttAddress(c.MQTTAddress, cs); err != nil {
		return nil, err
	}
	if l.amqp, err = amqpEndpoint(c, l.tls); err != nil {
		return nil, err
	}
	if err := l.checkPermissions(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *live) Name() string { return "live" }

func (l *live) ServiceConnectionString() string { return l.cs.String() }

func (l *live) RegistryOptions() []service.Option {
	reg, _ := tlsOptions(l.tls)
	return append(reg, service.WithRetry(liveRetryAttempts, liveRetryBase))
}

func (l *live) DialOptions() []device.Option {
	_, dial := tlsOptions(l.tls)
	if l.mqttAddr != "" {
		dial = append(dial, device.WithAddress(l.mqttAddr))
	}
	return dial
}

// AMQP is IOTHUB_AMQP_ADDRESS (else the hub's HostName on 5671) and
// IOTHUB_EVENTHUB_CONNECTION_STRING, with the target's trust.
func (l *live) AMQP() AMQPEndpoint { return l.amqp }

// Close has nothing to release: the hub outlives the run, and each
// scenario deletes what it created.
func (l *live) Close() error { return nil }

// trustFile is the system roots plus the certificates of a PEM file.
func trustFile(path string) (*tls.Config, error) {
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("IOTHUB_CA_FILE: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("IOTHUB_CA_FILE %s: holds no PEM certificate", path)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// amqpEndpoint checks the live target's AMQP settings: an address must be
// host:port, and a built-in endpoint connection string must be an Event
// Hubs one with an entity (the errors name the variable, never a key).
func amqpEndpoint(c Config, trust *tls.Config) (AMQPEndpoint, error) {
	if c.AMQPAddress != "" && !isHostPort(c.AMQPAddress) {
		return AMQPEndpoint{}, fmt.Errorf("IOTHUB_AMQP_ADDRESS %q: want host:port", c.AMQPAddress)
	}
	if ehcs := c.EventHubConnectionString; ehcs != "" &&
		(!strings.HasPrefix(ehcs, "Endpoint=sb://") || !strings.Contains(ehcs, ";EntityPath=") || !strings.Contains(ehcs, ";SharedAccessKey=")) {
		return AMQPEndpoint{}, errors.New("IOTHUB_EVENTHUB_CONNECTION_STRING: want the built-in endpoint's Event Hubs-compatible connection string " +
			"(Endpoint=sb://...;SharedAccessKeyName=...;SharedAccessKey=...;EntityPath=...)")
	}
	return AMQPEndpoint{Address: c.AMQPAddress, TLS: trust, EventHubConnectionString: c.EventHubConnectionString}, nil
}

// isHostPort reports whether addr is host:port with a port in 1..65535.
func isHostPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	return err == nil && perr == nil && n >= 1 && n <= 65535
}

// mqttAddress is where module clients dial: IOTHUB_MQTT_ADDRESS when set,
// else the service string's GatewayHostName on 8883 (the steps build module
// strings from HostName alone, so the gateway would otherwise be lost),
// else "" for the dial default, HostName on 8883.
func mqttAddress(configured string, cs hub.ConnectionString) (string, error) {
	if configured != "" {
		if !isHostPort(configured) {
			return "", fmt.Errorf("IOTHUB_MQTT_ADDRESS %q: want host:port", configured)
		}
		return configured, nil
	}
	if gw := cs.GatewayHostName; gw != "" {
		if _, _, err := net.SplitHostPort(gw); err == nil {
			return gw, nil
		}
		return net.JoinHostPort(gw, "8883"), nil
	}
	return "", nil
}

// checkPermissions probes the three permissions the steps need. Each probe
// names a device that does not exist, so an authorised policy gets 404 and
// nothing changes; a policy without the permission gets 401.
func (l *live) checkPermissions(ctx context.Context) error {
	reg, err := service.NewRegistryClient(l.cs.String(), l.RegistryOptions()...)
	if err != nil {
		return fmt.Errorf("IOTHUB_CONNECTION_STRING: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, liveProbeTimeout)
	defer cancel()
	probe := "hubspec-permission-probe-" + randomHex(8)
	probes := []struct {
		permission string
		call       func() error
	}{
		{"registry read", func() error { _, err := reg.GetDevice(ctx, probe); return err }},
		{"registry write", func() error { return reg.DeleteDevice(ctx, probe, "*") }},
		{"service connect", func() error { _, err := reg.GetDeviceTwin(ctx, probe); return err }},
	}
	const need = "the live target needs registry read, registry write and service connect, such as the iothubowner policy"
	for i, p := range probes {
		err := p.call()
		e, isHub := hub.AsError(err)
		switch {
		case err == nil || isHub && e.StatusCode == 404:
			continue
		case isHub && e.StatusCode == 401 && i == 0:
			return fmt.Errorf("IOTHUB_CONNECTION_STRING: %s answers 401 to policy %q: its key is wrong or it lacks %s; %s",
				l.cs.HostName, l.cs.SharedAccessKeyName, p.permission, need)
		case isHub && e.StatusCode == 401:
			return fmt.Errorf("IOTHUB_CONNECTION_STRING: policy %q lacks %s on %s (401); %s",
				l.cs.SharedAccessKeyName, p.permission, l.cs.HostName, need)
		}
		var unknownCA x509.UnknownAuthorityError
		if errors.As(err, &unknownCA) {
			return fmt.Errorf("live hub %s: %w (set IOTHUB_CA_FILE to the PEM of the CA that signs its certificate)", l.cs.HostName, err)
		}
		return fmt.Errorf("live hub %s: checking %s: %w", l.cs.HostName, p.permission, err)
	}
	return nil
}
