package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub/service"

	"github.com/hubspec/hubspec/hub"
)

const deadline = 15 * time.Second

// buildBinary builds the command into a temporary directory: the tests run
// the real program, signals and exit codes included.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "iothub-emulator")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// lockedBuffer collects stderr, written by the process's copier goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// proc is a running emulator process.
type proc struct {
	cmd    *exec.Cmd
	lines  chan string // stdout, line by line; closed at EOF
	stderr *lockedBuffer
	exited chan struct{} // closed once cmd.Wait has returned
	err    error         // cmd.Wait's result, readable after exited
}

func start(t *testing.T, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), lines: make(chan string, 16), stderr: &lockedBuffer{}, exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("emulator stderr:\n%s", p.stderr)
		}
	})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.err = p.cmd.Wait() // after stdout is drained, as exec asks
		close(p.exited)
	}()
	return p
}

// connectionString waits for the one line the emulator prints when ready.
func (p *proc) connectionString(t *testing.T) string {
	t.Helper()
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	select {
	case line, ok := <-p.lines:
		cs, found := strings.CutPrefix(line, "IOTHUB_CONNECTION_STRING=")
		if !ok || !found {
			t.Fatalf("first stdout line %q (open %v), want IOTHUB_CONNECTION_STRING=...", line, ok)
		}
		return cs
	case <-timer.C:
		t.Fatalf("no connection string within %v", deadline)
		return ""
	}
}

// exitCode waits for the process to end and returns its exit status.
func (p *proc) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(deadline):
		t.Fatalf("still running after %v", deadline)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

