package emulator

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
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
	"github.com/hubspec/hubspec/internal/tunnet"
)

// What BenchmarkHeldConnections measures: how many connections, how many
// of them one client process opens, and where to write the emulator's heap
// profile while they are all held (and, to diff against, before the first
// connects, with .idle appended).
// go test -run '^$' -bench HeldConnections -benchtime 1x -timeout 30m ./emulator -args -connections=19000 -connections.heapprofile=held.pprof
// and, as root, past this process's descriptor limit:
// go test -run '^$' -bench HeldConnections -benchtime 1x -timeout 60m ./emulator -args -connections=50000 -connections.tun
var (
	heldConnections = flag.Int("connections", 2000, "BenchmarkHeldConnections: module connections to hold")
	heldPerProcess  = flag.Int("connections.perprocess", 5000, "BenchmarkHeldConnections: connections each client process opens")
	heldClassicTLS  = flag.Bool("connections.classictls", false, "BenchmarkHeldConnections: clients offer only the X25519 key exchange, as TLS stacks without post-quantum key exchange do (OpenSSL before 3.5, mbedTLS), rather than Go's default, which adds X25519MLKEM768")
	heldHeapProfile = flag.String("connections.heapprofile", "", "BenchmarkHeldConnections: write the emulator's heap profile here while the connections are held, to this name with .idle before the first connects, and with .patched after each has had its patch")
	heldTUN         = flag.Bool("connections.tun", false, "BenchmarkHeldConnections: the emulator accepts its MQTT connections through a TUN device and a user-space TCP/IP stack (internal/tunnet), which costs it one descriptor for all of them, so it can hold more than its descriptor limit; needs root (CAP_NET_ADMIN) and /dev/net/tun")
)

// heldFDHeadroom is the descriptors the benchmark process needs besides its
// MQTT connections: listeners, the registry client's connections (both
// ends, as the emulator is in this process), pipes to the client processes.
const heldFDHeadroom = 256

// heldPerAddress is how many connections share one source address, well
// under the ephemeral port range (32768-60999 by default on Linux), so
// that even the ports a previous run left in TIME_WAIT do not run out.
const heldPerAddress = 5000

// heldTimeout bounds each wait on the client processes: connecting, the
// patches arriving, the connections ending.
const heldTimeout = 5 * time.Minute

// The helper process's environment: set by BenchmarkHeldConnections, read
// by TestHeldConnectionsClient.
const (
	envHeldClient = "HUBSPEC_HELD_CLIENT"
	envHeldAddr   = "HUBSPEC_HELD_ADDR"
	envHeldHost   = "HUBSPEC_HELD_HOST"
	envHeldKey    = "HUBSPEC_HELD_KEY"
	envHeldFirst  = "HUBSPEC_HELD_FIRST"
	envHeldCount  = "HUBSPEC_HELD_COUNT"
	envHeldCA     = "HUBSPEC_HELD_CA"
	envHeldSource = "HUBSPEC_HELD_SOURCE"
	envHeldDialer = "HUBSPEC_HELD_DIALERS"
	envHeldTLS    = "HUBSPEC_HELD_CLASSIC_TLS"
)

// heldKey is every benchmark module's primary key, so the helper process
// can sign each one's SAS token without a list of keys.
const heldKey = "aGVsZC1jb25uZWN0aW9ucy1iZW5jaG1hcmsta2V5LTAxMjM0NTY3ODk="

