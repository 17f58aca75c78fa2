package main

import (
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
)

// envPrefix names the environment twin of every flag: -https-addr is also
// IOTHUB_EMULATOR_HTTPS_ADDR. Containers are configured through the
// environment, people through flags; a flag wins when both are given.
const envPrefix = "IOTHUB_EMULATOR_"

// config is the command line, once parsed and checked.
type config struct {
	hostName    string
	httpsAddr   string
	mqttAddr    string
	amqpAddr    string
	certFile    string
	keyFile     string
	caCertFile  string
	caOut       string
	dataDir     string
	deviceCAs   []string          // -device-ca files, in the order given
	policyKeys  map[string]string // policy name → primary key (base64), as the -*-key flags give them
	logLevel    slog.Level
	logJSON     bool
	healthcheck bool
	// twinLifecycleEvents routes twin-change and lifecycle events to the
	// built-in endpoint (on unless -twin-lifecycle-events=false).
	twinLifecycleEvents bool
	// The built-in endpoint's partitions and retention (0: the emulator's
	// defaults, 4 partitions keeping 10,000 events and 64 MiB each).
	partitions, retention int
	retentionBytes        int64
	// maxMQTT caps the MQTT connections open at once (0: the emulator's
	// 10,000); each descriptor counts against the process's limit.
	maxMQTT int
}

// policyFlags name the flag that sets each shared access policy's primary
// key, and the variable its connection string is printed as. iothubowner's
// is IOTHUB_CONNECTION_STRING, the name the SDK samples and Hubspec's live
// target read; the others say "POLICY" so that none looks like a device's
// connection string (the samples' IOTHUB_DEVICE_CONNECTION_STRING).
var policyFlags = []struct{ policy, flag, env string }{
	{"iothubowner", "owner-key", "IOTHUB_CONNECTION_STRING"},
	{"service", "service-key", "IOTHUB_POLICY_SERVICE_CONNECTION_STRING"},
	{"device", "device-key", "IOTHUB_POLICY_DEVICE_CONNECTION_STRING"},
	{"registryRead", "registry-read-key", "IOTHUB_POLICY_REGISTRY_READ_CONNECTION_STRING"},
	{"registryReadWrite", "registry-read-write-key", "IOTHUB_POLICY_REGISTRY_READ_WRITE_CONNECTION_STRING"},
}

// errUsage marks a command line that is wrong; main exits 2 for it, as the
// flag package does.
var errUsage = errors.New("usage")

