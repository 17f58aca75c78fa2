package emulator_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"
	"github.com/hubspec/hubspec/internal/certtest"
	"github.com/hubspec/hubspec/internal/mqtttest"
)

// x509Hub is an emulator with a registered CA, and what the X.509 tests
// need of it.
type x509Hub struct {
	s   *emulator.Server
	reg *service.RegistryClient
	ca  *certtest.Cert
}

func startX509Hub(t testing.TB, now func() time.Time) *x509Hub {
	t.Helper()
	// The CA is valid for a day each way, so that only the device
	// certificates' validity matters on a clock that is off.
	ca := mint(t)(certtest.NewCA("Hubspec test CA", certtest.ValidBetween(time.Now().Add(-24*time.Hour), time.Now().Add(24*time.Hour))))
	s, reg := startHubWith(t, emulator.Options{DeviceCAPEM: ca.CertPEM(), Now: now})
	return &x509Hub{s: s, reg: reg, ca: ca}
}

// mint fails the test when minting fails.
func mint(t testing.TB) func(*certtest.Cert, error) *certtest.Cert {
	return func(c *certtest.Cert, err error) *certtest.Cert {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

func selfSignedAuth(primary string, secondary ...string) *hub.Authentication {
	th := &hub.X509Thumbprint{PrimaryThumbprint: &primary}
	if len(secondary) > 0 {
		th.SecondaryThumbprint = &secondary[0]
	}
	return &hub.Authentication{Type: hub.AuthSelfSigned, X509Thumbprint: th}
}

var caAuth = &hub.Authentication{Type: hub.AuthCertificateAuthority}

// create registers a device, and a module on it when moduleID is set,
// with auth for the last of them (the device is a SAS one under a module).
func (h *x509Hub) create(t testing.TB, deviceID, moduleID string, auth *hub.Authentication) {
	t.Helper()
	ctx := context.Background()
	devAuth := auth
	if moduleID != "" {
		devAuth = nil
	}
	if _, err := h.reg.CreateDevice(ctx, &hub.Device{DeviceID: deviceID, Authentication: devAuth}); err != nil {
		t.Fatal(err)
	}
	if moduleID != "" {
		if _, err := h.reg.CreateModule(ctx, &hub.Module{DeviceID: deviceID, ModuleID: moduleID, Authentication: auth}); err != nil {
			t.Fatal(err)
		}
	}
}

// connect connects the identity with cert (and opts) and reports the
// CONNACK refusal code, 0 when the hub accepted.
func (h *x509Hub) connect(t testing.TB, deviceID, moduleID string, cert *certtest.Cert, opts ...device.Option) byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs := hub.ConnectionString{HostName: h.s.HostName(), DeviceID: deviceID, ModuleID: moduleID, X509: true}
	opts = append([]device.Option{device.WithTLSConfig(h.s.TLSConfig()), device.WithAddress(h.s.MQTTAddr())}, opts...)
	if cert != nil {
		opts = append(opts, device.WithClientCertificate(cert.TLS()))
	}
	pc, err := mqtttest.DialRaw(ctx, cs.String(), nil, opts...)
	var refused *device.ConnectRefusedError
	switch {
	case err == nil:
		pc.Disconnect(0)
		return 0
	case errors.As(err, &refused):
		return refused.Code
	}
	t.Fatalf("connect %s/%s: %v", deviceID, moduleID, err)
	return 0
}

func TestX509SelfSigned(t *testing.T) {
	h := startX509Hub(t, nil)
	primary := mint(t)(certtest.SelfSigned("d"))
	secondary := mint(t)(certtest.SelfSigned("d"))
	h.create(t, "d", "", selfSignedAuth(primary.Thumbprint(), strings.ToLower(secondary.ThumbprintSHA256())))
	expired := mint(t)(certtest.SelfSigned("old", certtest.Expired(time.Now())))
	h.create(t, "old", "", selfSignedAuth(expired.Thumbprint()))
	modCert := mint(t)(certtest.SelfSigned("anything"))
	h.create(t, "dm", "m", selfSignedAuth(modCert.ThumbprintSHA256()))
	other := mint(t)(certtest.SelfSigned("d"))
	caSigned := mint(t)(h.ca.Sign("d"))

	for _, tc := range []struct {
		name     string
		dev, mod string
		cert     *certtest.Cert
		want     byte
	}{
		{"primary SHA-1 thumbprint", "d", "", primary, 0},
		{"secondary SHA-256 thumbprint, lower case", "d", "", secondary, 0},
		{"module", "dm", "m", modCert, 0},
		{"a certificate that is not registered", "d", "", other, 5},
		{"a CA-signed certificate for a selfSigned identity", "d", "", caSigned, 5},
		{"the certificate of another identity", "dm", "m", primary, 5},
		{"the device of an X.509 module", "dm", "", modCert, 5},
		{"an expired certificate with a registered thumbprint", "old", "", expired, 5},
		{"an unknown identity", "nobody", "", primary, 5},
		{"no certificate and no password", "d", "", nil, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := h.connect(t, tc.dev, tc.mod, tc.cert); got != tc.want {
				t.Errorf("CONNACK %d, want %d", got, tc.want)
			}
		})
	}
}

