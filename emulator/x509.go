package emulator

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/hubspec/hubspec/hub"
)

// X.509 authentication of devices and modules over MQTT (docs/fidelity.md,
// "X.509 authentication"). A client presents its certificate in the TLS
// handshake, which the MQTT listener asks for but does not verify (a
// self-signed device certificate chains to nothing); authenticateCertificate
// verifies it at CONNECT, against the identity the user name and client id
// name:
//
//   - selfSigned: the SHA-1 or SHA-256 thumbprint of the DER certificate is
//     the identity's primary or secondary thumbprint, and the certificate is
//     within its validity period (IoT Hub checks only these two for
//     thumbprint authentication: Azure/iotedge PR #621);
//   - certificateAuthority: the certificate chains, through the
//     intermediates the client sent, to a CA registered with the emulator
//     (Options.DeviceCAPEM, RegisterDeviceCA) at the emulator's clock, and
//     its common name is the device id, or {device id}/{module id} for a
//     module (Microsoft's "Authenticate identities with X.509 certificates").
//
// Proof of possession of the private key is the TLS handshake's own: Go's
// server checks the client's CertificateVerify signature whenever a
// certificate is sent.

// deviceCAs are the CA certificates registered with the emulator, which
// certificateAuthority identities' certificates must chain to. IoT Hub
// keeps them on the hub resource (verified by proof of possession in the
// portal or ARM), not in the device registry; here they are configuration
// and an emulator-only control, and are not persisted.
type deviceCAs struct {
	mu   sync.Mutex
	pool *x509.CertPool
	n    int
}

func newDeviceCAs() *deviceCAs { return &deviceCAs{pool: x509.NewCertPool()} }

// add registers every certificate of a PEM bundle, or none: a block that is
// not a certificate, or a certificate that is not a CA (basic constraints
// cA true), refuses the whole bundle with 400 ArgumentInvalid. It returns
// how many CAs are registered after it.
func (c *deviceCAs) add(pemBytes []byte) (int, error) {
	var certs []*x509.Certificate
	for rest := pemBytes; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			if strings.TrimSpace(string(rest)) != "" {
				return 0, hub.ErrArgumentInvalid.WithMessage("The CA certificate PEM has text that is not a PEM block.")
			}
			break
		}
		if b.Type != "CERTIFICATE" {
			return 0, hub.ErrArgumentInvalid.WithMessage("The CA certificate PEM has a %q block; only CERTIFICATE blocks are taken.", b.Type)
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return 0, hub.ErrArgumentInvalid.WithMessage("A CA certificate does not parse: %v", err)
		}
		if !cert.BasicConstraintsValid || !cert.IsCA {
			return 0, hub.ErrArgumentInvalid.WithMessage("Certificate %q is not a certificate authority (basic constraints cA is not true).", cert.Subject.CommonName)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return 0, hub.ErrArgumentInvalid.WithMessage("The CA certificate PEM holds no certificate.")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cert := range certs {
		c.pool.AddCert(cert)
	}
	c.n += len(certs)
	return c.n, nil
}

// roots is a copy of the registered CAs, to verify against without the lock.
func (c *deviceCAs) roots() *x509.CertPool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pool.Clone()
}

// RegisterDeviceCA registers the CA certificates of a PEM bundle, as
// Options.DeviceCAPEM does at start: certificateAuthority devices and
// modules whose certificates chain to one of them can then connect. A
// block that is not a CA certificate refuses the whole bundle with a
// *hub.Error 400 ArgumentInvalid. A CA cannot be unregistered: disable or
// delete the identities instead, as IoT Hub advises for a compromised
// certificate.
func (s *Server) RegisterDeviceCA(_ context.Context, pem []byte) error {
	_, err := s.cas.add(pem)
	return err
}

// peerCertificates are the certificates the client sent in the TLS
// handshake of conn, leaf first: none when it sent none, or when conn is
// not TLS (MQTT over WebSockets arrives through the HTTPS server, which
// asks for no certificate).
func peerCertificates(conn net.Conn) []*x509.Certificate {
	if tc, ok := conn.(*tls.Conn); ok {
		return tc.ConnectionState().PeerCertificates
	}
	return nil
}

// authenticateCertificate checks a client certificate chain (leaf first)
// for a device (moduleID "") or module. It returns nil, an error wrapping
// errIdentityDisabled (a valid certificate of a disabled device), or a
// *hub.Error 401 for everything else, including an unknown identity and a
// SAS identity, so CONNACK never reveals which ids exist or how they
// authenticate.
func (r *registry) authenticateCertificate(deviceID, moduleID string, chain []*x509.Certificate, cas *deviceCAs, now time.Time) error {
	name := identityName(deviceID, moduleID)
	creds, enabled, err := r.identityCredentials(deviceID, moduleID)
	if err != nil {
		return errUnauthorized("identity %s is not registered", name)
	}
	leaf := chain[0]
	switch creds.authType {
	case hub.AuthSelfSigned:
		if !thumbprintMatches(leaf, creds.primaryThumbprint, creds.secondaryThumbprint) {
			return errUnauthorized("certificate thumbprint %s is neither thumbprint of %s", sha1Hex(leaf), name)
		}
		if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
			return errUnauthorized("certificate of %s is valid from %s to %s, not at %s", name,
				leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
	case hub.AuthCertificateAuthority:
		if leaf.Subject.CommonName != name {
			return errUnauthorized("certificate common name %q is not %q", leaf.Subject.CommonName, name)
		}
		inter := x509.NewCertPool()
		for _, c := range chain[1:] {
			inter.AddCert(c)
		}
		_, err := leaf.Verify(x509.VerifyOptions{
			Roots: cas.roots(), Intermediates: inter, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err != nil {
			return errUnauthorized("certificate of %s does not chain to a registered CA: %v", name, err)
		}
	default:
		return errUnauthorized("identity %s authenticates with %s, not a certificate", name, creds.authType)
	}
	if !enabled {
		return fmt.Errorf("%w: %s", errIdentityDisabled, deviceID)
	}
	return nil
}

// thumbprintMatches compares the certificate's SHA-1 and SHA-256
// thumbprints with the registered ones, ignoring case: the registry keeps
// a thumbprint as the service sent it.
func thumbprintMatches(leaf *x509.Certificate, registered ...*string) bool {
	s256 := sha256.Sum256(leaf.Raw)
	for _, t := range registered {
		if t != nil && (strings.EqualFold(*t, sha1Hex(leaf)) || strings.EqualFold(*t, hex.EncodeToString(s256[:]))) {
			return true
		}
	}
	return false
}

func sha1Hex(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// identityCredentials returns a copy of a device's (moduleID "") or
// module's credentials; enabled=false for a disabled device and the
// modules of one; *hub.Error 404 when absent.
func (r *registry) identityCredentials(deviceID, moduleID string) (credentials, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, st, err := r.findIdentity(deviceID, moduleID)
	if err != nil {
		return credentials{}, false, err
	}
	return st.creds.clone(), d.status == hub.StatusEnabled, nil
}
