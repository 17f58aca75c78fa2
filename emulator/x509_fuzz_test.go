package emulator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// FuzzDeviceCAs: whatever a control request carries, registering CAs
// never panics and is all or nothing: a refused bundle registers none.
func FuzzDeviceCAs(f *testing.F) {
	ca := testCAPEM(f)
	f.Add(ca)
	f.Add(append(append([]byte{}, ca...), ca...))
	f.Add(append(append([]byte{}, ca...), []byte("-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n")...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("not pem"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := newDeviceCAs()
		n, err := c.add(b)
		switch {
		case err != nil && (n != 0 || c.n != 0):
			t.Fatalf("a refused bundle registered %d (%d)", c.n, n)
		case err == nil && (n == 0 || n != c.n):
			t.Fatalf("an accepted bundle registered %d, answered %d", c.n, n)
		}
	})
}

func testCAPEM(tb testing.TB) []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fuzz CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
