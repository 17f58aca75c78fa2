package adversarial

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub"
)

// soak turns on the large counts (make soak).
var soak = flag.Bool("soak", false, "run the adversarial scenarios at soak counts and print figures")

// startDeadline bounds how long a target may take to start.
const startDeadline = 30 * time.Second

var (
	binDir   string
	binOnce  sync.Once
	binPath  string
	binError error
)

func TestMain(m *testing.M) {
	flag.Parse()
	// Most of the suite waits on the hub's deadlines, not on the CPU: unless
	// -parallel is given, run more parallel tests than there are cores, so
	// the package stays fast on a two-core machine.
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		_ = flag.Set("test.parallel", "16")
	}
	dir, err := os.MkdirTemp("", "hubspec-adversarial-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// emulatorBinary builds ./cmd/iothub-emulator once per test binary.
func emulatorBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		binPath = filepath.Join(binDir, "iothub-emulator")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/hubspec/hubspec/cmd/iothub-emulator")
		if out, err := cmd.CombinedOutput(); err != nil {
			binError = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binError != nil {
		t.Fatal(binError)
	}
	return binPath
}

// target is a hub under attack: the embedded emulator or the binary.
type target interface {
	Name() string
	// PolicyCS is the connection string of a shared access policy.
	PolicyCS(policy string) string
	TLS() *tls.Config
	MQTTAddr() string
	// BaseURL is https://{host}, the REST API's base.
	BaseURL() string
	// Host is the hub's host name as connection strings carry it (with port).
	Host() string
	// Controls are the emulator's test powers (DropConnection,
	// AwaitConnections, ...): the Server itself, or its control plane.
	emulator.Controls
	// PID is the emulator process's id, 0 for the embedded emulator.
	PID() int
}

// forEachTarget runs fn once per target, each in a subtest named after it
// with a fresh hub. The test and its subtests run in parallel with the
// others: most of the suite's time is spent waiting on the hub's deadlines.
func forEachTarget(t *testing.T, fn func(t *testing.T, tg target)) {
	t.Helper()
	t.Parallel()
	for _, name := range []string{"embedded", "binary"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var tg target
			if name == "embedded" {
				tg = startEmbedded(t)
			} else {
				tg = startBinary(t, binaryOptions{})
			}
			fn(t, tg)
		})
	}
}

type embedded struct {
	emulator.Controls // the Server's own
	s                 *emulator.Server
}

func startEmbedded(t testing.TB) *embedded {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startDeadline)
	defer cancel()
	s, err := emulator.Start(ctx, emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &embedded{Controls: s, s: s}
}

func (e *embedded) Name() string { return "embedded" }
func (e *embedded) PolicyCS(p string) string {
	cs, err := e.s.PolicyConnectionString(p)
	if err != nil {
		panic(err)
	}
	return cs
}
func (e *embedded) TLS() *tls.Config         { return e.s.TLSConfig() }
func (e *embedded) MQTTAddr() string         { return e.s.MQTTAddr() }
func (e *embedded) BaseURL() string          { return e.s.URL() }
func (e *embedded) Host() string             { return e.s.HostName() }
func (e *embedded) PID() int                 { return 0 }
func (e *embedded) Server() *emulator.Server { return e.s }

// policyEnv maps the binary's printed variables to policy names.
var policyEnv = map[string]string{
	"IOTHUB_CONNECTION_STRING":                            "iothubowner",
	"IOTHUB_POLICY_SERVICE_CONNECTION_STRING":             "service",
	"IOTHUB_POLICY_DEVICE_CONNECTION_STRING":              "device",
	"IOTHUB_POLICY_REGISTRY_READ_CONNECTION_STRING":       "registryRead",
	"IOTHUB_POLICY_REGISTRY_READ_WRITE_CONNECTION_STRING": "registryReadWrite",
}

type binaryOptions struct {
	// noFile, when above 0, is the process's RLIMIT_NOFILE (soft and hard).
	noFile int
	// extra are more command-line arguments (e.g. -data-dir).
	extra []string
}

// binary is the iothub-emulator process. Its ports and policy keys stay the
// same across restarts.
type binaryTarget struct {
	t          testing.TB
	bin        string
	opts       binaryOptions
	httpsPort  string
	mqttPort   string
	caOut      string
	policyKeys map[string]string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	stderr  *lockedBuffer
	cs      map[string]string
	tls     *tls.Config
}

// startError is a binary that exited before it printed its connection
// strings.
type startError struct {
	code   int
	stderr string
}

