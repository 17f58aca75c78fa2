// Package certtest mints X.509 certificates for tests and scenarios: a
// device's self-signed certificate, a certificate authority, and device
// certificates it signs, expired ones included. Everything is made with
// Go's crypto/x509 (ECDSA P-256), in memory, and is valid for an hour
// around the time it is made unless told otherwise: short enough that no
// minted certificate outlives the test that made it, and no openssl is
// needed.
//
// The emulator verifies certificates with its own code; this package only
// makes them, so a bug here cannot agree with itself on the hub's side.
package certtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Cert is a minted certificate with its private key.
type Cert struct {
	// Leaf is the certificate itself.
	Leaf *x509.Certificate
	key  *ecdsa.PrivateKey
	// chain are the DER certificates a client presents after the leaf:
	// the signing CA's for a certificate a CA signed, none otherwise.
	chain [][]byte
}

// Option changes how a certificate is minted.
type Option func(*x509.Certificate)

// ValidBetween sets the certificate's validity period.
func ValidBetween(notBefore, notAfter time.Time) Option {
	return func(t *x509.Certificate) { t.NotBefore, t.NotAfter = notBefore, notAfter }
}

// Expired makes a certificate whose validity ended an hour before now: far
// enough that no clock skew can make it valid again.
func Expired(now time.Time) Option {
	return ValidBetween(now.Add(-48*time.Hour), now.Add(-time.Hour))
}

// SelfSigned mints a device's self-signed certificate with the common name
// cn (IoT Hub's tutorials use the device id; thumbprint authentication does
// not look at it).
func SelfSigned(cn string, opts ...Option) (*Cert, error) {
	return mint(leafTemplate(cn), nil, opts)
}

// NewCA mints a self-signed certificate authority that can sign device
// certificates (Sign), and only those: its path length is zero.
func NewCA(cn string, opts ...Option) (*Cert, error) {
	t := template(cn)
	t.IsCA, t.BasicConstraintsValid, t.MaxPathLenZero = true, true, true
	t.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	return mint(t, nil, opts)
}

// Sign mints a device certificate with the common name cn, signed by ca:
// IoT Hub's CA authentication wants the device id as the common name, or
// {device id}/{module id} for a module.
func (ca *Cert) Sign(cn string, opts ...Option) (*Cert, error) {
	if !ca.Leaf.IsCA {
		return nil, fmt.Errorf("certtest: %q is not a certificate authority", ca.Leaf.Subject.CommonName)
	}
	return mint(leafTemplate(cn), ca, opts)
}

func template(cn string) *x509.Certificate {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)) // crypto/rand does not fail
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: n,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Hubspec test"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
	}
}

func leafTemplate(cn string) *x509.Certificate {
	t := template(cn)
	t.KeyUsage = x509.KeyUsageDigitalSignature
	t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	return t
}

func mint(t *x509.Certificate, parent *Cert, opts []Option) (*Cert, error) {
	for _, o := range opts {
		o(t)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certtest: generate key: %w", err)
	}
	signer, signerKey, chain := t, key, [][]byte(nil)
	if parent != nil {
		signer, signerKey, chain = parent.Leaf, parent.key, [][]byte{parent.Leaf.Raw}
	}
	der, err := x509.CreateCertificate(rand.Reader, t, signer, &key.PublicKey, signerKey)
	if err != nil {
		return nil, fmt.Errorf("certtest: create %q: %w", t.Subject.CommonName, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certtest: parse %q: %w", t.Subject.CommonName, err)
	}
	return &Cert{Leaf: leaf, key: key, chain: chain}, nil
}

// TLS is the certificate as a TLS client presents it: the leaf, then the
// signing CA's certificate when a CA signed it, and the private key.
func (c *Cert) TLS() tls.Certificate {
	return tls.Certificate{Certificate: append([][]byte{c.Leaf.Raw}, c.chain...), PrivateKey: c.key, Leaf: c.Leaf}
}

// Thumbprint is the SHA-1 thumbprint IoT Hub registers for selfSigned
// authentication: 40 upper-case hex digits of the hash of the DER
// certificate, as the portal and `openssl x509 -fingerprint` show it
// without colons.
func (c *Cert) Thumbprint() string {
	sum := sha1.Sum(c.Leaf.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// ThumbprintSHA256 is the SHA-256 thumbprint (64 hex digits), which IoT
// Hub also accepts.
func (c *Cert) ThumbprintSHA256() string {
	sum := sha256.Sum256(c.Leaf.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// CertPEM is the PEM of the certificate followed by its chain, as a
// client's certificate file holds it (mosquitto_pub --cert).
func (c *Cert) CertPEM() []byte {
	var out []byte
	for _, der := range append([][]byte{c.Leaf.Raw}, c.chain...) {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return out
}

// KeyPEM is the PEM of the private key (PKCS #8), as a client's key file
// holds it (mosquitto_pub --key).
func (c *Cert) KeyPEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		panic(fmt.Sprintf("certtest: marshal an ECDSA key: %v", err)) // cannot fail for a P-256 key
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
