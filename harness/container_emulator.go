package harness

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub"
)

// The emulator image's contract (cmd/iothub-emulator and the Dockerfile).
const (
	// DefaultEmulatorImage is the image the container target runs when
	// IOTHUB_EMULATOR_IMAGE is empty: the one `make image` builds from a
	// checkout. The harness never builds an image.
	DefaultEmulatorImage = "hubspec/iothub-emulator:dev"
	// EmulatorSourceLabel is the image label `make image` sets to a hash of
	// the sources the image was built from (.ci/image-source-hash.sh), so
	// a test can tell an image of this checkout from a stale one.
	EmulatorSourceLabel = "org.hubspec.source"
	// EmulatorHTTPSPort serves the REST API, the health probe and MQTT over
	// WebSockets; EmulatorMQTTPort serves MQTT over TLS; EmulatorAMQPPort
	// AMQP over TLS (the built-in endpoint, cloud-to-device messages).
	EmulatorHTTPSPort = "443/tcp"
	EmulatorMQTTPort  = "8883/tcp"
	EmulatorAMQPPort  = "5671/tcp"

	emulatorCAPath      = "/ca.pem"
	emulatorHealthPath  = emulator.HealthPath
	connectionStringTag = "IOTHUB_CONNECTION_STRING="
	// waitPoll is how often the readiness checks look: the emulator is ready
	// in well under a second, so testcontainers' 100 ms would dominate.
	waitPoll = 20 * time.Millisecond
	// EmulatorLabel marks every container RunEmulator starts, so CI can
	// remove leftovers of a killed test process (Ryuk is off, see RunEmulator).
	EmulatorLabel = "org.hubspec.emulator"
)

// EmulatorContainer is the IoT Hub emulator running in a container, shaped
// like a testcontainers-go module: RunEmulator starts it, the accessors say
// how to reach it from the host, Terminate removes it.
type EmulatorContainer struct {
	testcontainers.Container
	// dialHost is where the published ports are reached from this process;
	// hubHost is the hub's own host name: its certificate's name and the
	// host its SAS tokens are scoped to.
	dialHost, hubHost string
}

// RunEmulator starts image and waits until the hub answers its health probe
// over verified TLS. Like every testcontainers module it returns the
// container even with an error, so register the cleanup before checking it:
//
//	c, err := harness.RunEmulator(ctx, harness.DefaultEmulatorImage)
//	testcontainers.CleanupContainer(t, c)
//	if err != nil { ... }
//
// Callers must terminate the container themselves and should set
// TESTCONTAINERS_RYUK_DISABLED=true before the first testcontainers call
// where the Ryuk reaper image cannot be pulled (no registry, as in Hubspec's
// CI); testcontainers reads that setting once per process.
//
// When the Docker engine is local (a unix socket or named pipe) and
// TESTCONTAINERS_HOST_OVERRIDE is unset, the ports are published on
// 127.0.0.1 alone and the hub is "localhost". Otherwise they are published
// on every interface of the daemon's host and dialled at the host
// testcontainers infers or the override names, which then also becomes the
// hub's host name (IOTHUB_EMULATOR_HOST_NAME) so that its certificate and
// SAS scope match what clients use.
func RunEmulator(ctx context.Context, image string, opts ...testcontainers.ContainerCustomizer) (*EmulatorContainer, error) {
	dialHost, err := emulatorDialHost(ctx)
	if err != nil {
		return nil, fmt.Errorf("run emulator: %w", err)
	}
	hubHost := "localhost"
	if !isLoopback(dialHost) {
		hubHost = dialHost
	}
	// Pinned rather than left to the image's defaults, since the wait, the
	// TLS name and the rewritten connection string all depend on them.
	env := map[string]string{"IOTHUB_EMULATOR_CA_OUT": emulatorCAPath, "IOTHUB_EMULATOR_HOST_NAME": hubHost}

	// The probe trusts exactly the CA the container wrote, never skipping
	// verification: a health answer also proves the served certificate is
	// the one clients will verify. The strategies run in order. The log
	// wait comes first because it fails as soon as the container exits; it
	// matches the connection string at the start of a line only, since the
	// usage text printed for a bad flag mentions the variable too. The line
	// is printed once the hub serves, after the CA file is in place.
	trust := wait.ForTLSRootCAs(emulatorCAPath).WithServerName(hubHost).WithPollInterval(waitPoll)
	health := wait.ForHTTP(emulatorHealthPath).WithPort(EmulatorHTTPSPort).
		WithTLS(true, trust.TLSConfig()).WithPollInterval(waitPoll)
	printed := wait.ForLog("(?m)^" + regexp.QuoteMeta(connectionStringTag+"HostName=")).AsRegexp().
		WithPollInterval(waitPoll)
	defaults := []testcontainers.ContainerCustomizer{
		testcontainers.WithExposedPorts(EmulatorHTTPSPort, EmulatorMQTTPort, EmulatorAMQPPort),
		testcontainers.WithEnv(env),
		testcontainers.WithLabels(map[string]string{EmulatorLabel: "true"}),
		testcontainers.WithWaitStrategyAndDeadline(time.Minute, printed, trust, &atHost{health, dialHost}),
	}
	if isLoopback(dialHost) {
		defaults = append(defaults, testcontainers.WithHostConfigModifier(bindLoopback))
	}

	ctr, err := testcontainers.Run(ctx, image, append(defaults, opts...)...)
	var c *EmulatorContainer
	if ctr != nil {
		c = &EmulatorContainer{Container: ctr, dialHost: dialHost, hubHost: hubHost}
	}
	if err != nil {
		return c, fmt.Errorf("run emulator %s: %w", image, err)
	}
	return c, nil
}

