package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hubspec/hubspec/steps/internal/vocab"

	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/internal/certtest"
)

// x509Vocabulary register devices and modules that authenticate with X.509
// certificates and connect them over MQTT over TLS with a certificate and
// no password. The certificates are minted for the scenario
// (internal/certtest), valid for an hour. A certificate authority is the
// scenario's own too; only an emulator can be made to trust one
// (harness.DeviceCARegistrar), so steps that need a trusted CA skip
// elsewhere.
var x509Vocabulary = []vocab.Def{
	step(x509, `^the hub trusts certificate authority "([^"]+)"$`, trustCA,
		"The scenario makes a certificate authority and registers it with the hub, as a verified CA; only an emulator can be made to (a live hub registers CAs through Azure Resource Manager), so elsewhere the scenario is skipped."),
	step(x509, `^certificate authority "([^"]+)" exists but the hub does not trust it$`, untrustedCA,
		"The scenario makes a certificate authority that it does not register with the hub."),
	step(x509, `^the service creates (device|module) "([^"]+)"(?: on device "([^"]+)")? with (a self-signed certificate|two self-signed certificates|an expired self-signed certificate|a malformed thumbprint|certificate authority authentication)$`, createX509Identity,
		"The service creates an identity that authenticates with X.509: selfSigned with the SHA-1 thumbprint of a certificate made for it (two: the second by its SHA-256 thumbprint; expired: one whose validity ended an hour ago), or certificateAuthority; a refusal is left for the next step to check.",
		"", "", onDeviceDoc),
	step(x509, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) is registered with (the thumbprint of its self-signed certificate|the thumbprints of its two self-signed certificates|certificate authority authentication)$`, registeredWith,
		"Reads the identity until the hub shows the authentication it was created with."),
	step(x509, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) (connects|is connected) with (its self-signed certificate|its second self-signed certificate|a self-signed certificate that is not registered|a certificate|an expired certificate|a certificate for another identity)(?: signed by certificate authority "([^"]+)")?$`, connectX509,
		"The device or module connects over MQTT over TLS with a certificate and no password: \"connects\" tries once and leaves a refusal for the next step to check, \"is connected\" waits until the hub accepts. A certificate signed by a CA names the identity in its common name (the device id, or {device id}/{module id}), or another identity's.",
		"", "", "", "", "<alias> the certificate authority that signs it; say it for the last three choices, and only for those"),
}

// certWithCA are the certificate phrases that need a signing CA.
var certWithCA = map[string]bool{"a certificate": true, "an expired certificate": true, "a certificate for another identity": true}

// trustCA makes a CA and registers it with the hub, or skips the
// scenario on a target that cannot register one.
func trustCA(ctx context.Context, alias string) error {
	w := worldFrom(ctx)
	registrar, ok := w.target.(harness.DeviceCARegistrar)
	if !ok {
		return skipWithout(ctx, w.target, "register a certificate authority")
	}
	ca, err := w.newCA(alias)
	if err != nil {
		return err
	}
	return registrar.RegisterDeviceCA(ctx, ca.CertPEM())
}

// untrustedCA makes a CA the hub never hears of.
func untrustedCA(ctx context.Context, alias string) error {
	_, err := worldFrom(ctx).newCA(alias)
	return err
}

func (w *world) newCA(alias string) (*certtest.Cert, error) {
	if w.cas[alias] != nil {
		return nil, fmt.Errorf("certificate authority %q: the scenario has already made it", alias)
	}
	ca, err := certtest.NewCA("Hubspec scenario CA " + w.sc.Name(alias))
	if err != nil {
		return nil, err
	}
	w.cas[alias] = ca
	return ca, nil
}

// createX509Identity creates a device, or a module on a device, that
// authenticates with X.509 (see x509Auth). A refusal is recorded for
// "the hub refuses with ...".
func createX509Identity(ctx context.Context, kind, alias, deviceAlias, what string) error {
	if err := onDeviceFor(kind, deviceAlias); err != nil {
		return err
	}
	w := worldFrom(ctx)
	s := w.state(ident{kind, alias, deviceAlias})
	auth, err := s.x509Auth(w, what)
	if err != nil {
		return err
	}
	if kind == "device" {
		d, err := w.registry.CreateDevice(ctx, &hub.Device{DeviceID: w.sc.Name(alias), Authentication: auth})
		if err != nil {
			return w.refused(err)
		}
		s.wasCreated(d, nil)
		return nil
	}
	m, err := w.createModuleOn(ctx, deviceAlias, w.sc.Name(alias), auth)
	if err != nil {
		return w.refused(err)
	}
	s.wasCreated(nil, m)
	return nil
}

// registeredWith reads the identity until its authentication is the one
// the phrase names.
func registeredWith(ctx context.Context, kind, alias, what string) error {
	w, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	return w.pollIdentity(ctx, s.ident, func(view) error { return s.authIs(what) })
}

// x509Connect is the captures of connectX509.
type x509Connect struct{ Kind, Alias, Verb, Cert, CA string }

// connectX509 connects the identity with the certificate named and no
// password: once ("connects"), recording a refusal, or until the hub
// accepts ("is connected", as a live hub may refuse an identity created a
// moment ago); the connection is kept.
func connectX509(ctx context.Context, c x509Connect) error {
	w, s, err := identityIn(ctx, c.Kind, c.Alias)
	if err != nil {
		return err
	}
	cert, err := w.clientCertificate(s, c.Cert, c.CA)
	if err != nil {
		return err
	}
	d, m, err := w.ids(s.ident)
	if err != nil {
		return err
	}
	svc, err := hub.ParseConnectionString(w.target.ServiceConnectionString())
	if err != nil {
		return err
	}
	cs := hub.ConnectionString{HostName: svc.HostName, DeviceID: d, ModuleID: m, X509: true}.String()
	withCert := device.WithClientCertificate(cert.TLS())
	var conn *device.Client
	if c.Verb == "is connected" {
		conn, err = w.dialRetryingWith(ctx, s.ident, cs, withCert)
	} else {
		dctx, cancel := context.WithTimeout(ctx, waitFor)
		defer cancel()
		if conn, err = w.dial(dctx, s.ident, cs, withCert); err != nil {
			w.lastRefusal = err
			return nil
		}
	}
	if err != nil {
		return err
	}
	s.keep(conn)
	return nil
}

