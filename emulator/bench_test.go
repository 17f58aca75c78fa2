package emulator_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/internal/certtest"
	"github.com/hubspec/hubspec/internal/mqtttest"
)

// storage runs a benchmark on an emulator in memory and on one with a data
// dir, where every write is committed to disk before it is answered.
func storage(b *testing.B, fn func(b *testing.B, opts emulator.Options)) {
	b.Run("memory", func(b *testing.B) { fn(b, emulator.Options{}) })
	b.Run("data-dir", func(b *testing.B) { fn(b, emulator.Options{DataDir: b.TempDir()}) })
}

// BenchmarkCreateDevice: one registry PUT over HTTPS, SAS checked, keys
// generated.
func BenchmarkCreateDevice(b *testing.B) {
	storage(b, func(b *testing.B, opts emulator.Options) {
		_, reg := startHubWith(b, opts)
		ctx := context.Background()
		b.ResetTimer()
		for i := range b.N {
			if _, err := reg.CreateDevice(ctx, &hub.Device{DeviceID: fmt.Sprintf("dev-%d", i)}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func benchModule(b *testing.B, opts emulator.Options) (*service.RegistryClient, *device.Client) {
	s, reg := startHubWith(b, opts)
	m := createModule(b, reg, "dev1", "mod1")
	cs := hub.ConnectionString{HostName: s.HostName(), DeviceID: "dev1", ModuleID: "mod1", SharedAccessKey: m.Authentication.SymmetricKey.PrimaryKey}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := device.DialModule(ctx, cs.String(), device.WithTLSConfig(s.TLSConfig()), device.WithAddress(s.MQTTAddr()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return reg, c
}

// cpuPerOp starts counting this process's CPU time (user and system, the
// emulator's and its clients' goroutines alike); the function it returns
// reports it per operation as cpu-µs/op. Unlike ns/op, other work on the
// machine hardly moves it, so it compares the cost of a path across
// changes on a shared machine.
func cpuPerOp(b *testing.B) func() {
	start := processCPU(b)
	return func() {
		b.ReportMetric(float64((processCPU(b)-start).Microseconds())/float64(b.N), "cpu-µs/op")
	}
}

func processCPU(b *testing.B) time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		b.Fatal(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// BenchmarkDesiredPatchToModule: the tutorial's core loop, from the
// service's PATCH to the connected module holding the patch.
func BenchmarkDesiredPatchToModule(b *testing.B) {
	reg, c := benchModule(b, emulator.Options{})
	ctx := context.Background()
	b.ResetTimer()
	defer cpuPerOp(b)()
	for i := range b.N {
		patch := &hub.Twin{Properties: &hub.TwinProperties{Desired: map[string]any{"telemetryInterval": i}}}
		t, err := reg.UpdateModuleTwin(ctx, "dev1", "mod1", patch, "*")
		if err != nil {
			b.Fatal(err)
		}
		select {
		case p := <-c.DesiredPatches():
			if p.Version != t.DesiredVersion() {
				b.Fatalf("patch version %d, twin %d", p.Version, t.DesiredVersion())
			}
		case <-time.After(10 * time.Second):
			b.Fatal("no patch")
		}
	}
}

// BenchmarkReportedPatch: a module's reported PATCH and the hub's 204.
func BenchmarkReportedPatch(b *testing.B) {
	storage(b, func(b *testing.B, opts emulator.Options) {
		_, c := benchModule(b, opts)
		ctx := context.Background()
		b.ResetTimer()
		defer cpuPerOp(b)()
		for i := range b.N {
			if _, err := c.UpdateReported(ctx, map[string]any{"telemetryInterval": i}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkConnect: one MQTT over TLS connection from dial to CONNACK 0,
// authenticated by a SAS token, a self-signed certificate's thumbprint, or
// a certificate's chain to a registered CA. Each opens a new TLS session.
func BenchmarkConnect(b *testing.B) {
	h := startX509Hub(b, nil)
	sas, err := h.reg.CreateDevice(context.Background(), &hub.Device{DeviceID: "sas"})
	if err != nil {
		b.Fatal(err)
	}
	token, err := hub.BuildSASToken(h.s.HostName()+"/devices/sas", sas.Authentication.SymmetricKey.PrimaryKey, "", time.Now().Add(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	self := mint(b)(certtest.SelfSigned("self"))
	h.create(b, "self", "", selfSignedAuth(self.Thumbprint()))
	h.create(b, "ca", "", caAuth)
	for _, bc := range []struct {
		name, id string
		cert     *certtest.Cert
		opts     []device.Option
	}{
		{"sas", "sas", nil, []device.Option{mqtttest.WithSASToken(token)}},
		{"selfSigned", "self", self, nil},
		{"certificateAuthority", "ca", mint(b)(h.ca.Sign("ca")), nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for range b.N {
				if code := h.connect(b, bc.id, "", bc.cert, bc.opts...); code != 0 {
					b.Fatalf("CONNACK %d", code)
				}
			}
		})
	}
}

// BenchmarkMethodRoundTrip: a direct method from the service's POST to
// the module's answer and back: REST call, MQTT request to the module,
// the module's answer, REST reply. "parallel" keeps many calls in flight on
// the one connection.
func BenchmarkMethodRoundTrip(b *testing.B) {
	reg, c := benchModule(b, emulator.Options{})
	c.HandleMethod("echo", func(_ context.Context, req device.MethodRequest) (int, any) { return 200, req.Payload })
	call := func(ctx context.Context, i int) error {
		res, err := reg.InvokeModuleMethod(ctx, "dev1", "mod1", service.MethodRequest{MethodName: "echo", Payload: []byte(fmt.Sprint(i))})
		if err == nil && (res.Status != 200 || string(res.Payload) != fmt.Sprint(i)) {
			err = fmt.Errorf("answer %d %s to call %d", res.Status, res.Payload, i)
		}
		return err
	}
	b.Run("sequential", func(b *testing.B) {
		ctx := context.Background()
		for i := range b.N {
			if err := call(ctx, i); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			for i := 0; pb.Next(); i++ {
				if err := call(ctx, i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