// ConnectionString is the iothubowner connection string the emulator
// printed, with HostName rewritten to the hub's host name and the published
// HTTPS port, so host-side clients reach it (the emulator's SAS scope check
// ignores the port).
func (c *EmulatorContainer) ConnectionString(ctx context.Context) (string, error) {
	owner, _, err := c.connectionStrings(ctx)
	return owner, err
}

// PolicyConnectionStrings are the connection strings of every shared
// access policy the emulator printed, by policy name, each with HostName
// rewritten as ConnectionString's. The emulator prints them all in the one
// write that the readiness wait sees the first of.
func (c *EmulatorContainer) PolicyConnectionStrings(ctx context.Context) (map[string]string, error) {
	_, policies, err := c.connectionStrings(ctx)
	return policies, err
}

// connectionStrings reads the emulator's logs once: the iothubowner
// connection string and every policy's, with the published HTTPS port.
func (c *EmulatorContainer) connectionStrings(ctx context.Context) (string, map[string]string, error) {
	logs, err := c.Logs(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("emulator logs: %w", err)
	}
	defer logs.Close()
	printed, err := parsePrinted(logs)
	if err != nil {
		return "", nil, err
	}
	port, err := c.MappedPort(ctx, EmulatorHTTPSPort)
	if err != nil {
		return "", nil, fmt.Errorf("mapped HTTPS port: %w", err)
	}
	host := net.JoinHostPort(c.hubHost, port.Port())
	at := func(cs hub.ConnectionString) string { cs.HostName = host; return cs.String() }
	policies := make(map[string]string, len(printed.byPolicy))
	for name, cs := range printed.byPolicy {
		policies[name] = at(cs)
	}
	return at(printed.owner), policies, nil
}

// EventHubConnectionString is the built-in endpoint's connection string
// the emulator printed (EVENTHUB_CONNECTION_STRING), its endpoint rewritten
// to the hub's host name and the published AMQP port.
func (c *EmulatorContainer) EventHubConnectionString(ctx context.Context) (string, error) {
	logs, err := c.Logs(ctx)
	if err != nil {
		return "", fmt.Errorf("emulator logs: %w", err)
	}
	defer logs.Close()
	printed, err := parsePrinted(logs)
	if err != nil {
		return "", err
	}
	if printed.eventHub == "" {
		return "", errors.New("emulator printed no EVENTHUB_CONNECTION_STRING line")
	}
	port, err := c.MappedPort(ctx, EmulatorAMQPPort)
	if err != nil {
		return "", fmt.Errorf("mapped AMQP port: %w", err)
	}
	return withEndpoint(printed.eventHub, net.JoinHostPort(c.hubHost, port.Port()))
}

// withEndpoint replaces the host of an Event Hubs connection string's
// Endpoint=sb://{host}/ with host.
func withEndpoint(ehcs, host string) (string, error) {
	fields := strings.Split(ehcs, ";")
	for i, f := range fields {
		if strings.HasPrefix(f, "Endpoint=sb://") {
			fields[i] = "Endpoint=sb://" + host + "/"
			return strings.Join(fields, ";"), nil
		}
	}
	return "", errors.New("emulator's EVENTHUB_CONNECTION_STRING has no Endpoint=sb://")
}

// printedLine is a line the emulator prints on stdout once it serves, one
// per shared access policy: IOTHUB_CONNECTION_STRING=... (iothubowner's,
// connectionStringTag) or IOTHUB_POLICY_<NAME>_CONNECTION_STRING=...
var printedLine = regexp.MustCompile(`^(IOTHUB_(?:[A-Z0-9]+_)*CONNECTION_STRING)=(.*)$`)

// eventHubTag starts the line with the built-in endpoint's connection string.
const eventHubTag = "EVENTHUB_CONNECTION_STRING="

// printed is what the emulator printed: the IOTHUB_CONNECTION_STRING line,
// every line by the policy its connection string names, and the
// EVENTHUB_CONNECTION_STRING line.
type printed struct {
	owner    hub.ConnectionString
	byPolicy map[string]hub.ConnectionString
	eventHub string
}