func trusting(t *testing.T, caFile string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", caFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

func TestBinary(t *testing.T) {
	bin := buildBinary(t)

	t.Run("serves until SIGTERM", func(t *testing.T) {
		httpsPort, caOut := freePort(t), filepath.Join(t.TempDir(), "ca.pem")
		args := []string{"-https-addr", "127.0.0.1:" + httpsPort, "-mqtt-addr", "127.0.0.1:" + freePort(t), "-amqp-addr", "127.0.0.1:0", "-ca-out", caOut}
		p := start(t, bin, nil, args...)
		cs := p.connectionString(t)
		if !strings.HasPrefix(cs, "HostName=localhost:"+httpsPort+";SharedAccessKeyName=iothubowner;SharedAccessKey=") {
			t.Fatalf("connection string %q", cs)
		}
		tlsCfg := trusting(t, caOut)

		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}}
		resp, err := hc.Get("https://localhost:" + httpsPort + "/$hubspec/health")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != `{"status":"ok","listeners":{"amqp":"ok","https":"ok","mqtt":"ok"}}`+"\n" {
			t.Fatalf("health: %s %s", resp.Status, body)
		}

		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		reg, err := service.NewRegistryClient(cs, service.WithTLSConfig(tlsCfg))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.CreateDevice(ctx, &hub.Device{DeviceID: "dev1"}); err != nil {
			t.Fatal(err)
		}

		for _, hcArgs := range [][]string{{"-healthcheck"}, {"healthcheck"}} {
			out, err := exec.CommandContext(ctx, bin, append(hcArgs, args...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("%v: %v\n%s", hcArgs, err, out)
			}
		}

		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := p.exitCode(t); code != 0 {
			t.Fatalf("exit %d after SIGTERM", code)
		}
		var more []string
		for line := range p.lines {
			more = append(more, line)
		}
		if len(more) != len(policyFlags) || !strings.HasPrefix(more[len(more)-1], "EVENTHUB_CONNECTION_STRING=") {
			t.Fatalf("stdout after the first line: %q, want one line per other policy, the event hub's, and nothing else", more)
		}
		out, err := exec.CommandContext(ctx, bin, append([]string{"-healthcheck"}, args...)...).CombinedOutput()
		if code := exitCodeOf(err); code != 1 {
			t.Fatalf("healthcheck of a stopped emulator: exit %d, want 1\n%s", code, out)
		}
	})

	t.Run("bad flag exits 2", func(t *testing.T) {
		for _, args := range [][]string{{"-no-such-flag"}, {"-log-level", "loud"}, {"-cert", "x.pem"}, {"stray"}} {
			p := start(t, bin, nil, args...)
			if code := p.exitCode(t); code != 2 {
				t.Fatalf("%v: exit %d, want 2", args, code)
			}
			if !strings.Contains(p.stderr.String(), "iothub-emulator") && !strings.Contains(p.stderr.String(), "flag provided but not defined") {
				t.Fatalf("%v: no message on stderr: %q", args, p.stderr)
			}
		}
	})

	t.Run("environment twins", func(t *testing.T) {
		httpsPort := freePort(t)
		env := []string{
			"IOTHUB_EMULATOR_HTTPS_ADDR=127.0.0.1:" + httpsPort,
			"IOTHUB_EMULATOR_MQTT_ADDR=127.0.0.1:" + freePort(t),
			"IOTHUB_EMULATOR_AMQP_ADDR=127.0.0.1:0",
			"IOTHUB_EMULATOR_HOST_NAME=from-env.example",
			"IOTHUB_EMULATOR_OWNER_KEY=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=",
			"IOTHUB_EMULATOR_LOG_FORMAT=json",
		}
		p := start(t, bin, env, "-host-name", "from-flag.example")
		cs := p.connectionString(t)
		want := "HostName=from-flag.example:" + httpsPort + ";SharedAccessKeyName=iothubowner;SharedAccessKey=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
		if cs != want {
			t.Fatalf("connection string %q, want %q (the flag wins over the environment)", cs, want)
		}
		if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		if code := p.exitCode(t); code != 0 {
			t.Fatalf("exit %d after SIGINT", code)
		}
		if !strings.HasPrefix(p.stderr.String(), "{") {
			t.Fatalf("IOTHUB_EMULATOR_LOG_FORMAT=json ignored: %.200s", p.stderr)
		}
	})

	t.Run("every policy's connection string and key", func(t *testing.T) {
		httpsPort := freePort(t)
		const serviceKey, readKey = "c2VydmljZSBrZXk=", "cmVnaXN0cnlSZWFkIGtleQ=="
		env := []string{"IOTHUB_EMULATOR_REGISTRY_READ_KEY=" + readKey}
		p := start(t, bin, env, "-https-addr", "127.0.0.1:"+httpsPort, "-mqtt-addr", "127.0.0.1:"+freePort(t),
			"-amqp-addr", "127.0.0.1:0", "-service-key", serviceKey)
		p.connectionString(t)
		got := map[string]string{}
		for range 5 {
			select {
			case line := <-p.lines:
				name, value, _ := strings.Cut(line, "=")
				got[name] = value
			case <-time.After(deadline):
				t.Fatalf("only %d policy lines after the first: %v", len(got), got)
			}
		}
		if eh := got["EVENTHUB_CONNECTION_STRING"]; !strings.HasPrefix(eh, "Endpoint=sb://localhost:") ||
			!strings.Contains(eh, "/;SharedAccessKeyName=iothubowner;SharedAccessKey=") || !strings.HasSuffix(eh, ";EntityPath=localhost") {
			t.Errorf("EVENTHUB_CONNECTION_STRING=%q", eh)
		}
		host := "HostName=localhost:" + httpsPort
		for name, prefix := range map[string]string{
			"IOTHUB_POLICY_SERVICE_CONNECTION_STRING":             host + ";SharedAccessKeyName=service;SharedAccessKey=" + serviceKey,
			"IOTHUB_POLICY_DEVICE_CONNECTION_STRING":              host + ";SharedAccessKeyName=device;SharedAccessKey=",
			"IOTHUB_POLICY_REGISTRY_READ_CONNECTION_STRING":       host + ";SharedAccessKeyName=registryRead;SharedAccessKey=" + readKey,
			"IOTHUB_POLICY_REGISTRY_READ_WRITE_CONNECTION_STRING": host + ";SharedAccessKeyName=registryReadWrite;SharedAccessKey=",
		} {
			if !strings.HasPrefix(got[name], prefix) || len(got[name]) <= len(host)+40 {
				t.Errorf("%s=%q, want %s...", name, got[name], prefix)
			}
		}
	})
}

