package emulator

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
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/service"
	"github.com/hubspec/hubspec/internal/mqttconn"
)

// What BenchmarkHeldConnections measures: how many connections, and where
// to write the emulator's heap profile while they are all held.
// go test -run X -bench HeldConnections ./emulator -args -connections=50000 -connections.heapprofile=held.pprof
var (
	heldConnections = flag.Int("connections", 2000, "BenchmarkHeldConnections: module connections to hold")
	heldHeapProfile = flag.String("connections.heapprofile", "", "BenchmarkHeldConnections: write the emulator's heap profile here while the connections are held")
)

// The helper process's environment: set by BenchmarkHeldConnections, read
// by TestHeldConnectionsClient.
const (
	envHeldClient = "HUBSPEC_HELD_CLIENT"
	envHeldAddr   = "HUBSPEC_HELD_ADDR"
	envHeldHost   = "HUBSPEC_HELD_HOST"
	envHeldKey    = "HUBSPEC_HELD_KEY"
	envHeldCount  = "HUBSPEC_HELD_COUNT"
	envHeldCA     = "HUBSPEC_HELD_CA"
)

// heldKey is every benchmark module's primary key, so the helper process
// can sign each one's SAS token without a list of keys.
const heldKey = "aGVsZC1jb25uZWN0aW9ucy1iZW5jaG1hcmsta2V5LTAxMjM0NTY3ODk="

// BenchmarkHeldConnections opens -connections authenticated module
// connections (TLS, SAS, persistent sessions) to an emulator in this
// process, holds them, and reports what each costs the emulator: heap in
// use, goroutine stacks, memory obtained from the OS, resident set and goroutines per
// connection, and the connect rate. The connections are made by a helper
// process (this test binary running TestHeldConnectionsClient), so only the
// emulator's memory is in these figures. Once they have closed and their
// identities are deleted it reports the resident set again, against the
// idle one, and checks that the connection registry is empty.
func BenchmarkHeldConnections(b *testing.B) {
	n := *heldConnections
	raiseFileLimit(b, n+1024)
	for range b.N {
		s := startHeld(b, n)
		ids := createHeldModules(b, s, n)
		idle := sampleMemory()
		child, rate := startHeldClients(b, s, n)
		held := sampleMemory()
		writeHeldProfile(b)
		per := held.minus(idle).per(n)
		b.ReportMetric(per.heapInuse, "heap-B/conn")
		b.ReportMetric(per.stack, "stack-B/conn")
		b.ReportMetric(per.sys, "sys-B/conn")
		b.ReportMetric(per.rss, "rss-B/conn")
		b.ReportMetric(per.goroutines, "goroutines/conn")
		b.ReportMetric(rate, "conns/s")
		b.Logf("%d connections at %.0f/s, each: heap %.0f B, stacks %.0f B, sys %.0f B, RSS %.0f B, %.1f goroutines", n, rate, per.heapInuse, per.stack, per.sys, per.rss, per.goroutines)
		stopHeldClients(b, s, child)
		deleteHeldModules(b, s, ids)
		after := sampleMemory()
		b.Logf("%d connections: idle RSS %.0f MiB, held %.0f MiB, after close and delete %.0f MiB; goroutines %.0f, %.0f, %.0f",
			n, idle.rss/(1<<20), held.rss/(1<<20), after.rss/(1<<20), idle.goroutines, held.goroutines, after.goroutines)
		checkConnectionsForgotten(b, s)
		s.Close()
	}
}

// raiseFileLimit makes room for want descriptors, or skips: the soft limit
// is raised to the hard one by the Go runtime, the hard one only by a
// privileged process.
func raiseFileLimit(b *testing.B, want int) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Skipf("cannot read the descriptor limit: %v", err)
	}
	if lim.Cur >= uint64(want) {
		return
	}
	lim.Cur = max(lim.Cur, uint64(want))
	lim.Max = max(lim.Max, uint64(want))
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Skipf("need %d file descriptors and cannot raise the limit: %v", want, err)
	}
}

