package emulator_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/device"
	builtin "github.com/hubspec/hubspec/hub/events"
)

// BenchmarkTelemetryToReceiver: device telemetry from the MQTT publish
// (QoS 1, PUBACK awaited) to an azeventhubs receiver holding the event
// (hub/events), with one device and with 100 sending at once. It reports
// the latency of each message, publish to receipt, at p50 and p99, and
// the messages per second the whole path carries.
func BenchmarkTelemetryToReceiver(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("devices=%d", n), func(b *testing.B) { benchTelemetry(b, n) })
	}
}

func benchTelemetry(b *testing.B, devices int) {
	s, reg := startHubWith(b, emulator.Options{DisableTwinAndLifecycleEvents: true})
	clients := make([]*device.Client, devices)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for i := range clients {
		id := fmt.Sprintf("dev-%d", i)
		d, err := reg.CreateDevice(ctx, &hub.Device{DeviceID: id})
		if err != nil {
			b.Fatal(err)
		}
		cs := hub.ConnectionString{HostName: s.HostName(), DeviceID: id, SharedAccessKey: d.Authentication.SymmetricKey.PrimaryKey}
		if clients[i], err = device.DialDevice(ctx, cs.String(), device.WithTLSConfig(s.TLSConfig()), device.WithAddress(s.MQTTAddr())); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { clients[i].Close() })
	}
	r := openReader(b, s, deviceIDs(devices)...)

	sent := make([]time.Time, b.N) // by message number, the body
	latencies := make([]time.Duration, 0, b.N)
	var mu sync.Mutex
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for d, c := range clients {
		wg.Go(func() {
			for i := d; i < b.N; i += devices {
				mu.Lock()
				sent[i] = time.Now()
				mu.Unlock()
				if err := c.SendEvent(ctx, []byte(strconv.Itoa(i)), nil); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	for range b.N {
		ev, err := r.Await(ctx, func(builtin.Event) bool { return true })
		if err != nil {
			b.Fatal(err)
		}
		at := time.Now()
		i, _ := strconv.Atoi(string(ev.Body))
		mu.Lock()
		latencies = append(latencies, at.Sub(sent[i]))
		mu.Unlock()
	}
	elapsed := time.Since(start)
	wg.Wait()
	b.StopTimer()
	slices.Sort(latencies)
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}

func deviceIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("dev-%d", i)
	}
	return ids
}