func exitCodeOf(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestParseFlags: the precedence and checks, in process.
func TestParseFlags(t *testing.T) {
	env := map[string]string{"IOTHUB_EMULATOR_MQTT_ADDR": ":1883", "IOTHUB_EMULATOR_HTTPS_ADDR": ":8443", "IOTHUB_EMULATOR_HEALTHCHECK": "true"}
	c, err := parseFlags([]string{"healthcheck", "-https-addr", ":9443"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.httpsAddr != ":9443" || c.mqttAddr != ":1883" || !c.healthcheck {
		t.Fatalf("got %+v: want the flag over the environment, the environment over the default, healthcheck from the subcommand", c)
	}
	env["IOTHUB_EMULATOR_DEVICE_CA"] = "env.pem"
	if c, _ := parseFlags([]string{"-device-ca", "a.pem", "-device-ca", "b.pem"}, func(k string) string { return env[k] }, io.Discard); !slices.Equal(c.deviceCAs, []string{"a.pem", "b.pem"}) {
		t.Fatalf("-device-ca files %q, want each flag's in order, instead of the environment's", c.deviceCAs)
	}
	if c, _ := parseFlags(nil, func(k string) string { return env[k] }, io.Discard); !slices.Equal(c.deviceCAs, []string{"env.pem"}) {
		t.Fatalf("-device-ca files %q, want the environment's", c.deviceCAs)
	}
	if c, _ := parseFlags(nil, func(k string) string { return env[k] }, io.Discard); c.healthcheck {
		t.Fatal("IOTHUB_EMULATOR_HEALTHCHECK honoured: a container exporting it would never serve")
	}
	if c, _ := parseFlags(nil, func(k string) string { return env[k] }, io.Discard); !c.twinLifecycleEvents {
		t.Fatal("twin-change and lifecycle events off by default")
	}
	env["IOTHUB_EMULATOR_TWIN_LIFECYCLE_EVENTS"] = "false"
	if c, _ := parseFlags(nil, func(k string) string { return env[k] }, io.Discard); c.twinLifecycleEvents {
		t.Fatal("IOTHUB_EMULATOR_TWIN_LIFECYCLE_EVENTS=false left the events on")
	}
	if c, _ := parseFlags([]string{"-twin-lifecycle-events"}, func(k string) string { return env[k] }, io.Discard); !c.twinLifecycleEvents {
		t.Fatal("-twin-lifecycle-events did not win over the environment")
	}
	env["IOTHUB_EMULATOR_EVENTHUB_PARTITIONS"] = "8"
	c, err = parseFlags([]string{"-eventhub-retention", "5", "-eventhub-retention-bytes", "1000"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if opts, _ := c.emulatorOptions(nil); opts.EventHubPartitions != 8 || opts.EventHubRetention != 5 || opts.EventHubRetentionBytes != 1000 {
		t.Fatalf("built-in endpoint options %d partitions, retention %d events and %d bytes; want 8, 5, 1000",
			opts.EventHubPartitions, opts.EventHubRetention, opts.EventHubRetentionBytes)
	}
	c, err = parseFlags([]string{"-max-mqtt-connections", "19000"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if opts, _ := c.emulatorOptions(nil); opts.MaxMQTTConnections != 19000 {
		t.Fatalf("-max-mqtt-connections 19000 gave Options.MaxMQTTConnections %d", opts.MaxMQTTConnections)
	}
	for _, tc := range []struct {
		args []string
		env  string // one NAME=value
		want string // in the message
	}{
		{nil, "IOTHUB_EMULATOR_LOG_LEVEL=loud", `-log-level "loud"`},
		{[]string{"-https-addr", "443"}, "", "-https-addr"},
		{[]string{"-mqtt-addr", ":http"}, "", "not a number"},
		{[]string{"-key", "k.pem"}, "", "-cert and -key go together"},
		{[]string{"-ca-cert", "ca.pem"}, "", "-ca-cert needs -cert"},
		{nil, "IOTHUB_EMULATOR_OWNER_KEY=not base64!", "-owner-key"},
		{[]string{"-registry-read-write-key", ""}, "", "-registry-read-write-key"},
		{nil, "IOTHUB_EMULATOR_DEVICE_KEY=%%%", "-device-key"},
		{[]string{"-device-ca", ""}, "", "-device-ca"},
		{[]string{"-eventhub-partitions", "129"}, "", "-eventhub-partitions 129"},
		{nil, "IOTHUB_EMULATOR_EVENTHUB_RETENTION=-1", "cannot be negative"},
		{[]string{"-max-mqtt-connections", "-5"}, "", "-max-mqtt-connections"},
		{nil, "IOTHUB_EMULATOR_EVENTHUB_RETENTION_BYTES=lots", "IOTHUB_EMULATOR_EVENTHUB_RETENTION_BYTES"},
	} {
		name, value, _ := strings.Cut(tc.env, "=")
		var stderr bytes.Buffer
		_, err := parseFlags(tc.args, func(k string) string {
			if k == name {
				return value
			}
			return ""
		}, &stderr)
		if !errors.Is(err, errUsage) || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v %s: err %v, stderr %q; want a usage error naming %s", tc.args, tc.env, err, stderr.String(), tc.want)
		}
	}
}

// TestGCPercent: the program collects garbage at defaultGCPercent unless
// GOGC, which the Go runtime has already applied, says otherwise.
func TestGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tc := range []struct {
		gogc       string
		before     int
		want       int
		wantReason string
	}{
		{"", 100, defaultGCPercent, "no GOGC: the emulator's own setting"},
		{"77", 77, 77, "GOGC=77 in the environment: the runtime's setting left alone"},
	} {
		debug.SetGCPercent(tc.before)
		run(context.Background(), []string{"-h"}, func(k string) string {
			if k == "GOGC" {
				return tc.gogc
			}
			return ""
		}, io.Discard, io.Discard)
		if got := debug.SetGCPercent(100); got != tc.want {
			t.Errorf("GC percent %d, want %d (%s)", got, tc.want, tc.wantReason)
		}
	}
}
