package emulator

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/hubspec/hubspec/internal/amqp"
)

// TestEventHubRetentionDropsOldest: a partition keeps at most its
// retention count; the oldest go first and sequence numbers keep counting.
func TestEventHubRetentionDropsOldest(t *testing.T) {
	h := newEventHub("hub", 1, 3, defaultEventHubRetentionBytes, time.Unix(0, 0))
	p := h.partitions[0]
	for i := range 1000 {
		h.enqueue("dev", &amqp.Message{Data: [][]byte{{byte(i)}}}, time.Unix(int64(i), 0))
		if cap(p.events) > 2*3+8 {
			t.Fatalf("after %d events the partition holds an array of %d for a retention of 3", i+1, cap(p.events))
		}
	}
	for i := range 2 {
		h.enqueue("dev", &amqp.Message{Data: [][]byte{{byte(i)}}}, time.Unix(int64(1000+i), 0))
	}
	evs, _ := p.from(ehPosition{field: posOffset, value: -1}, 100)
	if len(evs) != 3 || evs[0].seq != 999 || evs[2].seq != 1001 {
		t.Fatalf("retained %d events from %d, want 3 from sequence 999", len(evs), evs[0].seq)
	}
	begin, last, lastOffset, _, empty := p.info()
	if begin != 999 || last != 1001 || lastOffset != 1001 || empty {
		t.Errorf("info: begin %d last %d offset %d empty %v", begin, last, lastOffset, empty)
	}
}

// TestEventHubRetentionBoundsBytes: a partition keeps at most its
// retention size, bodies plus the overhead an event, the oldest dropped
// first; an event larger than the whole bound is still kept, alone.
func TestEventHubRetentionBoundsBytes(t *testing.T) {
	const body = 10_000
	bound := int64(3*(body+eventOverhead) + 100)
	h := newEventHub("hub", 1, 1000, bound, time.Unix(0, 0))
	p := h.partitions[0]
	for i := range 50 {
		h.enqueue("dev", &amqp.Message{Data: [][]byte{make([]byte, body)}}, time.Unix(int64(i), 0))
		if p.bytes > bound {
			t.Fatalf("after %d events the partition retains %d bytes, over its bound of %d", i+1, p.bytes, bound)
		}
	}
	evs, _ := p.from(ehPosition{field: posOffset, value: -1}, 100)
	if len(evs) != 3 || evs[0].seq != 47 {
		t.Fatalf("retained %d events from %d, want 3 from sequence 47", len(evs), evs[0].seq)
	}
	h.enqueue("dev", &amqp.Message{Data: [][]byte{make([]byte, 4*body)}}, time.Unix(60, 0))
	evs, _ = p.from(ehPosition{field: posOffset, value: -1}, 100)
	if len(evs) != 1 || evs[0].seq != 50 || p.bytes != int64(4*body+eventOverhead) {
		t.Fatalf("after an event over the bound: %d events, %d bytes", len(evs), p.bytes)
	}
}

