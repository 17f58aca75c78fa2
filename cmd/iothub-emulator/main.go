// Command iothub-emulator is a local Azure IoT Hub for anyone: the official
// SDKs, curl, mosquitto, or a container next to a test suite. It serves the
// registry and twin REST API, MQTT (over TLS, and over WebSockets on the
// HTTPS port at /$iothub/websocket) and the built-in endpoint over AMQP (over
// TLS, and over WebSockets on the HTTPS port at /$servicebus/websocket), with
// real SAS authentication.
//
// Once both listeners serve it prints, in one write, the connection string
// of every shared access policy on stdout, iothubowner's first:
//
//	IOTHUB_CONNECTION_STRING=HostName=...;SharedAccessKeyName=iothubowner;SharedAccessKey=...
//	IOTHUB_POLICY_SERVICE_CONNECTION_STRING=HostName=...;SharedAccessKeyName=service;...
//	...
//	EVENTHUB_CONNECTION_STRING=Endpoint=sb://...;EntityPath=...
//
// so a script or a container runner can wait for the first line and use
// them all. With -data-dir the hub's state survives restarts. Logs go to
// stderr. SIGTERM or SIGINT stop it cleanly (in-flight requests finish,
// MQTT sessions are closed) with exit status 0; a second signal kills it.
// A wrong command line exits 2.
//
// "iothub-emulator healthcheck" (or -healthcheck) probes a running
// emulator's /$hubspec/health and exits 0 or 1: a FROM scratch image has no
// curl for its HEALTHCHECK.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/hubspec/hubspec/emulator"
)

// defaultGCPercent is the emulator's GOGC: 50, not Go's 100, so garbage
// grows to half what is live before it is collected rather than as much
// again. Go counts goroutine stacks as live, and mochi-mqtt's two
// goroutines a connection hold 20 KB of stack against about 15 KB of heap,
// so by default each held MQTT connection leaves room for some 35 KB of
// garbage, the TLS handshakes' above all, which stays resident until the
// next collection. At 50, 2,000 held connections cost about 40 KiB of
// resident set each rather than 47 (make bench), for about 8% more CPU
// per TLS connect; nothing else it measures moved beyond its spread. GOGC
// in the environment overrides it, as with any Go program.
const defaultGCPercent = 50

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is the whole program, with its environment passed in so tests can
// call it without a process (the process-level tests build the binary).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	cfg, err := parseFlags(args, getenv, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		return 2
	}
	if cfg.healthcheck {
		return healthcheck(ctx, cfg, stderr)
	}
	log := newLogger(cfg, stderr)
	if err := serve(ctx, cfg, log, stdout); err != nil {
		log.Error("iothub-emulator stopped", "error", err)
		return 1
	}
	return 0
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.logLevel}
	if cfg.logJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the emulator until SIGTERM or SIGINT (or ctx) ends it.
func serve(ctx context.Context, cfg config, log *slog.Logger, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()

	opts, err := cfg.emulatorOptions(log)
	if err != nil {
		return err
	}
	s, err := emulator.Start(ctx, opts)
	if err != nil {
		return err
	}
	// The CA file is in place before the line that says "ready" is printed,
	// so whoever waits for the line can use the file at once.
	if cfg.caOut != "" {
		if err := writeFileAtomic(cfg.caOut, s.CACertPEM()); err != nil {
			s.Close()
			return fmt.Errorf("-ca-out: %w", err)
		}
	}
	lines, err := policyLines(s)
	if err == nil {
		_, err = io.WriteString(stdout, lines)
	}
	if err != nil {
		s.Close()
		return fmt.Errorf("print connection strings: %w", err)
	}
	log.Info("serving", "host", s.HostName(), "https", s.HTTPSAddr(), "mqtt", s.MQTTAddr(), "amqp", s.AMQPAddr(),
		"websocket", s.URL()+"/$iothub/websocket", "ca_out", cfg.caOut)

	<-ctx.Done()
	stop() // a second signal now kills the process the default way
	log.Info("shutting down", "cause", context.Cause(ctx))
	if err := s.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	log.Info("stopped")
	return nil
}

