package adversarial

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/service"
)

// opDeadline bounds one operation that should answer at once.
const opDeadline = 15 * time.Second

// sign builds a SharedAccessSignature by hand, so every field can be
// forged: sr and sig are percent-encoded, se goes as given, skn is added
// when not empty. The suite never uses package hub's signer for the tokens
// it attacks with.
func sign(resource, se, key, skn string) string {
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		panic(err)
	}
	sr := url.QueryEscape(resource)
	mac := hmac.New(sha256.New, raw)
	mac.Write([]byte(sr + "\n" + se))
	tok := "SharedAccessSignature sr=" + sr + "&sig=" + url.QueryEscape(base64.StdEncoding.EncodeToString(mac.Sum(nil))) + "&se=" + se
	if skn != "" {
		tok += "&skn=" + skn
	}
	return tok
}

func expiresIn(d time.Duration) string { return strconv.FormatInt(time.Now().Add(d).Unix(), 10) }

func randomKey() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func registry(t testing.TB, tg target) *service.RegistryClient {
	t.Helper()
	reg, err := service.NewRegistryClient(tg.PolicyCS("iothubowner"), service.WithTLSConfig(tg.TLS()), service.WithRetry(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// ident is a device or module with its primary key.
type ident struct {
	device, module, key string
}

// resource is the identity's SAS scope without the scheme.
func (id ident) resource(host string) string {
	if id.module == "" {
		return host + "/devices/" + id.device
	}
	return host + "/devices/" + id.device + "/modules/" + id.module
}

// clientID is the MQTT client identifier the hub expects.
func (id ident) clientID() string {
	if id.module == "" {
		return id.device
	}
	return id.device + "/" + id.module
}

// connectionString is the identity's connection string on tg.
func (id ident) connectionString(tg target) string {
	return hub.ConnectionString{HostName: tg.Host(), DeviceID: id.device, ModuleID: id.module, SharedAccessKey: id.key}.String()
}

// token is an hour-long token signed with the identity's own key.
func (id ident) token(host string) string {
	return sign(id.resource(host), expiresIn(time.Hour), id.key, "")
}

func newDevice(t testing.TB, tg target, deviceID string) ident {
	t.Helper()
	d, err := registry(t, tg).CreateDevice(ctxFor(t, opDeadline), &hub.Device{DeviceID: deviceID})
	if err != nil {
		t.Fatalf("create device %s: %v", deviceID, err)
	}
	return ident{device: deviceID, key: d.Authentication.SymmetricKey.PrimaryKey}
}

func newModule(t testing.TB, tg target, deviceID, moduleID string) ident {
	t.Helper()
	m, err := registry(t, tg).CreateModule(ctxFor(t, opDeadline), &hub.Module{DeviceID: deviceID, ModuleID: moduleID})
	if err != nil {
		t.Fatalf("create module %s/%s: %v", deviceID, moduleID, err)
	}
	return ident{device: deviceID, module: moduleID, key: m.Authentication.SymmetricKey.PrimaryKey}
}