// BenchmarkHeldConnections opens -connections authenticated module
// connections (TLS, SAS, persistent sessions, each subscribed to its
// desired-property patches) to an emulator in this process, holds them,
// and reports what each costs the emulator: heap in use, goroutine stacks,
// memory obtained from the OS, resident set and goroutines per connection,
// and the connect rate. The connections are made by client processes (this
// test binary running TestHeldConnectionsClient, -connections.perprocess
// connections each), so only the emulator's memory is in these figures and
// no process needs more descriptors than its limit allows; they come from
// source addresses spread over 127.0.0.0/8, so ephemeral ports never run
// out. Then every module is sent its own desired patch, a value no other
// module gets, and each client process checks that each of its connections
// received its own patch, once, and nothing else: one missing or misplaced
// patch fails the benchmark. Once the connections have closed and their
// identities are deleted it reports the resident set again, against the
// idle one, and checks that the connection registry is empty.
//
// Each connection costs the emulator's process a descriptor, so -connections
// is capped by its descriptor limit, which only a process with
// CAP_SYS_RESOURCE raises past the hard limit. With -connections.tun the
// connections end instead in a user-space TCP/IP stack (gVisor's netstack)
// on a TUN device (internal/tunnet), one descriptor for all of them; the
// clients' sockets stay kernel sockets, from addresses on the kernel side
// of the device. Every connection is still TCP, TLS, CONNECT with a SAS
// token and a subscription; the stack's memory per connection, which
// kernel TCP keeps outside the process, is reported on its own
// (netstack-heap-B/conn) and is part of heap-B/conn and rss-B/conn.
func BenchmarkHeldConnections(b *testing.B) {
	n := *heldConnections
	if !*heldTUN {
		raiseFileLimit(b, n+heldFDHeadroom)
	}
	for range b.N {
		mqttLn, sources, closeNetwork := heldNetwork(b, n)
		s := startHeld(b, n, mqttLn)
		reg := heldRegistry(b, s)
		ids := createHeldModules(b, reg, n)
		idle := sampleMemory()
		writeHeldProfile(b, ".idle")
		idleAlloc := allocRate(heldAllocWindow)
		clients, rate := startHeldClients(b, s, n, sources)
		held := sampleMemory()
		heldAlloc := allocRate(heldAllocWindow)
		writeHeldProfile(b, "")
		patchRate := patchHeldModules(b, reg, ids, clients)
		patched := sampleMemory()
		writeHeldProfile(b, ".patched")
		per := held.minus(idle).per(n)
		b.ReportMetric(per.heapInuse, "heap-B/conn")
		if *heldTUN {
			b.ReportMetric(per.netstack, "netstack-heap-B/conn")
		}
		b.ReportMetric(per.stack, "stack-B/conn")
		b.ReportMetric(per.sys, "sys-B/conn")
		b.ReportMetric(per.rss, "rss-B/conn")
		b.ReportMetric(per.goroutines, "goroutines/conn")
		b.ReportMetric(rate, "conns/s")
		b.ReportMetric((heldAlloc-idleAlloc)/float64(n), "idle-alloc-B/conn/s")
		b.ReportMetric(patchRate, "patches/s")
		b.Logf("%d connections from %d processes at %.0f/s, each: heap %.0f B (%.0f B of it netstack's), stacks %.0f B, sys %.0f B, RSS %.0f B, %.1f goroutines",
			n, len(clients), rate, per.heapInuse, per.netstack, per.stack, per.sys, per.rss, per.goroutines)
		after := patched.minus(idle).per(n)
		b.Logf("held idle, the emulator allocates %.0f B/s (%.0f B/s with no connection): %.1f B a connection a second",
			heldAlloc, idleAlloc, (heldAlloc-idleAlloc)/float64(n))
		b.Logf("after a desired patch to each, %.0f/s, none misdelivered: heap %.0f B, stacks %.0f B, RSS %.0f B, %.1f goroutines a connection",
			patchRate, after.heapInuse, after.stack, after.rss, after.goroutines)
		stopHeldClients(b, s, clients)
		deleteHeldModules(b, s, reg, ids)
		gone := sampleMemory()
		writeHeldProfile(b, ".gone")
		b.Logf("%d connections: idle RSS %.0f MiB (heap %.0f), held %.0f MiB (%.0f), patched %.0f MiB (%.0f), after close and delete %.0f MiB (%.0f); goroutines %.0f, %.0f, %.0f",
			n, idle.rss/(1<<20), idle.heapInuse/(1<<20), held.rss/(1<<20), held.heapInuse/(1<<20), patched.rss/(1<<20), patched.heapInuse/(1<<20),
			gone.rss/(1<<20), gone.heapInuse/(1<<20), idle.goroutines, held.goroutines, gone.goroutines)
		checkConnectionsForgotten(b, s)
		s.Close()
		closeNetwork()
	}
}

