package certtest

import (
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

// TestCertificates: what the minted certificates are, checked with the
// standard library alone.
func TestCertificates(t *testing.T) {
	self, err := SelfSigned("d")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(self.Leaf.Raw)
	if want := strings.ToUpper(hex.EncodeToString(sum[:])); self.Thumbprint() != want || len(self.ThumbprintSHA256()) != 64 {
		t.Fatalf("thumbprints %s, %s; want SHA-1 %s and 64 hex digits", self.Thumbprint(), self.ThumbprintSHA256(), want)
	}
	if _, err := tls.X509KeyPair(self.CertPEM(), self.KeyPEM()); err != nil {
		t.Fatalf("the PEM files do not make a key pair: %v", err)
	}
	if _, err := self.Sign("x"); err == nil {
		t.Fatal("a leaf signed a certificate")
	}

	ca, err := NewCA("ca")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Sign("d/m")
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Leaf)
	verify := func(c *Cert, at time.Time) error {
		_, err := c.Leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		return err
	}
	if err := verify(leaf, time.Now()); err != nil || leaf.Leaf.Subject.CommonName != "d/m" {
		t.Fatalf("a CA-signed certificate: %v, CN %q", err, leaf.Leaf.Subject.CommonName)
	}
	if got := len(leaf.TLS().Certificate); got != 2 {
		t.Fatalf("the TLS chain has %d certificates, want the leaf and its CA", got)
	}
	if err := verify(leaf, time.Now().Add(2*time.Hour)); err == nil {
		t.Fatal("a minted certificate is valid two hours on")
	}
	old, err := ca.Sign("d", Expired(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(old, time.Now()); err == nil {
		t.Fatal("an expired certificate verifies")
	}
}
