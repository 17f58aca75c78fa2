package emulator_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubspec/hubspec/emulator"
	"github.com/mochi-mqtt/server/v2/packets"
)

// syncBuffer is a log destination the emulator's goroutines share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// sendRaw writes packets on a fresh MQTT connection and reads until the
// hub closes it: by then the hub has logged what it had to say.
func sendRaw(t *testing.T, s *emulator.Server, pks ...packets.Packet) {
	t.Helper()
	conn, err := tls.Dial("tcp", s.MQTTAddr(), s.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var out bytes.Buffer
	for _, pk := range pks {
		if err := pk.ConnectEncode(&out); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Write(out.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, conn); err != nil {
		t.Fatalf("the hub kept the connection open: %v", err)
	}
}

func connectPacket(clientID, username, password string) packets.Packet {
	return packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: clientID,
			UsernameFlag: true, Username: []byte(username), PasswordFlag: true, Password: []byte(password)}}
}

// TestLogsHoldNoSecret: whatever a client sends, the emulator's logs (its
// own lines and its MQTT broker's) never hold a SAS signature: not for a
// second CONNECT, which the broker logs whole, nor for credentials given
// the wrong way round, which the refusal quotes.
func TestLogsHoldNoSecret(t *testing.T) {
	var logs syncBuffer
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			opts := &slog.HandlerOptions{Level: slog.LevelDebug}
			h := slog.Handler(slog.NewTextHandler(&logs, opts))
			if format == "json" {
				h = slog.NewJSONHandler(&logs, opts)
			}
			s, reg := startHubWith(t, emulator.Options{Logger: slog.New(h)})
			c := moduleCreds(t, s, createModule(t, reg, "dev1", "mod1"), "", time.Now().Add(time.Hour))

			good := connectPacket(c.clientID, c.username, c.password)
			sendRaw(t, s, good, good)
			sendRaw(t, s, connectPacket(c.clientID, c.password, c.username))

			got := logs.String()
			sig := regexp.MustCompile(`sig=([^&]+)`).FindStringSubmatch(c.password)[1]
			decoded, _ := url.PathUnescape(sig)
			for _, leak := range []string{sig, decoded, "83 104 97 114 101 100"} { // "Shared" as a text handler prints []byte
				if strings.Contains(got, leak) {
					t.Errorf("the logs hold %q:\n%s", leak, got)
				}
			}
			// Both paths were taken: the broker's complaint about the packet,
			// the emulator's refusal quoting the token as user name.
			for _, want := range []string{"error processing packet", "mqtt connect refused", "sig=***"} {
				if !strings.Contains(got, want) {
					t.Errorf("the logs lack %q:\n%s", want, got)
				}
			}
		})
	}
}
