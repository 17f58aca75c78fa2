package emulator

import (
	"fmt"
	"testing"
)

// BenchmarkListDevicesTop1: GET /devices?top=1's registry work at 20,000
// devices, which holds the registry lock every REST and MQTT request needs.
func BenchmarkListDevicesTop1(b *testing.B) {
	reg := newRegistry(nil)
	for i := range 20000 {
		if _, err := reg.putDevice(fmt.Sprintf("dev-%05d", i), []byte(`{}`), precondition{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		if got := reg.listDevices(1); len(got) != 1 || got[0].DeviceID != "dev-00000" {
			b.Fatalf("listDevices(1) = %v", got)
		}
	}
}