// raiseFileLimit makes room for want descriptors, or fails naming how many
// connections fit: the soft limit is raised to the hard one by the Go
// runtime, the hard one only by a process with CAP_SYS_RESOURCE.
func raiseFileLimit(b testing.TB, want int) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatalf("cannot read the descriptor limit: %v", err)
	}
	if lim.Cur >= uint64(want) {
		return
	}
	lim.Cur = max(lim.Cur, uint64(want))
	lim.Max = max(lim.Max, uint64(want))
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		var now syscall.Rlimit
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &now)
		b.Fatalf("need %d file descriptors and cannot raise the limit (%d): %v; at most %d connections fit in this process (the emulator holds more with -connections.tun; a client process, with a smaller -connections.perprocess)",
			want, now.Max, err, int(now.Max)-heldFDHeadroom)
	}
}

// heldTUNPrefix is routed into the TUN device of -connections.tun: the
// user-space stack listens on heldTUNStack, the clients connect from
// 10.250.B.1 on, B the run's block.
var (
	heldTUNPrefix = netip.MustParsePrefix("10.250.0.0/16")
	heldTUNStack  = netip.MustParseAddr("10.250.255.254")
)

// heldNetwork is where the emulator accepts the MQTT connections (nil: on
// its own loopback listener) and the first of the clients' source
// addresses (heldSource). By default those are 127.B.0.1 on, B a block of
// the run's own (from the pid), so a run soon after another does not meet
// its ports in TIME_WAIT. With -connections.tun it is a listener on a
// user-space stack on a TUN device, and sources on the device's kernel
// side, 10.250.B.1 on; b skips where this process cannot make the device.
// closeNetwork removes the device; so does b's clean-up, should b fail
// first.
func heldNetwork(b *testing.B, n int) (ln net.Listener, sources netip.Addr, closeNetwork func()) {
	block := byte(1 + os.Getpid()%200)
	if !*heldTUN {
		return nil, netip.AddrFrom4([4]byte{127, block, 0, 0}), func() {}
	}
	if err := tunnet.Available(); err != nil {
		b.Skipf("-connections.tun: %v", err)
	}
	prefix := heldTUNPrefix.Addr().As4()
	sources = netip.AddrFrom4([4]byte{prefix[0], prefix[1], block, 0})
	cfg := tunnet.Config{Name: "hsheld" + strconv.Itoa(os.Getpid()%1000000), Prefix: heldTUNPrefix, Stack: heldTUNStack}
	for a := range (n + heldPerAddress - 1) / heldPerAddress {
		cfg.Kernel = append(cfg.Kernel, heldSource(sources, a))
	}
	tn, err := tunnet.Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tn.Close() })
	if ln, err = tn.Listen(8883); err != nil {
		b.Fatal(err)
	}
	return ln, sources, func() { tn.Close() }
}

// heldSource is the a-th source address from base: 250 an octet, from .1.
func heldSource(base netip.Addr, a int) netip.Addr {
	o := base.As4()
	return netip.AddrFrom4([4]byte{o[0], o[1], o[2] + byte(a/250), o[3] + byte(1+a%250)})
}

