package harness

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"

	"github.com/hubspec/hubspec/hub"
)

// liveStandIn is an emulator playing a live hub: its CA in a PEM file, its
// MQTT and AMQP addresses and its built-in endpoint, as IOTHUB_CA_FILE,
// IOTHUB_MQTT_ADDRESS, IOTHUB_AMQP_ADDRESS and
// IOTHUB_EVENTHUB_CONNECTION_STRING give them.
func liveStandIn(t *testing.T) (*Embedded, Config) {
	t.Helper()
	emb := startEmbedded(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, emb.Server().CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return emb, Config{Target: "live", ConnectionString: emb.ServiceConnectionString(), CAFile: ca, MQTTAddress: emb.Server().MQTTAddr(),
		AMQPAddress: emb.Server().AMQPAddr(), EventHubConnectionString: emb.Server().EventHubConnectionString()}
}

// TestLiveTargetReachesTheHub: through Open, like every suite; the target
// creates and connects identities, and claims no emulator power.
func TestLiveTargetReachesTheHub(t *testing.T) {
	ctx := context.Background()
	_, c := liveStandIn(t)
	tg, err := Open(ctx, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	if tg.Name() != "live" || IsEmulator(tg) {
		t.Fatalf("target %s, emulator %v", tg.Name(), IsEmulator(tg))
	}
	if _, ok := tg.(ConnectionAwaiter); ok {
		t.Fatal("the live target claims an emulator-only power")
	}
	if _, ok := tg.(PolicyConnectionStrings); ok {
		t.Fatal("the live target claims every policy's connection string; it is given one")
	}
	reg, err := service.NewRegistryClient(tg.ServiceConnectionString(), tg.RegistryOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	_, err = reg.CreateModule(ctx, &hub.Module{DeviceID: "d", ModuleID: "m"})
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("module on a missing device: %v", err)
	}
	if _, err := reg.CreateDevice(ctx, &hub.Device{DeviceID: "d"}); err != nil {
		t.Fatal(err)
	}
	m, err := reg.CreateModule(ctx, &hub.Module{DeviceID: "d", ModuleID: "m"})
	if err != nil {
		t.Fatal(err)
	}
	svc, _ := hub.ParseConnectionString(tg.ServiceConnectionString())
	cs := hub.ConnectionString{HostName: svc.HostName, DeviceID: "d", ModuleID: "m", SharedAccessKey: m.Authentication.SymmetricKey.PrimaryKey}
	mc, err := device.DialModule(ctx, cs.String(), tg.DialOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	mc.Close()
}

// TestOpenLiveNamesWhatIsWrong: each mistake gets its own message, and no
// message contains the policy's key.
func TestOpenLiveNamesWhatIsWrong(t *testing.T) {
	emb, good := liveStandIn(t)
	key := func(cs string) string { c, _ := hub.ParseConnectionString(cs); return c.SharedAccessKey }
	policy := func(name string) string { cs, _ := emb.Server().PolicyConnectionString(name); return cs }
	noCert := filepath.Join(t.TempDir(), "key-only.pem")
	if err := os.WriteFile(noCert, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongKey, _ := hub.ParseConnectionString(good.ConnectionString)
	wrongKey.SharedAccessKey = "d3Jvbmcga2V5IG9mIHRoZSByaWdodCBzaGFwZSEhISE="
	with := func(f func(*Config)) Config { c := good; f(&c); return c }
	for _, tc := range []struct {
		name string
		c    Config
		want string
	}{
		{"no connection string", with(func(c *Config) { c.ConnectionString = "" }), "needs IOTHUB_CONNECTION_STRING"},
		{"not a connection string", with(func(c *Config) { c.ConnectionString = "HostName=h;SharedAccessKey=c2VjcmV0a2V5" }), "IOTHUB_CONNECTION_STRING: connection string"},
		{"device string", with(func(c *Config) { c.ConnectionString = "HostName=h.example;DeviceId=d;SharedAccessKey=c2VjcmV0a2V5" }), "device or module"},
		{"unreadable CA file", with(func(c *Config) { c.CAFile = filepath.Join(t.TempDir(), "missing.pem") }), "IOTHUB_CA_FILE"},
		{"CA file without a certificate", with(func(c *Config) { c.CAFile = noCert }), "holds no PEM certificate"},
		{"MQTT address without a port", with(func(c *Config) { c.MQTTAddress = "localhost" }), "IOTHUB_MQTT_ADDRESS"},
		{"AMQP address without a port", with(func(c *Config) { c.AMQPAddress = "localhost" }), "IOTHUB_AMQP_ADDRESS"},
		{"IoT Hub string as the built-in endpoint", with(func(c *Config) { c.EventHubConnectionString = c.ConnectionString }), "IOTHUB_EVENTHUB_CONNECTION_STRING: want"},
		{"untrusted certificate", with(func(c *Config) { c.CAFile = "" }), "set IOTHUB_CA_FILE"},
		{"wrong key", with(func(c *Config) { c.ConnectionString = wrongKey.String() }), `401 to policy "iothubowner": its key is wrong or it lacks registry read`},
		{"service policy", with(func(c *Config) { c.ConnectionString = policy("service") }), `401 to policy "service": its key is wrong or it lacks registry read`},
		{"read-only policy", with(func(c *Config) { c.ConnectionString = policy("registryRead") }), `policy "registryRead" lacks registry write`},
		{"registry policy", with(func(c *Config) { c.ConnectionString = policy("registryReadWrite") }), `policy "registryReadWrite" lacks service connect`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg, err := OpenLive(context.Background(), tc.c)
			if err == nil {
				tg.Close()
				t.Fatal("OpenLive succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q lacks %q", err, tc.want)
			}
			if k := key(tc.c.ConnectionString); k != "" && strings.Contains(err.Error(), k) {
				t.Fatalf("error %q shows the key", err)
			}
		})
	}
}

// TestLiveTargetRidesOutThrottling: a hub that answers 429 more often than
// the registry client's default retries allow is still answered.
func TestLiveTargetRidesOutThrottling(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 5 {
			w.Header().Set("Retry-After", "0")
			w.Header().Set("iothub-errorcode", "ThrottlingException")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Write([]byte(`{"deviceId":"d"}`))
	}))
	t.Cleanup(srv.Close)
	cs, err := hub.ParseConnectionString("HostName=" + srv.Listener.Addr().String() + ";SharedAccessKeyName=iothubowner;SharedAccessKey=c2VjcmV0a2V5")
	if err != nil {
		t.Fatal(err)
	}
	l := &live{cs: cs, tls: srv.Client().Transport.(*http.Transport).TLSClientConfig}
	reg, err := service.NewRegistryClient(cs.String(), l.RegistryOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.GetDevice(context.Background(), "d"); err != nil || calls.Load() != 6 {
		t.Fatalf("after %d calls: %v", calls.Load(), err)
	}
}

func TestMQTTAddress(t *testing.T) {
	svc := func(extra string) hub.ConnectionString {
		cs, err := hub.ParseConnectionString("HostName=h.azure-devices.net;SharedAccessKeyName=p;SharedAccessKey=c2VjcmV0a2V5" + extra)
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	for _, tc := range []struct{ configured, extra, want string }{
		{"", "", ""},
		{"127.0.0.1:18883", "", "127.0.0.1:18883"},
		{"", ";GatewayHostName=gw.local", "gw.local:8883"},
		{"", ";GatewayHostName=gw.local:9883", "gw.local:9883"},
		{"127.0.0.1:18883", ";GatewayHostName=gw.local", "127.0.0.1:18883"},
	} {
		if got, err := mqttAddress(tc.configured, svc(tc.extra)); err != nil || got != tc.want {
			t.Errorf("mqttAddress(%q, %q) = %q, %v; want %q", tc.configured, tc.extra, got, err, tc.want)
		}
	}
	for _, bad := range []string{"host", "host:", "host:0", "host:70000", ":x"} {
		if _, err := mqttAddress(bad, svc("")); err == nil {
			t.Errorf("mqttAddress(%q) accepted", bad)
		}
	}
}
