package emulator

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"
)

// TestStartWithSuppliedCertificateAndFixedPorts: the options a binary or a
// container needs: a certificate of its own, a host name, fixed ports.
func TestStartWithSuppliedCertificateAndFixedPorts(t *testing.T) {
	tr, err := newTrust([]string{"hub.example.test"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	httpsAddr, mqttAddr := freeAddr(t), freeAddr(t)
	s, err := Start(context.Background(), Options{
		HostName:    "hub.example.test",
		HTTPSAddr:   httpsAddr,
		MQTTAddr:    mqttAddr,
		Certificate: &tr.cert,
		CACertPEM:   tr.caPEM,
		PolicyKeys: map[string]string{"iothubowner": "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=",
			"registryRead": "cmVnaXN0cnlSZWFkIGtleQ=="},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	if s.HTTPSAddr() != httpsAddr || s.MQTTAddr() != mqttAddr {
		t.Fatalf("listening on %s and %s, want %s and %s", s.HTTPSAddr(), s.MQTTAddr(), httpsAddr, mqttAddr)
	}
	_, port, _ := net.SplitHostPort(httpsAddr)
	want := "HostName=hub.example.test:" + port + ";SharedAccessKeyName=iothubowner;SharedAccessKey=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
	if got := s.ConnectionString(); got != want {
		t.Fatalf("ConnectionString() = %q, want %q", got, want)
	}
	if got, _ := s.PolicyConnectionString("registryRead"); got != "HostName=hub.example.test:"+port+";SharedAccessKeyName=registryRead;SharedAccessKey=cmVnaXN0cnlSZWFkIGtleQ==" {
		t.Fatalf("registryRead's connection string %q does not carry the key given", got)
	}
	if !bytes.Equal(s.CACertPEM(), tr.caPEM) {
		t.Fatal("CACertPEM is not the supplied CA")
	}
	for _, addr := range []string{httpsAddr, mqttAddr} {
		cfg := s.TLSConfig()
		cfg.ServerName = "hub.example.test"
		conn, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			t.Fatalf("TLS to %s with the supplied certificate: %v", addr, err)
		}
		if !bytes.Equal(conn.ConnectionState().PeerCertificates[0].Raw, tr.cert.Certificate[0]) {
			t.Fatalf("%s serves another certificate", addr)
		}
		conn.Close()
	}
	for _, name := range []string{"service", "device", "registryRead", "registryReadWrite"} {
		cs, err := s.PolicyConnectionString(name)
		if err != nil || !strings.Contains(cs, "SharedAccessKeyName="+name+";") {
			t.Fatalf("PolicyConnectionString(%q) = %q, %v", name, cs, err)
		}
	}
	if _, err := s.PolicyConnectionString("nope"); err == nil {
		t.Fatal("unknown policy accepted")
	}
}

// TestCloseReleasesEverything: after Close both ports can be bound again
// and the server answers nothing.
func TestCloseReleasesEverything(t *testing.T) {
	s, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	addrs := []string{s.HTTPSAddr(), s.MQTTAddr()}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("%s still taken after Close: %v", a, err)
		}
		l.Close()
	}
}

func TestStartRejectsBadOptions(t *testing.T) {
	for _, keys := range []map[string]string{
		{"iothubowner": "not base64!"},
		{"service": ""},
		{"registryread": "AQID"}, // policy names are case-sensitive
	} {
		if _, err := Start(context.Background(), Options{PolicyKeys: keys}); err == nil {
			t.Fatalf("policy keys %v accepted", keys)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Start(ctx, Options{}); err == nil {
		t.Fatal("started with a cancelled context")
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestCloseDoesNotWaitForSilentHTTPSConnections: a client that opened a
// TLS connection to the REST port and sent nothing must not hold Close up
// (net/http would wait up to 5 s for it).
func TestCloseDoesNotWaitForSilentHTTPSConnections(t *testing.T) {
	s, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", s.HTTPSAddr(), s.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close waited for a connection that never sent a request")
	}
}