// startHeld starts the emulator, serving MQTT on mqttLn unless it is nil.
func startHeld(b *testing.B, n int, mqttLn net.Listener) *Server {
	s, err := Start(context.Background(), Options{MaxMQTTConnections: n + 16, MQTTListener: mqttLn})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// heldRegistry is the registry client of the whole run: it keeps a
// connection for each of parallel's workers, and opens no more, so the
// descriptors this process has beyond its MQTT connections stay few.
func heldRegistry(b *testing.B, s *Server) *service.RegistryClient {
	hc := &http.Client{Transport: &http.Transport{MaxConnsPerHost: heldWorkers, MaxIdleConnsPerHost: heldWorkers}}
	reg, err := service.NewRegistryClient(s.ConnectionString(), service.WithTLSConfig(s.TLSConfig()), service.WithHTTPClient(hc))
	if err != nil {
		b.Fatal(err)
	}
	return reg
}

// createHeldModules creates n modules, 50 a device (the hub's limit), all
// with heldKey, and returns their identities.
func createHeldModules(b *testing.B, reg *service.RegistryClient, n int) []identity {
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

func deleteHeldModules(b *testing.B, s *Server, reg *service.RegistryClient, ids []identity) {
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

// heldWorkers is how many registry requests parallel makes at once.
const heldWorkers = 16

// parallel runs fn for every identity on heldWorkers workers and fails b
// on the first error.
func parallel(b *testing.B, ids []identity, fn func(context.Context, identity) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	work := make(chan identity)
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for range heldWorkers {
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

// heldClient is one client process and the lines it writes on stdout;
// closing its stdin ends it.
type heldClient struct {
	cmd   *exec.Cmd
	stdin io.Closer
	lines chan string
}

// startHeldClients starts the client processes, -connections.perprocess
// connections each, from heldSource(sources, ...), and waits until all of
// them hold their connections, subscribed; it returns the processes and
// the connect rate.
func startHeldClients(b *testing.B, s *Server, n int, sources netip.Addr) ([]*heldClient, float64) {
	ca := b.TempDir() + "/ca.pem"
	if err := os.WriteFile(ca, s.CACertPEM(), 0o600); err != nil {
		b.Fatal(err)
	}
	per := max(1, *heldPerProcess)
	procs := (n + per - 1) / per
	// 64 connections in the making at once in all, so the emulator's
	// handshakes, not the processes' start, set the pace.
	dialers := max(8, 64/procs)
	start := time.Now()
	var clients []*heldClient
	for first := 0; first < n; first += per {
		count := min(per, n-first)
		cmd := exec.Command(os.Args[0], "-test.run=^TestHeldConnectionsClient$")
		cmd.Env = append(os.Environ(), envHeldClient+"=1", envHeldAddr+"="+s.MQTTAddr(), envHeldHost+"="+s.HostName(),
			envHeldKey+"="+heldKey, envHeldFirst+"="+strconv.Itoa(first), envHeldCount+"="+strconv.Itoa(count), envHeldCA+"="+ca,
			envHeldSource+"="+sources.String(), envHeldDialer+"="+strconv.Itoa(dialers), envHeldTLS+"="+strconv.FormatBool(*heldClassicTLS))
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
		c := &heldClient{cmd: cmd, stdin: stdin, lines: make(chan string, 4)}
		go c.scan(stdout)
		b.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
		clients = append(clients, c)
	}
	for _, c := range clients {
		c.expect(b, "held ")
	}
	return clients, float64(n) / time.Since(start).Seconds()
}

// scan passes the process's stdout on, line by line, until it ends.
func (c *heldClient) scan(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		c.lines <- sc.Text()
	}
	close(c.lines)
}

// expect waits for the process's next line and fails b unless it starts
// with prefix.
func (c *heldClient) expect(b *testing.B, prefix string) string {
	select {
	case line, ok := <-c.lines:
		if !ok || !strings.HasPrefix(line, prefix) {
			b.Fatalf("client process %d: want %q..., got %q (ended: %t)", c.cmd.Process.Pid, prefix, line, !ok)
		}
		return line
	case <-time.After(heldTimeout):
		c.stdin.Close() // it says what it got, then ends
		var last string
		select {
		case last = <-c.lines:
		case <-time.After(10 * time.Second):
		}
		b.Fatalf("client process %d: no %q... within %s; then it said %q", c.cmd.Process.Pid, prefix, heldTimeout, last)
	}
	return ""
}

// heldDesired is the desired patch module id gets: its own identity, which
// no other module's patch carries, so a patch delivered to the wrong
// connection is seen.
func heldDesired(id identity) map[string]any {
	return map[string]any{"held": id.deviceID + "/" + id.moduleID}
}

// patchHeldModules sends every module its own desired patch through the
// REST API and waits until every client process has seen each of its
// connections receive its own; it returns patches delivered a second, from
// the first sent to the last received.
func patchHeldModules(b *testing.B, reg *service.RegistryClient, ids []identity, clients []*heldClient) float64 {
	start := time.Now()
	parallel(b, ids, func(ctx context.Context, id identity) error {
		_, err := reg.UpdateModuleTwin(ctx, id.deviceID, id.moduleID, &hub.Twin{Properties: &hub.TwinProperties{Desired: heldDesired(id)}}, "")
		return err
	})
	for _, c := range clients {
		c.expect(b, "patched ")
	}
	return float64(len(ids)) / time.Since(start).Seconds()
}

// stopHeldClients ends the client processes, which close their
// connections, fails b if any connection received a patch not its own or a
// second one in the meantime, and waits until the emulator has seen every
// connection end.
func stopHeldClients(b *testing.B, s *Server, clients []*heldClient) {
	for _, c := range clients {
		c.stdin.Close()
	}
	for _, c := range clients {
		line := c.expect(b, "final ")
		var got, wrong int
		if _, err := fmt.Sscanf(line, "final got %d wrong %d", &got, &wrong); err != nil || wrong != 0 {
			b.Errorf("client process %d: %q %v", c.cmd.Process.Pid, line, err)
		}
		_ = c.cmd.Wait()
	}
	ctx, cancel := context.WithTimeout(context.Background(), heldTimeout)
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
			b.Fatalf("%d connections still open after the client processes exited", left)
		}
	}
}

// checkConnectionsForgotten fails b if the emulator still holds anything
// for the deleted identities.
func checkConnectionsForgotten(b *testing.B, s *Server) {
	c := s.hook.connections
	c.mu.Lock()
	live, outboxes, accepted, epochs := len(c.live), len(c.outboxes), len(c.accepted), len(c.epochs)
	c.mu.Unlock()
	sessions := s.broker.Clients.Len()
	if live+outboxes+accepted+epochs+sessions != 0 {
		b.Errorf("after close and delete: %d live, %d outboxes, %d accepted counts, %d epochs, %d sessions", live, outboxes, accepted, epochs, sessions)
	}
}

// writeHeldProfile writes the heap profile to -connections.heapprofile
// with suffix appended.
func writeHeldProfile(b *testing.B, suffix string) {
	if *heldHeapProfile == "" {
		return
	}
	f, err := os.Create(*heldHeapProfile + suffix)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

// heldAllocWindow is how long allocRate watches: several of the
// once-a-second rounds of mochi-mqtt's housekeeping loop, the allocation
// this figure was made to catch, would fall in it (the emulator serves
// mochi without that loop: serveBroker).
const heldAllocWindow = 5 * time.Second

// allocRate is how many bytes a second the process allocates over window:
// with the connections held and idle, what the emulator allocates on its
// own, the garbage that makes an idle process's resident set creep up
// between collections.
func allocRate(window time.Duration) float64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	time.Sleep(window)
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc-before.TotalAlloc) / time.Since(start).Seconds()
}

// memorySample is the process's memory at one moment, after a GC, with
// the free pages returned to the OS so the resident set shows what is held;
// netstack is the part of heapInuse the user-space TCP/IP stack holds.
type memorySample struct{ heapInuse, stack, sys, rss, goroutines, netstack float64 }

func sampleMemory() memorySample {
	runtime.GC()
	debug.FreeOSMemory() // a second GC, and what is free goes back to the OS now rather than bit by bit
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memorySample{heapInuse: float64(ms.HeapInuse), stack: float64(ms.StackInuse), sys: float64(ms.Sys), rss: float64(residentBytes()),
		goroutines: float64(runtime.NumGoroutine()), netstack: heapAllocatedUnder("gvisor.dev/")}
}

func (m memorySample) minus(o memorySample) memorySample {
	return memorySample{m.heapInuse - o.heapInuse, m.stack - o.stack, m.sys - o.sys, m.rss - o.rss, m.goroutines - o.goroutines, m.netstack - o.netstack}
}

func (m memorySample) per(n int) memorySample {
	f := float64(n)
	return memorySample{m.heapInuse / f, m.stack / f, m.sys / f, m.rss / f, m.goroutines / f, m.netstack / f}
}

// heapAllocatedUnder is the heap in use that was allocated with a function
// of a package whose path starts with prefix on the stack, as the heap
// profile estimates it as of the last GC: the profile samples one
// allocation every runtime.MemProfileRate bytes, and each record is scaled
// up as pprof scales it.
func heapAllocatedUnder(prefix string) float64 {
	var records []runtime.MemProfileRecord
	for {
		n, ok := runtime.MemProfile(records, false)
		if ok {
			records = records[:n]
			break
		}
		records = make([]runtime.MemProfileRecord, n+64)
	}
	var total float64
	for _, r := range records {
		if r.InUseObjects() > 0 && stackUnder(r.Stack(), prefix) {
			total += scaledHeapSample(r.InUseObjects(), r.InUseBytes(), runtime.MemProfileRate)
		}
	}
	return total
}

func stackUnder(stack []uintptr, prefix string) bool {
	frames := runtime.CallersFrames(stack)
	for {
		f, more := frames.Next()
		if strings.HasPrefix(f.Function, prefix) {
			return true
		}
		if !more {
			return false
		}
	}
}

// scaledHeapSample is the bytes a heap profile record stands for: its
// sampled bytes over the chance that an allocation of its average size was
// sampled (runtime/pprof's scaleHeapSample).
func scaledHeapSample(count, size int64, rate int) float64 {
	if rate <= 1 {
		return float64(size)
	}
	avg := float64(size) / float64(count)
	return float64(size) / (1 - math.Exp(-avg/float64(rate)))
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

// TestHeldConnectionsClient is BenchmarkHeldConnections's client process,
// not a test: it opens its share of the connections, each subscribed to its
// desired patches, and says "held N in S s" on stdout; says "patched N"
// once each of them has received its own patch, or "misdelivered: ..." at
// the first packet one receives that is not its own patch; and when stdin closes says
// "final got G wrong W" (W: patches not the connection's own, second ones,
// other packets) and exits, closing them.
func TestHeldConnectionsClient(t *testing.T) {
	if os.Getenv(envHeldClient) == "" {
		t.Skip("client process of BenchmarkHeldConnections")
	}
	first, _ := strconv.Atoi(os.Getenv(envHeldFirst))
	n, _ := strconv.Atoi(os.Getenv(envHeldCount))
	raiseFileLimit(t, n+heldFDHeadroom)
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(os.Getenv(envHeldCA))
	if err != nil || !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("CA: %v", err)
	}
	host, _, _ := strings.Cut(os.Getenv(envHeldHost), ":")
	tlsCfg := &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12}
	if os.Getenv(envHeldTLS) == "true" {
		tlsCfg.CurvePreferences = []tls.CurveID{tls.X25519}
	}
	start := time.Now()
	conns, err := dialHeld(first, n, tlsCfg)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("held %d in %g s\n", len(conns), time.Since(start).Seconds())
	var tally patchTally
	tally.want = int64(n)
	tally.all = make(chan struct{})
	for i, c := range conns {
		go tally.read(c, heldIdentity(first+i))
	}
	go func() {
		<-tally.all
		fmt.Printf("patched %d\n", n)
	}()
	_, _ = io.Copy(io.Discard, os.Stdin)
	fmt.Printf("final got %d wrong %d\n", tally.got.Load(), tally.wrong.Load())
	for _, c := range conns {
		c.Close()
	}
}