func startHeld(b *testing.B, n int) *Server {
	s, err := Start(context.Background(), Options{MaxMQTTConnections: n + 16})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// createHeldModules creates n modules, 50 a device (the hub's limit), all
// with heldKey, and returns their identities.
func createHeldModules(b *testing.B, s *Server, n int) []identity {
	reg, err := service.NewRegistryClient(s.ConnectionString(), service.WithTLSConfig(s.TLSConfig()))
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]identity, n)
	for i := range ids {
		ids[i] = heldIdentity(i)
	}
	parallel(b, ids, func(ctx context.Context, id identity) error {
		if id.moduleID == "m0" {
			if _, err := reg.CreateDevice(ctx, &hub.Device{DeviceID: id.deviceID}); err != nil {
				return err
			}
		}
		return nil
	})
	parallel(b, ids, func(ctx context.Context, id identity) error {
		auth := &hub.Authentication{Type: "sas", SymmetricKey: &hub.SymmetricKey{PrimaryKey: heldKey, SecondaryKey: heldKey}}
		_, err := reg.CreateModule(ctx, &hub.Module{DeviceID: id.deviceID, ModuleID: id.moduleID, Authentication: auth})
		return err
	})
	return ids
}

func heldIdentity(i int) identity {
	return identity{deviceID: "held-" + strconv.Itoa(i/maxModulesPerDevice), moduleID: "m" + strconv.Itoa(i%maxModulesPerDevice)}
}

func deleteHeldModules(b *testing.B, s *Server, ids []identity) {
	reg, err := service.NewRegistryClient(s.ConnectionString(), service.WithTLSConfig(s.TLSConfig()))
	if err != nil {
		b.Fatal(err)
	}
	parallel(b, ids, func(ctx context.Context, id identity) error {
		if id.moduleID == "m0" {
			return reg.DeleteDevice(ctx, id.deviceID, "*")
		}
		return nil
	})
	// The registry's IdentityGone events forget the sessions on the events
	// queue: a barrier on it is passed once all of them have run.
	done := make(chan struct{})
	s.events.push(func() { close(done) })
	<-done
}