// envName is the environment twin of a flag name.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags reads the environment twins first and the arguments second,
// so that a flag overrides its variable. -healthcheck has no twin: a
// container that exported it would never start its emulator.
func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	var level, format string
	fs := flag.NewFlagSet("iothub-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.hostName, "host-name", "localhost", "the hub's host name: in connection strings and the generated certificate")
	fs.StringVar(&c.httpsAddr, "https-addr", ":443", "listen address of the REST API and of MQTT over WebSockets (/$iothub/websocket)")
	fs.StringVar(&c.mqttAddr, "mqtt-addr", ":8883", "listen address of MQTT over TLS")
	fs.StringVar(&c.amqpAddr, "amqp-addr", ":5671", "listen address of AMQP over TLS (the Event Hubs-compatible built-in endpoint)")
	fs.StringVar(&c.certFile, "cert", "", "PEM certificate chain to serve instead of a generated one (needs -key)")
	fs.StringVar(&c.keyFile, "key", "", "PEM private key of -cert")
	fs.StringVar(&c.caCertFile, "ca-cert", "", "PEM of the CA clients must trust for -cert (default: the chain's last certificate)")
	fs.StringVar(&c.caOut, "ca-out", "", "write the PEM of the CA clients must trust to this file")
	// -device-ca repeats; given on the command line, it replaces the
	// environment's file, as every other flag does.
	parsingArgs, deviceCAFlag := false, false
	fs.Func("device-ca", "PEM file of CA certificates registered with the hub: certificateAuthority devices' certificates chain to them (repeatable; a file may hold several)", func(v string) error {
		if v == "" {
			return errors.New("empty file name")
		}
		if parsingArgs && !deviceCAFlag {
			c.deviceCAs, deviceCAFlag = nil, true
		}
		c.deviceCAs = append(c.deviceCAs, v)
		return nil
	})
	fs.BoolVar(&c.twinLifecycleEvents, "twin-lifecycle-events", true, "route twin-change and device/module lifecycle events to the built-in endpoint beside telemetry (false: telemetry only)")
	fs.IntVar(&c.partitions, "eventhub-partitions", 0, "partitions of the built-in endpoint (default 4)")
	fs.IntVar(&c.maxMQTT, "max-mqtt-connections", 0, "MQTT connections open at once; more wait in the kernel's backlog (default 10000; each is a file descriptor, so raise ulimit -n with it)")
	fs.IntVar(&c.retention, "eventhub-retention", 0, "events each partition of the built-in endpoint keeps, the oldest dropped first (default 10000)")
	fs.Int64Var(&c.retentionBytes, "eventhub-retention-bytes", 0, "bytes each partition of the built-in endpoint keeps, bodies plus 512 an event, the oldest dropped first (default 67108864, 64 MiB)")
	fs.StringVar(&c.dataDir, "data-dir", "", "keep identities, keys, twins and versions in this directory across restarts (default: in memory only)")
	c.policyKeys = map[string]string{}
	for _, p := range policyFlags {
		fs.Func(p.flag, "the "+p.policy+" policy's primary key, base64 (default: generated)", func(v string) error {
			c.policyKeys[p.policy] = v
			return nil
		})
	}
	fs.StringVar(&level, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&format, "log-format", "text", "text or json")
	fs.BoolVar(&c.healthcheck, "healthcheck", false, "probe https://127.0.0.1:{port of -https-addr}/$hubspec/health, exit 0 when healthy, 1 otherwise")
	// The usage text never spells out the ready line's prefix, so that a
	// wait for that line in the logs cannot match a failed start's usage.
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: iothub-emulator [flags]\n       iothub-emulator healthcheck [flags]\n\n"+
			"A local Azure IoT Hub: the registry and twin REST API and MQTT (TLS and WebSockets).\n"+
			"Once it serves, it prints on stdout the connection string of each shared access policy,\n"+
			"one per line as NAME=value, iothubowner's first. Logs go to stderr.\n"+
			"Every flag but -healthcheck can also be set as "+envPrefix+"<NAME> (e.g. "+envName("https-addr")+"); the flag wins.\n\n")
		fs.PrintDefaults()
	}

	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "healthcheck" || envErr != nil {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("%s=%q: %w", envName(f.Name), v, err)
			}
		}
	})
	if envErr != nil {
		return c, usageError(stderr, envErr)
	}
	if len(args) > 0 && args[0] == "healthcheck" {
		c.healthcheck, args = true, args[1:]
	}
	parsingArgs = true
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, errUsage // the flag package has printed the error and the usage
	}
	if rest := fs.Args(); len(rest) > 0 {
		return c, usageError(stderr, fmt.Errorf("unexpected arguments %q", rest))
	}

	var err error
	if c.logLevel, err = parseLevel(level); err != nil {
		return c, usageError(stderr, err)
	}
	switch format {
	case "text":
	case "json":
		c.logJSON = true
	default:
		return c, usageError(stderr, fmt.Errorf("-log-format %q: want text or json", format))
	}
	return c, usageError(stderr, c.check())
}

// check rejects combinations that cannot work, before anything listens.
func (c config) check() error {
	for _, a := range []struct{ name, addr string }{{"-https-addr", c.httpsAddr}, {"-mqtt-addr", c.mqttAddr}, {"-amqp-addr", c.amqpAddr}} {
		_, port, err := net.SplitHostPort(a.addr)
		if err != nil {
			return fmt.Errorf("%s %q: %w", a.name, a.addr, err)
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return fmt.Errorf("%s %q: port %q is not a number from 0 to 65535", a.name, a.addr, port)
		}
	}
	if (c.certFile == "") != (c.keyFile == "") {
		return errors.New("-cert and -key go together")
	}
	if c.caCertFile != "" && c.certFile == "" {
		return errors.New("-ca-cert needs -cert: the generated certificate has its own CA")
	}
	for _, p := range policyFlags {
		if key, ok := c.policyKeys[p.policy]; ok {
			if raw, err := base64.StdEncoding.DecodeString(key); err != nil || len(raw) == 0 {
				return fmt.Errorf("-%s: not a non-empty standard base64 string", p.flag)
			}
		}
	}
	if c.hostName == "" {
		return errors.New("-host-name is empty")
	}
	// IoT Hub allows 2 to 128 partitions (DOC-BUILTIN); the emulator
	// takes 1 to 128, one being handy in tests that read a single stream.
	if c.partitions < 0 || c.partitions > 128 {
		return fmt.Errorf("-eventhub-partitions %d: want 1 to 128", c.partitions)
	}
	if c.retention < 0 || c.retentionBytes < 0 {
		return errors.New("-eventhub-retention and -eventhub-retention-bytes cannot be negative")
	}
	if c.maxMQTT < 0 {
		return fmt.Errorf("-max-mqtt-connections %d cannot be negative", c.maxMQTT)
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("-log-level %q: want debug, info, warn or error", s)
}

// usageError prints err the way the flag package prints its own errors and
// marks it as a usage error; nil stays nil.
func usageError(stderr io.Writer, err error) error {
	if err == nil {
		return nil
	}
	fmt.Fprintf(stderr, "iothub-emulator: %v\nRun iothub-emulator -h for the flags.\n", err)
	return fmt.Errorf("%w: %v", errUsage, err)
}