func TestX509CertificateAuthority(t *testing.T) {
	h := startX509Hub(t, nil)
	h.create(t, "d", "", caAuth)
	h.create(t, "dm", "m", caAuth)
	foreignCA := mint(t)(certtest.NewCA("not registered"))
	for _, tc := range []struct {
		name     string
		dev, mod string
		cert     *certtest.Cert
		want     byte
	}{
		{"signed by the registered CA", "d", "", mint(t)(h.ca.Sign("d")), 0},
		{"module, CN device/module", "dm", "m", mint(t)(h.ca.Sign("dm/m")), 0},
		{"module with the device's CN", "dm", "m", mint(t)(h.ca.Sign("dm")), 5},
		{"another device's CN", "d", "", mint(t)(h.ca.Sign("e")), 5},
		{"signed by a CA that is not registered", "d", "", mint(t)(foreignCA.Sign("d")), 5},
		{"expired", "d", "", mint(t)(h.ca.Sign("d", certtest.Expired(time.Now()))), 5},
		{"self-signed with the right CN", "d", "", mint(t)(certtest.SelfSigned("d")), 5},
		{"the CA's own certificate", "d", "", h.ca, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := h.connect(t, tc.dev, tc.mod, tc.cert); got != tc.want {
				t.Errorf("CONNACK %d, want %d", got, tc.want)
			}
		})
	}
}