// policyLines are the connection strings of every shared access policy,
// NAME=value, one per line, iothubowner's first: `export $(cat file)` takes
// them as they are. They go out in one write, so a reader that waits for the
// first line finds the others with it.
func policyLines(s *emulator.Server) (string, error) {
	var b strings.Builder
	for _, p := range policyFlags {
		cs, err := s.PolicyConnectionString(p.policy)
		if err != nil {
			return "", err
		}
		b.WriteString(p.env + "=" + cs + "\n")
	}
	b.WriteString("EVENTHUB_CONNECTION_STRING=" + s.EventHubConnectionString() + "\n")
	return b.String(), nil
}

// emulatorOptions turns the command line into emulator.Options, loading the
// device CAs and the supplied certificate when there are any.
func (c config) emulatorOptions(log *slog.Logger) (emulator.Options, error) {
	opts := emulator.Options{
		HostName:   c.hostName,
		HTTPSAddr:  c.httpsAddr,
		MQTTAddr:   c.mqttAddr,
		AMQPAddr:   c.amqpAddr,
		PolicyKeys: c.policyKeys,
		DataDir:    c.dataDir,
		Logger:     log,

		DisableTwinAndLifecycleEvents: !c.twinLifecycleEvents,
		EventHubPartitions:            c.partitions,
		EventHubRetention:             c.retention,
		EventHubRetentionBytes:        c.retentionBytes,
		MaxMQTTConnections:            c.maxMQTT,
	}
	for _, f := range c.deviceCAs {
		b, err := os.ReadFile(f)
		if err != nil {
			return opts, fmt.Errorf("-device-ca: %w", err)
		}
		opts.DeviceCAPEM = append(append(opts.DeviceCAPEM, b...), '\n')
	}
	if c.certFile == "" {
		return opts, nil
	}
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return opts, fmt.Errorf("-cert/-key: %w", err)
	}
	opts.Certificate = &cert
	if c.caCertFile != "" {
		if opts.CACertPEM, err = os.ReadFile(c.caCertFile); err != nil {
			return opts, fmt.Errorf("-ca-cert: %w", err)
		}
	}
	return opts, nil
}

// writeFileAtomic writes through a temporary file and a rename, so a reader
// polling for the file never sees half of it.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// healthcheck probes https://127.0.0.1:{port of -https-addr}/$hubspec/health
// of an emulator started with the same flags or environment: the
// Dockerfile's HEALTHCHECK runs it inside the container, where it sees the
// same IOTHUB_EMULATOR_* variables.
//
// TLS trust: the probe verifies the server against the first CA it can
// find: -ca-cert, else the -ca-out file the emulator writes (the image sets
// it), else the -cert chain; the name checked is -host-name, which the
// generated certificate always carries. With none of them it does not
// verify: it talks to 127.0.0.1 in the same network namespace, sends no
// credential and only asks whether the process answers, and failing there
// would report a healthy emulator as sick.
func healthcheck(ctx context.Context, cfg config, stderr io.Writer) int {
	if err := probe(ctx, cfg); err != nil {
		fmt.Fprintf(stderr, "iothub-emulator healthcheck: %v\n", err)
		return 1
	}
	return 0
}

func probe(ctx context.Context, cfg config) error {
	_, port, _ := net.SplitHostPort(cfg.httpsAddr)
	if port == "0" {
		return errors.New("-https-addr has port 0: no fixed port to probe")
	}
	tlsCfg := &tls.Config{ServerName: cfg.hostName, MinVersion: tls.VersionTLS12}
	if caFile := firstNonEmpty(cfg.caCertFile, cfg.caOut, cfg.certFile); caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return fmt.Errorf("CA: %w", err)
		}
		tlsCfg.RootCAs = x509.NewCertPool()
		if !tlsCfg.RootCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("CA: no certificate in %s", caFile)
		}
	} else {
		tlsCfg.InsecureSkipVerify = true // see healthcheck's doc
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	url := "https://" + net.JoinHostPort("127.0.0.1", port) + emulator.HealthPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg, Proxy: nil}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s %s", url, resp.Status, body)
	}
	return nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
