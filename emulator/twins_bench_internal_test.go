package emulator

import (
	"context"
	"fmt"
	"testing"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/service"
)

// BenchmarkTwinWrite is the emulator's own work for the two twin writes
// `make bench` times, without the network: a service PATCH of a module's
// desired properties (the body parsed, merged, its desired patch and its
// twin-change event made, the whole twin rendered for the answer), and a
// module's reported patch (parsed, merged, its event made). The twin holds
// a few properties of each kind, as an app's does. allocs/op and B/op do
// not move with other work on the machine.
func BenchmarkTwinWrite(b *testing.B) {
	s, err := Start(context.Background(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	reg, err := service.NewRegistryClient(s.ConnectionString(), service.WithTLSConfig(s.TLSConfig()))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := reg.CreateDevice(ctx, &hub.Device{DeviceID: "dev"}); err != nil {
		b.Fatal(err)
	}
	if _, err := reg.CreateModule(ctx, &hub.Module{DeviceID: "dev", ModuleID: "mod"}); err != nil {
		b.Fatal(err)
	}
	seed := `{"telemetryInterval":30,"mode":"eco","thresholds":{"low":10,"high":90,"unit":"C"}}`
	if _, err := s.registry.patchTwin("dev", "mod", []byte(`{"properties":{"desired":`+seed+`}}`), precondition{}); err != nil {
		b.Fatal(err)
	}
	if _, err := s.registry.patchReported("dev", "mod", []byte(seed)); err != nil {
		b.Fatal(err)
	}
	b.Run("desired", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			body := fmt.Appendf(nil, `{"properties":{"desired":{"hubspecLoad":%d}}}`, i)
			if _, err := s.registry.patchTwin("dev", "mod", body, precondition{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reported", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			body := fmt.Appendf(nil, `{"hubspecBench":"%d xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`, i)
			if _, err := s.registry.patchReported("dev", "mod", body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