// patchTally counts what a client process's connections receive.
type patchTally struct {
	want       int64
	got, wrong atomic.Int64
	all        chan struct{} // closed when got reaches want
}

// read reads c's packets until it closes: the first desired patch that
// carries id's own value counts as got, anything else as wrong.
func (p *patchTally) read(c net.Conn, id identity) {
	r := bufio.NewReader(c)
	own := false
	for {
		pk, err := readHeldPacket(r)
		if err != nil {
			return
		}
		var body struct{ Held string }
		if !own && pk.FixedHeader.Type == packets.Publish && strings.HasPrefix(pk.TopicName, "$iothub/twin/PATCH/properties/desired/") &&
			json.Unmarshal(pk.Payload, &body) == nil && body.Held == heldDesired(id)["held"] {
			own = true
			if p.got.Add(1) == p.want {
				close(p.all)
			}
			continue
		}
		if p.wrong.Add(1) == 1 {
			fmt.Printf("misdelivered: %s got %s %q\n", id, pk.TopicName, pk.Payload)
		}
	}
}

// readHeldPacket reads and decodes one MQTT packet the emulator sent.
func readHeldPacket(r *bufio.Reader) (packets.Packet, error) {
	var pk packets.Packet
	first, err := r.ReadByte()
	if err != nil {
		return pk, err
	}
	if err := pk.FixedHeader.Decode(first); err != nil {
		return pk, err
	}
	if pk.FixedHeader.Remaining, _, err = packets.DecodeLength(r); err != nil {
		return pk, err
	}
	body := make([]byte, pk.FixedHeader.Remaining)
	if _, err := io.ReadFull(r, body); err != nil {
		return pk, err
	}
	pk.ProtocolVersion = 4
	if pk.FixedHeader.Type == packets.Publish {
		err = pk.PublishDecode(body)
	}
	return pk, err
}