// TestParseSelector: every expression azeventhubs v2 builds
// (partition_client.go getStartExpression) and some it does not.
func TestParseSelector(t *testing.T) {
	latest := func() ehPosition { return ehPosition{field: posSequence, value: 41} }
	for expr, want := range map[string]ehPosition{
		"amqp.annotation.x-opt-offset > '-1'":                {posOffset, -1, false},
		"amqp.annotation.x-opt-offset > '@latest'":           {posSequence, 41, false},
		"amqp.annotation.x-opt-offset >= '1024'":             {posOffset, 1024, true},
		"amqp.annotation.x-opt-sequence-number > '7'":        {posSequence, 7, false},
		"amqp.annotation.x-opt-sequence-number >= '7'":       {posSequence, 7, true},
		"amqp.annotation.x-opt-enqueued-time > '1658053230'": {posEnqueued, 1658053230, false},
	} {
		got, err := parseSelector(expr, latest)
		if err != nil || got != want {
			t.Errorf("%s: %+v, %v; want %+v", expr, got, err, want)
		}
	}
	for _, bad := range []string{"", "amqp.annotation.x-opt-offset", "amqp.annotation.x-opt-offset < '1'",
		"amqp.annotation.x-opt-offset > 1", "amqp.annotation.x-opt-offset > 'x'", "x > '1'", "amqp.annotation.x-opt-offset > '"} {
		if _, err := parseSelector(bad, latest); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseSelector(f *testing.F) {
	f.Add("amqp.annotation.x-opt-offset > '-1'")
	f.Add("amqp.annotation.x-opt-sequence-number >= '12'")
	f.Add("amqp.annotation.x-opt-offset > '@latest'")
	f.Fuzz(func(t *testing.T, expr string) {
		_, _ = parseSelector(expr, func() ehPosition { return ehPosition{} })
	})
}

// TestTelemetryMessageShape: system properties leave the application
// properties for the AMQP properties; the module id is only set for a
// module.
func TestTelemetryMessageShape(t *testing.T) {
	now := time.Unix(1700000000, 0)
	m := telemetryMessage(identity{deviceID: "d"}, map[string]string{"a": "1", "$.cid": "c", "$.uid": "u"}, []byte("x"), now)
	if m.ApplicationProperties["a"] != "1" || len(m.ApplicationProperties) != 1 {
		t.Errorf("application properties %v", m.ApplicationProperties)
	}
	if m.Properties == nil || m.Properties.CorrelationID != "c" {
		t.Errorf("properties %+v", m.Properties)
	}
	if _, ok := m.Annotations[amqp.Symbol("iothub-connection-module-id")]; ok {
		t.Error("a device's event names a module")
	}
}

// TestEventHubFromPositions: each kind of position finds the first event
// it admits.
func TestEventHubFromPositions(t *testing.T) {
	h := newEventHub("hub", 1, 100, defaultEventHubRetentionBytes, time.Unix(0, 0))
	for i := range 10 {
		h.enqueue("dev", &amqp.Message{Data: [][]byte{[]byte("ab")}}, time.UnixMilli(int64(1000*i)))
	}
	p := h.partitions[0]
	for _, c := range []struct {
		pos   ehPosition
		first int64
		count int
	}{
		{ehPosition{posOffset, -1, false}, 0, 10},
		{ehPosition{posOffset, 4, false}, 3, 7},
		{ehPosition{posOffset, 4, true}, 2, 8},
		{ehPosition{posSequence, 7, false}, 8, 2},
		{ehPosition{posSequence, 7, true}, 7, 3},
		{ehPosition{posSequence, 9, false}, -1, 0},
		{ehPosition{posEnqueued, 5000, false}, 6, 4},
		{ehPosition{posEnqueued, 5000, true}, 5, 5},
	} {
		evs, _ := p.from(c.pos, 100)
		if len(evs) != c.count || c.count > 0 && evs[0].seq != c.first {
			t.Errorf("%+v: %d events, want %d from %d", c.pos, len(evs), c.count, c.first)
		}
	}
	if evs, _ := p.from(ehPosition{posOffset, -1, false}, 4); len(evs) != 4 {
		t.Errorf("a batch of 4 returned %d", len(evs))
	}
}

// BenchmarkEventHubTailRead: enqueue one event into a full partition
// (10,000 retained) and read it back from the position after the previous
// one, as a receiver at the end of the partition does for every event.
func BenchmarkEventHubTailRead(b *testing.B) {
	h := newEventHub("hub", 1, defaultEventHubRetention, defaultEventHubRetentionBytes, time.Unix(0, 0))
	now := time.Unix(0, 0)
	for range defaultEventHubRetention {
		h.enqueue("dev", &amqp.Message{Data: [][]byte{[]byte("x")}}, now)
	}
	p := h.partitions[0]
	pos := p.latest()
	b.ReportAllocs()
	for b.Loop() {
		h.enqueue("dev", &amqp.Message{Data: [][]byte{[]byte("x")}}, now)
		evs, _ := p.from(pos, 64)
		if len(evs) != 1 {
			b.Fatalf("%d events", len(evs))
		}
		pos = ehPosition{field: posSequence, value: evs[0].seq}
	}
}

// BenchmarkEventHubMemoryAtRetention: the heap a built-in endpoint holds
// when every partition is at its retention limit (4 partitions of 10,000
// telemetry events with IoT Hub's annotations, a property and a 1 KiB
// body), the bound on what telemetry costs in memory at that body size.
func BenchmarkEventHubMemoryAtRetention(b *testing.B) {
	body := make([]byte, 1024)
	id := identity{deviceID: "dev", moduleID: "mod"}
	for b.Loop() {
		before := heapInUse()
		h := newEventHub("hub", defaultEventHubPartitions, defaultEventHubRetention, defaultEventHubRetentionBytes, time.Unix(0, 0))
		now := time.Now()
		// Twice the retention: the oldest half is dropped on the way.
		for i := range 2 * defaultEventHubPartitions * defaultEventHubRetention {
			dev := "dev-" + strconv.Itoa(i%64)
			h.enqueue(dev, telemetryMessage(id, map[string]string{"k": "v"}, body, now), now)
		}
		b.ReportMetric(float64(heapInUse()-before)/(1<<20), "MiB-held")
		for i, p := range h.partitions {
			if len(p.events) != defaultEventHubRetention {
				b.Fatalf("partition %d holds %d events, not its retention", i, len(p.events))
			}
		}
	}
}

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
