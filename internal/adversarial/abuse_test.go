package adversarial

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The limits and timeouts the suite expects of the hub. The fix engineer
// aligns these with what the emulator sets; each is the bound a test
// asserts, not a delay it sleeps.
const (
	// httpReadTimeout is the longest the HTTPS server may take to read one
	// request, headers and body (http.Server.ReadTimeout or an equivalent
	// whole-request bound): a body that trickles in slower is cut off.
	httpReadTimeout = 20 * time.Second
	// httpIdleTimeout is how long an idle keep-alive HTTPS connection may
	// stay open (http.Server.IdleTimeout).
	httpIdleTimeout = 30 * time.Second
	// mqttConnectDeadline is the documented time a TLS connection has to
	// finish its handshake and send CONNECT (docs/fidelity.md, "CONNECT
	// deadline").
	mqttConnectDeadline = 30 * time.Second
	// closeSlack is what the hub may take beyond one of its timeouts.
	closeSlack = 5 * time.Second
	// preAuthClose bounds how fast an unauthenticated CONNECT that declares
	// more than any CONNECT needs is closed, without reading its body.
	preAuthClose = 5 * time.Second
	// maxTelemetry is IoT Hub's device-to-cloud message limit, 256 KB.
	maxTelemetry = 256 * 1024
	// restUnderLoad bounds a REST answer while an attacker holds sockets.
	restUnderLoad = 5 * time.Second
	// listenerRecovery bounds how long the MQTT listener may take to accept
	// again once descriptors are free.
	listenerRecovery = 10 * time.Second
)

// TestHugeConnectClosed (defect 3): a socket that declares a 64 MB CONNECT
// is closed at once, before the hub reads (or allocates for) its body.
func TestHugeConnectClosed(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		before := rss(t, tg)
		c := dialRaw(t, tg)
		header := append([]byte{pktConnect << 4}, remainingLength(64<<20)...)
		go func() { // the hub may stop reading; the write must not hold the test
			_ = c.conn.SetWriteDeadline(time.Now().Add(preAuthClose + closeSlack))
			if _, err := c.conn.Write(header); err != nil {
				return
			}
			_, _ = c.conn.Write(make([]byte, 1<<20))
		}()
		start := time.Now()
		closed, _ := c.closedWithin(preAuthClose)
		if !closed {
			t.Errorf("a declared 64 MB CONNECT is still open after %v: the hub waits for its body", preAuthClose)
		} else {
			t.Logf("closed after %v", time.Since(start).Round(time.Millisecond))
		}
		if before > 0 {
			t.Logf("emulator RSS %d KiB before, %d KiB after", before, rss(t, tg))
		}
	})
}

// rss is the binary's VmRSS in KiB, 0 for the embedded emulator.
func rss(t testing.TB, tg target) int64 {
	t.Helper()
	if tg.PID() == 0 {
		return 0
	}
	kb, err := rssKiB(tg.PID())
	if err != nil {
		t.Fatal(err)
	}
	return kb
}

// TestOversizedTelemetry (defect 3): after authentication the hub's
// message limit applies: a telemetry PUBLISH over 256 KB is not
// acknowledged and its connection is closed; one under it is acknowledged.
func TestOversizedTelemetry(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		newDevice(t, tg, "d1")
		m := newModule(t, tg, "d1", "big")
		topic := "devices/d1/modules/big/messages/events/"
		for _, c := range []struct {
			name string
			size int
			ok   bool
		}{{"200 KB", 200 * 1024, true}, {"300 KB", 300 * 1024, false}, {"10 MB", 10 << 20, false}} {
			t.Run(c.name, func(t *testing.T) {
				conn := dialRaw(t, tg)
				conn.mustConnect(identityConnect(tg.Host(), m))
				pkt := publishPacket(topic, make([]byte, c.size), true)
				go func() {
					_ = conn.conn.SetWriteDeadline(time.Now().Add(opDeadline))
					_, _ = conn.conn.Write(pkt)
				}()
				if c.ok {
					typ, _, _, err := conn.readPacket(opDeadline)
					if err != nil || typ != pktPuback {
						t.Fatalf("%s telemetry (limit %d): packet %d, %v; want a PUBACK", c.name, maxTelemetry, typ, err)
					}
					return
				}
				typ, _, _, err := conn.readPacket(opDeadline)
				switch {
				case err == nil && typ == pktPuback:
					t.Errorf("%s telemetry acknowledged (limit %d bytes)", c.name, maxTelemetry)
				case isTimeout(err):
					t.Errorf("%s telemetry: connection still open after %v", c.name, opDeadline)
				case err == nil:
					t.Errorf("%s telemetry: answered with packet type %d, want the connection closed", c.name, typ)
				}
			})
		}
	})
}

// heldSockets is how many sockets of each kind an attacker holds open.
func heldSockets() int {
	if *soak {
		return 2000
	}
	return 200
}