// dialHeld opens n module connections, from the first-th on, on
// HUBSPEC_HELD_DIALERS workers.
func dialHeld(first, n int, tlsCfg *tls.Config) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	next := atomic.Int64{}
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	dialers, _ := strconv.Atoi(os.Getenv(envHeldDialer))
	for range max(1, dialers) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n && failed.Load() == nil; i = int(next.Add(1) - 1) {
				c, err := dialOneHeld(first+i, tlsCfg)
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
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
		return nil, *err
	}
	return conns, nil
}

// dialOneHeld opens connection i from source address heldSource(S, i /
// heldPerAddress), S the run's first (HUBSPEC_HELD_SOURCE).
func dialOneHeld(i int, tlsCfg *tls.Config) (net.Conn, error) {
	base, err := netip.ParseAddr(os.Getenv(envHeldSource))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envHeldSource, err)
	}
	src := &net.TCPAddr{IP: heldSource(base, i/heldPerAddress).AsSlice()}
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
// keep-alive, so an idle connection is never timed out), reads the CONNACK,
// subscribes to the desired patches at QoS 0 as the SDKs do, and reads the
// SUBACK.
func connectHeld(c net.Conn, id identity) error {
	cs := hub.ConnectionString{HostName: os.Getenv(envHeldHost), DeviceID: id.deviceID, ModuleID: id.moduleID, SharedAccessKey: os.Getenv(envHeldKey)}
	user, password := mqttconn.Credentials(cs, mqttconn.Settings{TTL: time.Hour, Now: time.Now})
	connect := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Connect},
		ProtocolVersion: 4,
		Connect: packets.ConnectParams{
			ProtocolName: []byte("MQTT"), ClientIdentifier: mqttconn.IdentityClientID(cs),
			UsernameFlag: true, Username: []byte(user), PasswordFlag: true, Password: []byte(password),
		},
	}
	subscribe := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Subscribe, Qos: 1},
		ProtocolVersion: 4,
		PacketID:        1,
		Filters:         packets.Subscriptions{{Filter: "$iothub/twin/PATCH/properties/desired/#"}},
	}
	var buf bytes.Buffer
	if err := connect.ConnectEncode(&buf); err != nil {
		return err
	}
	if err := subscribe.SubscribeEncode(&buf); err != nil {
		return err
	}
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	if _, err := c.Write(buf.Bytes()); err != nil {
		return err
	}
	acks := make([]byte, 4+5)
	if _, err := io.ReadFull(c, acks); err != nil {
		return err
	}
	if acks[0] != packets.Connack<<4 || acks[3] != 0 {
		return errors.New("refused: CONNACK " + fmt.Sprint(acks[:4]))
	}
	if acks[4] != packets.Suback<<4 || acks[8] != 0 {
		return errors.New("subscription refused: SUBACK " + fmt.Sprint(acks[4:]))
	}
	return c.SetDeadline(time.Time{})
}