// parallel runs fn for every identity on 16 workers and fails b on the
// first error.
func parallel(b *testing.B, ids []identity, fn func(context.Context, identity) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	work := make(chan identity)
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for id := range work {
				if err := fn(ctx, id); err != nil {
					failed.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
}

// heldClients is the helper process: closing its stdin ends it.
type heldClients struct {
	cmd   *exec.Cmd
	stdin io.Closer
}

// startHeldClients starts the helper process and waits until it holds n
// accepted connections; it returns the process and the connect rate.
func startHeldClients(b *testing.B, s *Server, n int) (heldClients, float64) {
	ca := b.TempDir() + "/ca.pem"
	if err := os.WriteFile(ca, s.CACertPEM(), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHeldConnectionsClient$")
	cmd.Env = append(os.Environ(), envHeldClient+"=1", envHeldAddr+"="+s.MQTTAddr(), envHeldHost+"="+s.HostName(),
		envHeldKey+"="+heldKey, envHeldCount+"="+strconv.Itoa(n), envHeldCA+"="+ca)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	var held int
	var secs float64
	if _, scanErr := fmt.Sscanf(line, "held %d in %g s", &held, &secs); err != nil || scanErr != nil || held != n {
		b.Fatalf("helper process: %q %v", line, err)
	}
	go io.Copy(io.Discard, stdout) //nolint:errcheck // drains what the helper writes until it exits
	return heldClients{cmd, stdin}, float64(n) / secs
}

// stopHeldClients ends the helper process, which closes its connections,
// and waits until the emulator has seen every one of them end.
func stopHeldClients(b *testing.B, s *Server, h heldClients) {
	h.stdin.Close()
	_ = h.cmd.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := s.hook.connections
	for {
		c.mu.Lock()
		left, changed := len(c.outboxes), c.changed
		c.mu.Unlock()
		if left == 0 {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			b.Fatalf("%d connections still open after the helper exited", left)
		}
	}
}

// checkConnectionsForgotten fails b if the emulator still holds anything
// for the deleted identities.
func checkConnectionsForgotten(b *testing.B, s *Server) {
	c := s.hook.connections
	c.mu.Lock()
	live, outboxes, accepted := len(c.live), len(c.outboxes), len(c.accepted)
	c.mu.Unlock()
	sessions := s.broker.Clients.Len()
	if live+outboxes+accepted+sessions != 0 {
		b.Errorf("after close and delete: %d live, %d outboxes, %d accepted counts, %d sessions", live, outboxes, accepted, sessions)
	}
}

func writeHeldProfile(b *testing.B) {
	if *heldHeapProfile == "" {
		return
	}
	f, err := os.Create(*heldHeapProfile)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

// memorySample is the process's memory at one moment, after a GC, with
// the free pages returned to the OS so the resident set shows what is held.
type memorySample struct{ heapInuse, stack, sys, rss, goroutines float64 }

func sampleMemory() memorySample {
	runtime.GC()
	debug.FreeOSMemory() // a second GC, and what is free goes back to the OS now rather than bit by bit
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memorySample{heapInuse: float64(ms.HeapInuse), stack: float64(ms.StackInuse), sys: float64(ms.Sys), rss: float64(residentBytes()), goroutines: float64(runtime.NumGoroutine())}
}

func (m memorySample) minus(o memorySample) memorySample {
	return memorySample{m.heapInuse - o.heapInuse, m.stack - o.stack, m.sys - o.sys, m.rss - o.rss, m.goroutines - o.goroutines}
}

func (m memorySample) per(n int) memorySample {
	f := float64(n)
	return memorySample{m.heapInuse / f, m.stack / f, m.sys / f, m.rss / f, m.goroutines / f}
}

// residentBytes is the process's resident set (/proc/self/statm's second
// field, in pages); 0 where there is no /proc.
func residentBytes() int64 {
	raw, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(raw))
	if len(fields) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(fields[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// TestHeldConnectionsClient is BenchmarkHeldConnections's helper process,
// not a test: it opens the connections, says "held N in S s" on stdout,
// holds them until stdin closes, then exits.
func TestHeldConnectionsClient(t *testing.T) {
	if os.Getenv(envHeldClient) == "" {
		t.Skip("helper process of BenchmarkHeldConnections")
	}
	n, _ := strconv.Atoi(os.Getenv(envHeldCount))
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(os.Getenv(envHeldCA))
	if err != nil || !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("CA: %v", err)
	}
	host, _, _ := strings.Cut(os.Getenv(envHeldHost), ":")
	tlsCfg := &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12}
	start := time.Now()
	conns, err := dialHeld(n, tlsCfg)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("held %d in %g s\n", len(conns), time.Since(start).Seconds())
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}

// dialHeld opens n module connections on 64 workers. Source addresses
// are spread over 127.0.0.0/8, 20,000 connections an address, so the
// ephemeral ports of one address never run out.
func dialHeld(n int, tlsCfg *tls.Config) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	next := atomic.Int64{}
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n && failed.Load() == nil; i = int(next.Add(1) - 1) {
				c, err := dialOneHeld(i, tlsCfg)
				if err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		return nil, *err
	}
	return conns, nil
}

func dialOneHeld(i int, tlsCfg *tls.Config) (net.Conn, error) {
	src := &net.TCPAddr{IP: net.IPv4(127, byte(1+i/20000/256), byte(i/20000%256), 1)}
	d := &net.Dialer{LocalAddr: src, Timeout: time.Minute}
	c, err := tls.DialWithDialer(d, "tcp", os.Getenv(envHeldAddr), tlsCfg)
	if err != nil {
		return nil, err
	}
	if err := connectHeld(c, heldIdentity(i)); err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: %w", heldIdentity(i), err)
	}
	return c, nil
}

// connectHeld sends the CONNECT an SDK sends (persistent session, no
// keep-alive, so an idle connection is never timed out) and reads the
// CONNACK.
func connectHeld(c net.Conn, id identity) error {
	cs := hub.ConnectionString{HostName: os.Getenv(envHeldHost), DeviceID: id.deviceID, ModuleID: id.moduleID, SharedAccessKey: os.Getenv(envHeldKey)}
	user, password := mqttconn.Credentials(cs, mqttconn.Settings{TTL: time.Hour, Now: time.Now})
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Connect},
		ProtocolVersion: 4,
		Connect: packets.ConnectParams{
			ProtocolName: []byte("MQTT"), ClientIdentifier: mqttconn.IdentityClientID(cs),
			UsernameFlag: true, Username: []byte(user), PasswordFlag: true, Password: []byte(password),
		},
	}
	var buf bytes.Buffer
	if err := pk.ConnectEncode(&buf); err != nil {
		return err
	}
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	if _, err := c.Write(buf.Bytes()); err != nil {
		return err
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(c, ack); err != nil {
		return err
	}
	if ack[0] != packets.Connack<<4 || ack[3] != 0 {
		return errors.New("refused: CONNACK " + fmt.Sprint(ack))
	}
	return c.SetDeadline(time.Time{})
}
