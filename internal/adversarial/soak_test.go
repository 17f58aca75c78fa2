package adversarial

import (
	"fmt"
	"testing"
)

// TestSoak runs the scenarios against the binary and prints their figures:
// at soak counts with -soak (make soak), at the normal counts otherwise.
// Lost updates must be 0 and the MQTT listener must outlive descriptor
// exhaustion; the other figures are for reading.
func TestSoak(t *testing.T) {
	t.Parallel()
	report := func(format string, args ...any) {
		t.Logf(format, args...)
		if *soak {
			fmt.Printf("SOAK "+format+"\n", args...)
		}
	}
	t.Run("held sockets", func(t *testing.T) {
		t.Parallel()
		b := startBinary(t, binaryOptions{})
		f := heldSocketsScenario(t, b, heldSockets())
		report("connections held: %d MQTT (never CONNECT) + %d HTTPS (idle keep-alive); REST answered in %v; RSS %d KiB before, %d KiB while held",
			f.mqttHeld, f.httpsHeld, f.restLatency, f.rssBefore, f.rssHeld)
	})
	t.Run("reconnect churn", func(t *testing.T) {
		t.Parallel()
		b := startBinary(t, binaryOptions{})
		before := rss(t, b)
		var warm int64
		patches, dropEvery := churnCounts()
		f := churnScenario(t, b, patches, dropEvery, func() { warm = rss(t, b) })
		after := rss(t, b)
		report("churn: %d patches, %d drops, %d deliveries; RSS %d KiB at start, %d KiB warm (a tenth in), %d KiB after; lost updates %d",
			f.patches, f.drops, f.deliveries, before, warm, after, f.lost)
		if f.lost != 0 {
			t.Errorf("lost updates: %d", f.lost)
		}
		// Churn must not leak: after it, memory is within 10 % of what the
		// process held once warm (a cold start has allocated nothing yet).
		if *soak && after > warm+warm/10 {
			t.Errorf("RSS grew from %d KiB warm to %d KiB after the churn: more than 10 %%", warm, after)
		}
	})
	t.Run("descriptor exhaustion", func(t *testing.T) {
		t.Parallel()
		attempts := 100
		if *soak {
			attempts = 1000
		}
		f := exhaustionScenario(t, 64, attempts)
		report("descriptor exhaustion: limit %d, %d open while exhausted, %d of %d handshakes completed; listener alive after: %v (%v)",
			f.limit, f.fdsExhausted, f.handshakes, f.attempts, f.recovered, f.recovery)
	})
	t.Run("kill -9 restarts", func(t *testing.T) {
		t.Parallel()
		f := restartScenario(t, restartCycles())
		report("kill -9: %d restarts, %d writes attempted, %d devices and %d properties acknowledged, lost %d",
			f.cycles, f.attempts, f.devices, f.keys, f.lost)
		if f.lost != 0 {
			t.Errorf("lost acknowledged writes: %d", f.lost)
		}
	})
}
