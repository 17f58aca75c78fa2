package emulator_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub/service"
)

// BenchmarkC2DSendToReceipt measures a cloud-to-device message from the
// service's send over AMQP to its arrival at the device's MQTT client, one
// at a time: p50 and p99 latency and messages per second.
func BenchmarkC2DSendToReceipt(b *testing.B) {
	s, reg := startHub(b)
	cs := c2dDevice(b, s, reg, "bench")
	_, msgs := dialC2D(b, s, cs)
	m := dialMessaging(b, s)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	lat := make([]time.Duration, 0, b.N)
	msg := service.CloudMessage{MessageID: "bench", Body: []byte(`{"setpoint":21}`), Properties: map[string]string{"k": "v"}}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		t0 := time.Now()
		if err := m.Send(ctx, "bench", msg); err != nil {
			b.Fatal(err)
		}
		select {
		case <-msgs:
		case <-ctx.Done():
			b.Fatal("no message reached the device")
		}
		lat = append(lat, time.Since(t0))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}