// x509Auth is the authentication a create sends for the phrase, minting
// the identity's certificates (kept in s.certs) on the way. A certificate
// names the identity in its common name, as IoT Hub's tutorials make them
// (thumbprint authentication does not look at it).
func (s *identityState) x509Auth(w *world, what string) (*hub.Authentication, error) {
	if what == "certificate authority authentication" {
		return &hub.Authentication{Type: hub.AuthCertificateAuthority}, nil
	}
	if what == "a malformed thumbprint" {
		bad := "not-a-thumbprint"
		return &hub.Authentication{Type: hub.AuthSelfSigned, X509Thumbprint: &hub.X509Thumbprint{PrimaryThumbprint: &bad}}, nil
	}
	cn, err := w.commonName(s.ident)
	if err != nil {
		return nil, err
	}
	var opts []certtest.Option
	if what == "an expired self-signed certificate" {
		opts = append(opts, certtest.Expired(time.Now()))
	}
	n := 1
	if what == "two self-signed certificates" {
		n = 2
	}
	s.certs = nil
	for range n {
		c, err := certtest.SelfSigned(cn, opts...)
		if err != nil {
			return nil, err
		}
		s.certs = append(s.certs, c)
	}
	primary := s.certs[0].Thumbprint()
	th := &hub.X509Thumbprint{PrimaryThumbprint: &primary}
	if n == 2 {
		secondary := s.certs[1].ThumbprintSHA256()
		th.SecondaryThumbprint = &secondary
	}
	return &hub.Authentication{Type: hub.AuthSelfSigned, X509Thumbprint: th}, nil
}

// authIs checks the identity's authentication, as the hub last answered
// it, against the phrase of registeredWith.
func (s *identityState) authIs(what string) error {
	var a *hub.Authentication
	if s.device != nil && s.kind == "device" {
		a = s.device.Authentication
	} else if s.module != nil {
		a = s.module.Authentication
	}
	if a == nil {
		return fmt.Errorf("%s has no authentication", s.ident)
	}
	if what == "certificate authority authentication" {
		return errorIf(a.Type != hub.AuthCertificateAuthority, "%s authenticates with %q, want %q", s.ident, a.Type, hub.AuthCertificateAuthority)
	}
	want := []string{s.certThumbprint(0, false), ""}
	if what == "the thumbprints of its two self-signed certificates" {
		want[1] = s.certThumbprint(1, true)
	}
	var got [2]string
	if t := a.X509Thumbprint; t != nil {
		got = [2]string{deref(t.PrimaryThumbprint), deref(t.SecondaryThumbprint)}
	}
	return errorIf(a.Type != hub.AuthSelfSigned || !strings.EqualFold(got[0], want[0]) || !strings.EqualFold(got[1], want[1]),
		"%s authenticates with %q, thumbprints %q; want %q, thumbprints %q", s.ident, a.Type, got, hub.AuthSelfSigned, want)
}

// certThumbprint is the thumbprint of one of the identity's certificates,
// or "" when it has no such certificate.
func (s *identityState) certThumbprint(i int, sha256 bool) string {
	switch {
	case i >= len(s.certs):
		return ""
	case sha256:
		return s.certs[i].ThumbprintSHA256()
	}
	return s.certs[i].Thumbprint()
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// clientCertificate is the certificate a connect phrase names: one of the
// identity's own, a new self-signed one, or one the CA alias signs for the
// identity (expired, or naming another identity, on request).
func (w *world) clientCertificate(s *identityState, phrase, caAlias string) (*certtest.Cert, error) {
	if certWithCA[phrase] != (caAlias != "") {
		return nil, errors.New(`say "signed by certificate authority" for a certificate, an expired certificate or a certificate for another identity, and only for those`)
	}
	cn, err := w.commonName(s.ident)
	if err != nil {
		return nil, err
	}
	switch phrase {
	case "its self-signed certificate", "its second self-signed certificate":
		i := 0
		if phrase == "its second self-signed certificate" {
			i = 1
		}
		if i >= len(s.certs) {
			return nil, fmt.Errorf("%s has no %s: create it with self-signed certificates", s.ident, strings.TrimPrefix(phrase, "its "))
		}
		return s.certs[i], nil
	case "a self-signed certificate that is not registered":
		return certtest.SelfSigned(cn)
	}
	ca := w.cas[caAlias]
	if ca == nil {
		return nil, fmt.Errorf("certificate authority %q: the scenario has not made it (trust it, or make it untrusted, first)", caAlias)
	}
	switch phrase {
	case "an expired certificate":
		return ca.Sign(cn, certtest.Expired(time.Now()))
	case "a certificate for another identity":
		return ca.Sign(cn + "-other")
	}
	return ca.Sign(cn)
}

// commonName is the common name IoT Hub wants in a CA-signed certificate
// of the identity: its device id, or {device id}/{module id} for a module
// (Microsoft's "Authenticate identities with X.509 certificates").
func (w *world) commonName(i ident) (string, error) {
	d, m, err := w.ids(i)
	if err != nil || m == "" {
		return d, err
	}
	return d + "/" + m, nil
}