func (e *startError) Error() string {
	return fmt.Sprintf("emulator exited with status %d before serving:\n%s", e.code, e.stderr)
}

func startBinary(t testing.TB, opts binaryOptions) *binaryTarget {
	t.Helper()
	b, err := newBinary(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newBinary starts the binary and returns a *startError when it exits
// before serving.
func newBinary(t testing.TB, opts binaryOptions) (*binaryTarget, error) {
	t.Helper()
	b := &binaryTarget{
		t: t, bin: emulatorBinary(t), opts: opts,
		httpsPort: freePort(t), mqttPort: freePort(t),
		caOut:      filepath.Join(t.TempDir(), "ca.pem"),
		policyKeys: map[string]string{},
	}
	for _, p := range []string{"owner-key", "service-key", "device-key", "registry-read-key", "registry-read-write-key"} {
		b.policyKeys[p] = randomKey()
	}
	t.Cleanup(b.stop)
	return b, b.start()
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// start starts the process. Its ports are picked free beforehand (a
// restart keeps them, so clients find it again), and another process of
// the test run may take one in between: then it starts again on new ones.
func (b *binaryTarget) start() error {
	for attempt := 1; ; attempt++ {
		err := b.startOnce()
		var se *startError
		if attempt == 5 || !errors.As(err, &se) || !strings.Contains(se.stderr, "address already in use") {
			return err
		}
		https, mqtt := freePort(b.t), freePort(b.t)
		b.mu.Lock()
		b.httpsPort, b.mqttPort = https, mqtt
		b.mu.Unlock()
	}
}

func (b *binaryTarget) startOnce() error {
	b.mu.Lock()
	httpsPort, mqttPort := b.httpsPort, b.mqttPort
	b.mu.Unlock()
	args := []string{"-https-addr", "127.0.0.1:" + httpsPort, "-mqtt-addr", "127.0.0.1:" + mqttPort,
		"-amqp-addr", "127.0.0.1:0", "-ca-out", b.caOut, "-host-name", "localhost", "-log-level", "warn"}
	for flagName, key := range b.policyKeys {
		args = append(args, "-"+flagName, key)
	}
	args = append(args, b.opts.extra...)
	var cmd *exec.Cmd
	if b.opts.noFile > 0 {
		// sh sets the soft and hard limits, so the Go runtime cannot raise
		// the soft one again; exec keeps the PID the emulator's.
		cmd = exec.Command("sh", append([]string{"-c", "ulimit -n " + strconv.Itoa(b.opts.noFile) + ` && exec "$0" "$@"`, b.bin}, args...)...)
	} else {
		cmd = exec.Command(b.bin, args...)
	}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	lines := make(chan string, 8)
	b.mu.Lock()
	b.cmd, b.exited, b.stderr = cmd, exited, stderr
	b.mu.Unlock()
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		err := cmd.Wait()
		b.mu.Lock()
		b.waitErr = err
		b.mu.Unlock()
		close(exited)
	}()

	cs := map[string]string{}
	timer := time.NewTimer(startDeadline)
	defer timer.Stop()
	for len(cs) < len(policyEnv) {
		select {
		case line, ok := <-lines:
			if !ok {
				<-exited
				code := -1
				var ee *exec.ExitError
				if errors.As(b.waitErr, &ee) {
					code = ee.ExitCode()
				}
				return &startError{code: code, stderr: stderr.String()}
			}
			name, value, _ := strings.Cut(line, "=")
			if p, ok := policyEnv[name]; ok {
				cs[p] = value
			}
		case <-timer.C:
			return fmt.Errorf("no connection strings within %v; stderr:\n%s", startDeadline, stderr)
		}
	}
	go func() { // keep the pipe drained
		for range lines {
		}
	}()
	pem, err := os.ReadFile(b.caOut)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("no certificate in %s", b.caOut)
	}
	b.mu.Lock()
	b.cs = cs
	b.tls = &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	b.mu.Unlock()
	clientsMu.Lock() // a restarted binary may have a new CA
	if c, ok := clients[b]; ok {
		c.CloseIdleConnections()
		delete(clients, b)
	}
	clientsMu.Unlock()
	return nil
}

// kill sends SIGKILL and waits for the process to end.
func (b *binaryTarget) kill() {
	b.mu.Lock()
	cmd, exited := b.cmd, b.exited
	b.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// restart starts the binary again on the same ports, keys and arguments.
func (b *binaryTarget) restart() error {
	b.kill()
	return b.start()
}

func (b *binaryTarget) stop() {
	b.kill()
	if b.t.Failed() {
		b.mu.Lock()
		if b.stderr != nil {
			b.t.Logf("emulator stderr:\n%s", b.stderr)
		}
		b.mu.Unlock()
	}
}

func (b *binaryTarget) Name() string { return "binary" }
func (b *binaryTarget) PolicyCS(p string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cs[p]
}
func (b *binaryTarget) TLS() *tls.Config {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tls.Clone()
}
func (b *binaryTarget) MQTTAddr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return "127.0.0.1:" + b.mqttPort
}

// control is the running process's control plane, authorized by
// iothubowner: the Controls of the binary.
func (b *binaryTarget) control() emulator.Controls {
	c, err := emulator.NewControlClient(b.PolicyCS("iothubowner"), b.TLS())
	if err != nil {
		b.t.Fatalf("control plane client: %v", err)
	}
	return c
}

func (b *binaryTarget) FailRegistryCalls(ctx context.Context, deviceID string, n int, errorName string) error {
	return b.control().FailRegistryCalls(ctx, deviceID, n, errorName)
}
func (b *binaryTarget) AwaitConnections(ctx context.Context, deviceID, moduleID string, n int) error {
	return b.control().AwaitConnections(ctx, deviceID, moduleID, n)
}
func (b *binaryTarget) DropConnection(ctx context.Context, deviceID, moduleID string) (bool, error) {
	return b.control().DropConnection(ctx, deviceID, moduleID)
}
func (b *binaryTarget) DropDesiredPushes(ctx context.Context, n int) error {
	return b.control().DropDesiredPushes(ctx, n)
}
func (b *binaryTarget) RegisterDeviceCA(ctx context.Context, pem []byte) error {
	return b.control().RegisterDeviceCA(ctx, pem)
}
func (b *binaryTarget) AwaitDeliveries(ctx context.Context, deviceID, moduleID, marker string) (bool, error) {
	return b.control().AwaitDeliveries(ctx, deviceID, moduleID, marker)
}
func (b *binaryTarget) AwaitRegistryChange(ctx context.Context, after uint64) (uint64, error) {
	return b.control().AwaitRegistryChange(ctx, after)
}
func (b *binaryTarget) AdvanceDeviceClock(ctx context.Context, deviceID string, d time.Duration) error {
	return b.control().AdvanceDeviceClock(ctx, deviceID, d)
}
func (b *binaryTarget) BaseURL() string { return "https://" + b.Host() }
func (b *binaryTarget) Host() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return "localhost:" + b.httpsPort
}
func (b *binaryTarget) PID() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cmd.Process.Pid
}