// parsePrinted reads the emulator's output (its stdout and stderr, as the
// container's logs mix them) for the connection strings it printed. A
// later line of a variable wins, as the later start of a restarted
// container does. A line that is not a policy's connection string is an
// error naming its variable, never its value, which holds a key.
func parsePrinted(r io.Reader) (printed, error) {
	p := printed{byPolicy: map[string]hub.ConnectionString{}}
	var sawOwner bool
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if ehcs, ok := strings.CutPrefix(line, eventHubTag); ok {
			p.eventHub = ehcs
			continue
		}
		m := printedLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		cs, err := hub.ParseConnectionString(m[2])
		if err == nil && (cs.SharedAccessKeyName == "" || cs.DeviceID != "") {
			err = errors.New("not a shared access policy's connection string")
		}
		if err != nil {
			return printed{}, fmt.Errorf("emulator's %s: %w", m[1], err)
		}
		if m[1]+"=" == connectionStringTag {
			p.owner, sawOwner = cs, true
		}
		p.byPolicy[cs.SharedAccessKeyName] = cs
	}
	if err := sc.Err(); err != nil {
		return printed{}, fmt.Errorf("emulator logs: %w", err)
	}
	if !sawOwner {
		return printed{}, fmt.Errorf("emulator printed no %s line", connectionStringTag)
	}
	return p, nil
}

// MQTTAddress is host:port where MQTT over TLS is published.
func (c *EmulatorContainer) MQTTAddress(ctx context.Context) (string, error) {
	port, err := c.MappedPort(ctx, EmulatorMQTTPort)
	if err != nil {
		return "", fmt.Errorf("mapped MQTT port: %w", err)
	}
	return net.JoinHostPort(c.dialHost, port.Port()), nil
}

// AMQPAddress is host:port where AMQP over TLS is published.
func (c *EmulatorContainer) AMQPAddress(ctx context.Context) (string, error) {
	port, err := c.MappedPort(ctx, EmulatorAMQPPort)
	if err != nil {
		return "", fmt.Errorf("mapped AMQP port: %w", err)
	}
	return net.JoinHostPort(c.dialHost, port.Port()), nil
}

// CACertPEM copies out the CA certificate the emulator generated at start.
func (c *EmulatorContainer) CACertPEM(ctx context.Context) ([]byte, error) {
	rc, err := c.CopyFileFromContainer(ctx, emulatorCAPath)
	if err != nil {
		return nil, fmt.Errorf("copy %s from the emulator: %w", emulatorCAPath, err)
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// TLSConfig trusts the container's CA only, and verifies the hub's host
// name whatever address a client dials (the MQTT address may be an IP).
func (c *EmulatorContainer) TLSConfig(ctx context.Context) (*tls.Config, error) {
	pem, err := c.CACertPEM(ctx)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("emulator's %s holds no certificate", emulatorCAPath)
	}
	return &tls.Config{RootCAs: pool, ServerName: c.hubHost, MinVersion: tls.VersionTLS12}, nil
}

// emulatorDialHost is where published ports are reached. A daemon on a
// local socket publishes on this machine's loopback (Docker Engine on Linux,
// Docker Desktop, a daemon inside the CI container itself), so "localhost"
// is right even when testcontainers, seeing /.dockerenv, would guess the
// bridge gateway; a socket mounted in from another network namespace needs
// TESTCONTAINERS_HOST_OVERRIDE, testcontainers' own knob for this.
func emulatorDialHost(ctx context.Context) (string, error) {
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return "", fmt.Errorf("docker provider: %w", err)
	}
	defer p.Close()
	if _, override := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); !override {
		if u, err := url.Parse(p.Client().DaemonHost()); err == nil && (u.Scheme == "unix" || u.Scheme == "npipe") {
			return "localhost", nil
		}
	}
	return p.DaemonHost(ctx)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// bindLoopback publishes the ports on 127.0.0.1 with a random host port:
// the owner key is in the container's logs, so the hub should not be
// reachable from the network by default.
func bindLoopback(hc *container.HostConfig) {
	if hc.PortBindings == nil {
		hc.PortBindings = network.PortMap{}
	}
	for _, p := range []string{EmulatorHTTPSPort, EmulatorMQTTPort, EmulatorAMQPPort} {
		hc.PortBindings[network.MustParsePort(p)] = []network.PortBinding{{HostIP: netip.MustParseAddr("127.0.0.1")}}
	}
}

// atHost runs a wait strategy against host rather than the daemon host
// testcontainers infers, since the ports may be published on loopback only.
type atHost struct {
	wait.Strategy
	host string
}

func (s *atHost) WaitUntilReady(ctx context.Context, t wait.StrategyTarget) error {
	return s.Strategy.WaitUntilReady(ctx, hostTarget{StrategyTarget: t, host: s.host})
}

func (s *atHost) String() string { return fmt.Sprintf("%v at %s", s.Strategy, s.host) }

type hostTarget struct {
	wait.StrategyTarget
	host string
}

func (t hostTarget) Host(context.Context) (string, error) { return t.host, nil }
