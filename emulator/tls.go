package emulator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// trust is the TLS identity of one emulator instance: the certificate it
// serves and the CA PEM a client must trust to reach it.
type trust struct {
	cert  tls.Certificate
	caPEM []byte
	pool  *x509.CertPool
}

// newTrust makes a fresh CA and a server certificate signed by it, valid for
// the host names and addresses given (and always localhost, 127.0.0.1 and
// ::1). Each emulator gets its own CA so tests never trust more than the one
// hub they started; SDKs that verify host names (Python checks them always)
// are satisfied by the SANs.
func newTrust(hosts []string, now time.Time) (*trust, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Hubspec IoT Hub emulator CA", Organization: []string{"Hubspec"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}

	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate server key: %w", err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hosts[0], Organization: []string{"Hubspec"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(825 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range append(hosts, "localhost", "127.0.0.1", "::1") {
		if ip := net.ParseIP(h); ip != nil {
			leafTmpl.IPAddresses = append(leafTmpl.IPAddresses, ip)
		} else {
			leafTmpl.DNSNames = append(leafTmpl.DNSNames, h)
		}
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create server certificate: %w", err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &trust{
		cert:  tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey},
		caPEM: caPEM,
		pool:  pool,
	}, nil
}

// suppliedTrust wraps a certificate the caller brought; caPEM is what clients
// should trust (the chain's last certificate when no CA is given).
func suppliedTrust(cert tls.Certificate, caPEM []byte) (*trust, error) {
	if len(cert.Certificate) == 0 {
		return nil, fmt.Errorf("tls certificate: empty chain")
	}
	if len(caPEM) == 0 {
		last := cert.Certificate[len(cert.Certificate)-1]
		caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: last})
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("tls CA: no certificate in PEM")
	}
	return &trust{cert: cert, caPEM: caPEM, pool: pool}, nil
}

// serverConfig is the listeners' TLS configuration. TLS 1.2 stays enabled
// because the Python device SDK speaks only TLS 1.2 (azure-iot-sdk-python
// mqtt_transport.py creates its context with ssl.PROTOCOL_TLSv1_2).
func (t *trust) serverConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{t.cert}, MinVersion: tls.VersionTLS12}
}

// mqttServerConfig is the MQTT listener's: serverConfig, and it asks the
// client for a certificate without verifying it, because a self-signed
// device certificate chains to no CA. The auth hook verifies it at
// CONNECT, against the identity the CONNECT names (x509.go); Go's server
// has already checked the client's proof of possession of its key. The
// HTTPS listener asks for none: no REST client needs one.
func (t *trust) mqttServerConfig() *tls.Config {
	cfg := t.serverConfig()
	cfg.ClientAuth = tls.RequestClientCert
	return cfg
}

// clientConfig trusts this emulator's CA and nothing else.
func (t *trust) clientConfig() *tls.Config {
	return &tls.Config{RootCAs: t.pool, MinVersion: tls.VersionTLS12}
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}