// lockedBuffer collects the process's stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// rssKiB is VmRSS of a process, from /proc/PID/status.
func rssKiB(pid int) (int64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, errors.New("no VmRSS")
}

// openFDs counts a process's open descriptors.
func openFDs(pid int) int {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// httpClient is a client of one target's REST API.
func httpClient(tg target) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tg.TLS(), Proxy: nil, MaxIdleConnsPerHost: 32}}
}

var (
	clientsMu sync.Mutex
	clients   = map[target]*http.Client{}
)

func clientOf(tg target) *http.Client {
	clientsMu.Lock()
	defer clientsMu.Unlock()
	c, ok := clients[tg]
	if !ok {
		c = httpClient(tg)
		clients[tg] = c
	}
	return c
}

// doREST sends one request with auth as the Authorization header ("" for
// none) and returns the status, the iothub-errorcode header and the body.
func doREST(ctx context.Context, tg target, method, path, auth string, body []byte, hdr map[string]string) (int, string, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	req, err := http.NewRequestWithContext(ctx, method, tg.BaseURL()+path+sep+"api-version=2021-04-12", rd)
	if err != nil {
		return 0, "", nil, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := clientOf(tg).Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("iothub-errorcode"), answer, err
}

// policyKey is a policy's primary key.
func policyKey(tg target, policy string) string {
	cs, err := hub.ParseConnectionString(tg.PolicyCS(policy))
	if err != nil {
		panic(err)
	}
	return cs.SharedAccessKey
}

// policyToken is a valid hour-long token of a policy scoped to the hub.
func policyToken(tg target, policy string) string {
	return sign(tg.Host(), expiresIn(time.Hour), policyKey(tg, policy), policy)
}

// httpClientReset drops the shared client's idle connections, so that they
// hold none of the binary's few descriptors.
func (b *binaryTarget) httpClientReset() {
	clientsMu.Lock()
	defer clientsMu.Unlock()
	if c, ok := clients[b]; ok {
		c.CloseIdleConnections()
	}
}