// TestHeldSockets (defect 4): never-CONNECT TLS sockets on the MQTT port
// and idle keep-alive HTTPS sockets, held open together, do not stop the
// REST API or MQTT from answering; the hub closes the never-CONNECT ones
// after its CONNECT deadline and the idle HTTPS ones after its idle
// timeout.
func TestHeldSockets(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		m := heldSocketsScenario(t, tg, heldSockets())
		t.Logf("held %d MQTT and %d HTTPS sockets; REST answered in %v", m.mqttHeld, m.httpsHeld, m.restLatency.Round(time.Millisecond))
		if tg.PID() != 0 {
			t.Logf("emulator RSS %d KiB before, %d KiB while held", m.rssBefore, m.rssHeld)
		}
	})
}

type heldFigures struct {
	mqttHeld, httpsHeld int
	restLatency         time.Duration
	rssBefore, rssHeld  int64
}

func heldSocketsScenario(t *testing.T, tg target, n int) heldFigures {
	newDevice(t, tg, "d1")
	mod := newModule(t, tg, "d1", "m1")
	fig := heldFigures{rssBefore: rss(t, tg)}

	var mu sync.Mutex
	var mqttConns, httpsConns []*tls.Conn
	var failures atomic.Int64
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := 0; i < 2*n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if i%2 == 0 {
				c, err := dialRawErr(tg, opDeadline)
				if err != nil {
					failures.Add(1)
					return
				}
				mu.Lock()
				mqttConns = append(mqttConns, c.conn)
				mu.Unlock()
				return
			}
			c, err := idleHTTPS(tg)
			if err != nil {
				failures.Add(1)
				return
			}
			mu.Lock()
			httpsConns = append(httpsConns, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	opened := time.Now() // the hub's deadlines count from the last socket opened
	t.Cleanup(func() {
		for _, c := range append(mqttConns, httpsConns...) {
			c.Close()
		}
	})
	fig.mqttHeld, fig.httpsHeld, fig.rssHeld = len(mqttConns), len(httpsConns), rss(t, tg)
	if f := failures.Load(); f > 0 {
		t.Logf("%d of %d attacker sockets could not be opened", f, 2*n)
	}

	// A fresh client (new connection) gets an answer in time.
	start := time.Now()
	hc := httpClient(tg)
	defer hc.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctxFor(t, restUnderLoad), http.MethodGet, tg.BaseURL()+"/devices/d1?api-version=2021-04-12", nil)
	req.Header.Set("Authorization", policyToken(tg, "iothubowner"))
	resp, err := hc.Do(req)
	if err != nil {
		t.Errorf("REST while %d+%d sockets are held: %v (deadline %v)", fig.mqttHeld, fig.httpsHeld, err, restUnderLoad)
	} else {
		resp.Body.Close()
		fig.restLatency = time.Since(start)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("REST while sockets are held: %s", resp.Status)
		}
	}
	c, err := dialRawErr(tg, restUnderLoad)
	if err != nil {
		t.Errorf("MQTT while sockets are held: %v", err)
	} else {
		c.t = t
		defer c.conn.Close()
		c.mustConnect(identityConnect(tg.Host(), mod))
	}

	// The hub closes what it should, each kind by its own deadline.
	mqttOpen := stillOpen(mqttConns, time.Until(opened.Add(mqttConnectDeadline+closeSlack)))
	httpsOpen := stillOpen(httpsConns, time.Until(opened.Add(httpIdleTimeout+closeSlack)))
	if mqttOpen > 0 {
		t.Errorf("%d of %d never-CONNECT MQTT sockets still open %v after the last was opened (CONNECT deadline %v)",
			mqttOpen, len(mqttConns), mqttConnectDeadline+closeSlack, mqttConnectDeadline)
	}
	if httpsOpen > 0 {
		t.Errorf("%d of %d idle keep-alive HTTPS sockets still open %v after the last was opened (idle timeout %v)",
			httpsOpen, len(httpsConns), httpIdleTimeout+closeSlack, httpIdleTimeout)
	}
	return fig
}

// idleHTTPS opens a keep-alive HTTPS connection, makes one request on it
// and leaves it idle.
func idleHTTPS(tg target) (*tls.Conn, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: opDeadline}, "tcp", strings.TrimPrefix(tg.BaseURL(), "https://"), tg.TLS())
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(opDeadline))
	if _, err := io.WriteString(c, "GET /$hubspec/health HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
		c.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// stillOpen waits at most d for the server to close each connection and
// returns how many it left open.
func stillOpen(conns []*tls.Conn, d time.Duration) int {
	var open atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetReadDeadline(deadline)
			_, err := io.Copy(io.Discard, c)
			if err == nil || !isTimeout(err) {
				return // EOF or reset: closed
			}
			open.Add(1)
		}()
	}
	wg.Wait()
	return int(open.Load())
}

