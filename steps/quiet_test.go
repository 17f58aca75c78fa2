package steps_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/internal/mqttconn"
)

// lateEmbedded is the embedded target with its MQTT traffic through a
// lateLink: every delivery barrier and marker it offers stays.
type lateEmbedded struct {
	*harness.Embedded
	addr string
}

func (l lateEmbedded) DialOptions() []device.Option {
	return append(l.Embedded.DialOptions(), device.WithAddress(l.addr))
}

// lateLive is a target with nothing but harness.Target, as a live hub is,
// with its MQTT traffic through a lateLink.
type lateLive struct {
	harness.Target
	addr string
}

func (l lateLive) DialOptions() []device.Option {
	return append(l.Target.DialOptions(), device.WithAddress(l.addr))
}

// startLateLink relays TCP connections to addr and hands on what the
// server sends delay after it came, in order, so every push reaches the
// client late; what the client sends goes straight through. It returns the
// address to dial.
func startLateLink(t *testing.T, addr string, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go relayLate(c, addr, delay)
		}
	}()
	return ln.Addr().String()
}

func relayLate(client net.Conn, addr string, delay time.Duration) {
	defer client.Close()
	server, err := net.Dial("tcp", addr)
	if err != nil {
		return
	}
	defer server.Close()
	go func() { _, _ = io.Copy(server, client); server.Close() }()
	type chunk struct {
		b  []byte
		at time.Time
	}
	chunks := make(chan chunk, 1024)
	go func() {
		defer close(chunks)
		buf := make([]byte, 32<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 {
				chunks <- chunk{bytes.Clone(buf[:n]), time.Now().Add(delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range chunks {
		<-time.After(time.Until(c.at)) // the delay line itself
		if _, err := client.Write(c.b); err != nil {
			return
		}
	}
}

// mqttAddr is the MQTT address a target's dial options name.
func mqttAddr(t harness.Target) string {
	var s mqttconn.Settings
	for _, o := range t.DialOptions() {
		o(&s)
	}
	return s.Addr
}

const latePush = `Feature: F
  Scenario: S
    Given module "m" exists on device "d"
    And module "m" exists on device "other"
    And module "m" on device "d" is connected
    When the service sets desired "x" of module "m" on device "d" to 1
    Then module "m" on device "d" receives nothing within %WINDOW% seconds
`

// TestNothingWithinCatchesALatePush: a desired patch that reaches the
// client late (the link holds everything the hub sends for a while) still
// fails "receives nothing within": on the emulator, where the delivery
// barrier's marker must come through behind it, and on a live-like target,
// which watches its whole window. Where nothing was pushed, the emulator
// proves it long before the window ends.
func TestNothingWithinCatchesALatePush(t *testing.T) {
	emb, err := harness.StartEmbedded(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emb.Close() })
	for _, tc := range []struct {
		name   string
		target harness.Target
		window string
	}{
		{"barrier", lateEmbedded{emb, startLateLink(t, mqttAddr(emb), 500*time.Millisecond)}, "30"},
		{"live", lateLive{emb, startLateLink(t, mqttAddr(emb), time.Second)}, "3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each on a late link and devices of its own
			feature := strings.ReplaceAll(latePush, "%WINDOW%", tc.window)
			status, out, _ := runFeature(t, tc.target, feature)
			want := `module "m" on device "d": expected nothing within ` + tc.window + `s, got a desired patch map[x:1]`
			if status == 0 || !strings.Contains(out, want) || !strings.Contains(out, "5 steps (4 passed, 1 failed)") {
				t.Fatalf("status %d, output lacks %q:\n%s", status, want, out)
			}
		})
	}
	t.Run("quiet", func(t *testing.T) {
		t.Parallel()
		late := lateEmbedded{emb, startLateLink(t, mqttAddr(emb), 200*time.Millisecond)}
		quiet := strings.ReplaceAll(strings.ReplaceAll(latePush, "%WINDOW%", "30"), `"x" of module "m" on device "d"`, `"x" of module "m" on device "other"`)
		start := time.Now()
		if status, out, _ := runFeature(t, late, quiet); status != 0 {
			t.Fatalf("status %d:\n%s", status, out)
		}
		if took := time.Since(start); took > 15*time.Second {
			t.Fatalf("a 30 s window with nothing pushed took %s: the barrier proved nothing", took)
		}
	})
}