// TestX509SASAndCertificateDoNotMix: a SAS identity cannot connect with a
// certificate, nor an X.509 identity with a token.
func TestX509SASAndCertificateDoNotMix(t *testing.T) {
	h := startX509Hub(t, nil)
	ctx := context.Background()
	sas, err := h.reg.CreateDevice(ctx, &hub.Device{DeviceID: "sas"})
	if err != nil {
		t.Fatal(err)
	}
	cert := mint(t)(certtest.SelfSigned("x"))
	h.create(t, "x", "", selfSignedAuth(cert.Thumbprint()))
	if got := h.connect(t, "sas", "", mint(t)(h.ca.Sign("sas"))); got != 5 {
		t.Errorf("SAS device with a CA-signed certificate: CONNACK %d, want 5", got)
	}
	// A token signed with the SAS device's key, for the X.509 device: the
	// password decides, and the X.509 device has no key to verify it with.
	token, err := hub.BuildSASToken(h.s.HostName()+"/devices/x", sas.Authentication.SymmetricKey.PrimaryKey, "", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got := h.connect(t, "x", "", cert, mqtttest.WithSASToken(token)); got != 5 {
		t.Errorf("X.509 device with its certificate and a SAS token: CONNACK %d, want 5", got)
	}
	if got := h.connect(t, "x", "", nil, mqtttest.WithSASToken(token)); got != 5 {
		t.Errorf("X.509 device with a SAS token only: CONNACK %d, want 5", got)
	}
}

// TestX509ValidityOnTheEmulatorsClock: validity is judged at Options.Now,
// not the machine's time.
func TestX509ValidityOnTheEmulatorsClock(t *testing.T) {
	// The emulator lives three hours in the past (its own server
	// certificate is made on its clock, so it cannot be the future).
	h := startX509Hub(t, func() time.Time { return time.Now().Add(-3 * time.Hour) })
	cert := mint(t)(certtest.SelfSigned("d")) // valid for an hour around now
	h.create(t, "d", "", selfSignedAuth(cert.Thumbprint()))
	h.create(t, "c", "", caAuth)
	if got := h.connect(t, "d", "", cert); got != 5 {
		t.Errorf("self-signed certificate not yet valid on the emulator's clock: CONNACK %d, want 5", got)
	}
	if got := h.connect(t, "c", "", mint(t)(h.ca.Sign("c"))); got != 5 {
		t.Errorf("CA-signed certificate not yet valid on the emulator's clock: CONNACK %d, want 5", got)
	}
	past := certtest.ValidBetween(time.Now().Add(-4*time.Hour), time.Now().Add(-2*time.Hour))
	old := mint(t)(certtest.SelfSigned("old", past))
	h.create(t, "old", "", selfSignedAuth(old.Thumbprint()))
	if got := h.connect(t, "old", "", old); got != 0 {
		t.Errorf("self-signed certificate valid on the emulator's clock: CONNACK %d, want 0", got)
	}
	if got := h.connect(t, "c", "", mint(t)(h.ca.Sign("c", past))); got != 0 {
		t.Errorf("CA-signed certificate valid on the emulator's clock: CONNACK %d, want 0", got)
	}
}

func TestX509DisabledDevice(t *testing.T) {
	h := startX509Hub(t, nil)
	cert := mint(t)(certtest.SelfSigned("d"))
	h.create(t, "d", "", selfSignedAuth(cert.Thumbprint()))
	ctx := context.Background()
	d, err := h.reg.GetDevice(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	d.Status = hub.StatusDisabled
	if _, err := h.reg.UpdateDevice(ctx, d, "*"); err != nil {
		t.Fatal(err)
	}
	if got := h.connect(t, "d", "", cert); got != 3 {
		t.Errorf("disabled device with its certificate: CONNACK %d, want 3", got)
	}
	if got := h.connect(t, "d", "", mint(t)(certtest.SelfSigned("d"))); got != 5 {
		t.Errorf("disabled device with a wrong certificate: CONNACK %d, want 5 (no hint that the device exists)", got)
	}
}

// TestX509TwinOverCertificate: a device authenticated by certificate
// speaks the twin protocol like any other, with hub/device's client.
func TestX509TwinOverCertificate(t *testing.T) {
	h := startX509Hub(t, nil)
	h.create(t, "dm", "m", caAuth)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs := hub.ConnectionString{HostName: h.s.HostName(), DeviceID: "dm", ModuleID: "m", X509: true}.String()
	if _, err := device.DialModule(ctx, cs, device.WithTLSConfig(h.s.TLSConfig()), device.WithAddress(h.s.MQTTAddr())); err == nil {
		t.Fatal("x509=true without a certificate dialled")
	}
	c, err := device.DialModule(ctx, cs, device.WithTLSConfig(h.s.TLSConfig()), device.WithAddress(h.s.MQTTAddr()),
		device.WithClientCertificate(mint(t)(h.ca.Sign("dm/m")).TLS()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, err := c.UpdateReported(ctx, map[string]any{"mode": "x509"})
	if err != nil || v != 2 {
		t.Fatalf("report over a certificate connection: version %d, %v", v, err)
	}
}

func TestRegisterDeviceCA(t *testing.T) {
	h := startX509Hub(t, nil)
	h.create(t, "d", "", caAuth)
	late := mint(t)(certtest.NewCA("registered later"))
	cert := mint(t)(late.Sign("d"))
	if got := h.connect(t, "d", "", cert); got != 5 {
		t.Fatalf("before the CA is registered: CONNACK %d, want 5", got)
	}
	ctx := context.Background()
	for _, bad := range []string{"", "not pem", string(mint(t)(certtest.SelfSigned("leaf")).CertPEM()),
		string(late.CertPEM()) + string(mint(t)(certtest.SelfSigned("leaf")).KeyPEM())} {
		err := h.s.RegisterDeviceCA(ctx, []byte(bad))
		if e, ok := hub.AsError(err); !ok || e.Name != "ArgumentInvalid" {
			t.Errorf("RegisterDeviceCA(%.20q) = %v, want 400 ArgumentInvalid", bad, err)
		}
	}
	if got := h.connect(t, "d", "", cert); got != 5 {
		t.Fatalf("after refused registrations: CONNACK %d, want 5", got)
	}
	if err := h.s.RegisterDeviceCA(ctx, late.CertPEM()); err != nil {
		t.Fatal(err)
	}
	if got := h.connect(t, "d", "", cert); got != 0 {
		t.Errorf("after RegisterDeviceCA: CONNACK %d, want 0", got)
	}
	if got := h.connect(t, "d", "", mint(t)(h.ca.Sign("d"))); got != 0 {
		t.Errorf("the CA registered at start: CONNACK %d, want 0", got)
	}
}

func TestStartRefusesADeviceCAThatIsNoCA(t *testing.T) {
	leaf := mint(t)(certtest.SelfSigned("leaf"))
	s, err := emulator.Start(context.Background(), emulator.Options{DeviceCAPEM: leaf.CertPEM()})
	if err == nil {
		s.Close()
		t.Fatal("Start took a device CA that is not a CA")
	}
}