// TestSlowHTTPSBody (defect 4): a request whose body never completes, sent
// a byte every two seconds or not at all, is cut off by the server's read
// timeout instead of holding a handler forever.
func TestSlowHTTPSBody(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		for _, c := range []struct {
			name  string
			every time.Duration
		}{{"stalled", 0}, {"a byte every 2 s", 2 * time.Second}} {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				conn, err := tls.DialWithDialer(&net.Dialer{Timeout: opDeadline}, "tcp", strings.TrimPrefix(tg.BaseURL(), "https://"), tg.TLS())
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				head := "PUT /devices/slow?api-version=2021-04-12 HTTP/1.1\r\nHost: " + tg.Host() +
					"\r\nAuthorization: " + policyToken(tg, "iothubowner") +
					"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
				if _, err := io.WriteString(conn, head); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if c.every > 0 {
					go func() {
						tick := time.NewTicker(c.every)
						defer tick.Stop()
						for {
							select {
							case <-ctx.Done():
								return
							case <-tick.C:
								if _, err := io.WriteString(conn, " "); err != nil {
									return
								}
							}
						}
					}()
				}
				start := time.Now()
				_ = conn.SetReadDeadline(start.Add(httpReadTimeout + closeSlack))
				_, err = io.Copy(io.Discard, conn)
				if isTimeout(err) {
					t.Errorf("an unfinished request body still holds its connection after %v (read timeout %v)", httpReadTimeout+closeSlack, httpReadTimeout)
					return
				}
				t.Logf("closed by the server after %v", time.Since(start).Round(time.Millisecond))
			})
		}
	})
}

// TestListenerSurvivesDescriptorExhaustion (defect 2): with its descriptors
// exhausted the binary's MQTT listener must back off and accept again once
// descriptors are free, and /$hubspec/health must not say 200 while MQTT
// cannot accept. Only the binary: its RLIMIT_NOFILE is lowered to 64.
func TestListenerSurvivesDescriptorExhaustion(t *testing.T) {
	t.Parallel()
	t.Run("binary", func(t *testing.T) {
		fig := exhaustionScenario(t, 64, 100)
		t.Logf("descriptors: limit %d, %d open while exhausted; %d of %d attacker handshakes completed; MQTT accepted again: %v after %v",
			fig.limit, fig.fdsExhausted, fig.handshakes, fig.attempts, fig.recovered, fig.recovery.Round(time.Millisecond))
	})
}

type exhaustionFigures struct {
	limit, fdsExhausted, handshakes, attempts int
	recovered                                 bool
	recovery                                  time.Duration
}

func exhaustionScenario(t *testing.T, limit, attempts int) exhaustionFigures {
	b := startBinary(t, binaryOptions{noFile: limit})
	newDevice(t, b, "d1")
	mod := newModule(t, b, "d1", "m1")
	b.httpClientReset()
	fig := exhaustionFigures{limit: limit, attempts: attempts}

	var conns []net.Conn
	var handshakes atomic.Int64
	var wg sync.WaitGroup
	for range attempts {
		nc, err := net.DialTimeout("tcp", b.MQTTAddr(), opDeadline)
		if err != nil {
			continue // the backlog is full: that exhausts too
		}
		conns = append(conns, nc)
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := b.TLS()
			tc := tls.Client(nc, cfg)
			_ = tc.SetDeadline(time.Now().Add(3 * time.Second))
			if tc.Handshake() == nil {
				handshakes.Add(1)
			}
		}()
	}
	wg.Wait()
	fig.handshakes, fig.fdsExhausted = int(handshakes.Load()), openFDs(b.PID())
	if fig.handshakes >= len(conns) {
		t.Fatalf("could not exhaust the emulator's descriptors: all %d handshakes completed (limit %d)", len(conns), limit)
	}
	for _, c := range conns {
		c.Close()
	}

	freed := time.Now()
	deadline := freed.Add(listenerRecovery)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for time.Now().Before(deadline) {
		c, err := dialRawErr(b, time.Second)
		if err == nil {
			c.t = t
			code := c.connect(identityConnect(b.Host(), mod))
			c.conn.Close()
			if code == 0 {
				fig.recovered, fig.recovery = true, time.Since(freed)
				return fig
			}
			err = fmt.Errorf("CONNECT: %s", outcome(code))
		}
		lastErr = err
		<-tick.C
	}
	t.Errorf("MQTT does not accept connections %v after descriptors were freed: %v", listenerRecovery, lastErr)
	status, err := healthStatus(b)
	switch {
	case err != nil:
		t.Logf("health: %v", err)
	case status == http.StatusOK:
		t.Errorf("/$hubspec/health answers 200 while the MQTT listener does not accept")
	}
	return fig
}

func healthStatus(tg target) (int, error) {
	hc := httpClient(tg)
	defer hc.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), opDeadline)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tg.BaseURL()+"/$hubspec/health", nil)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
