package emulator

import (
	"testing"
	"time"

	"github.com/hubspec/hubspec/internal/amqp"
)

// TestEventHubRetentionDropsOldest: a partition keeps at most its
// retention count; the oldest go first and sequence numbers keep counting.
func TestEventHubRetentionDropsOldest(t *testing.T) {
	h := newEventHub("hub", 1, 3, time.Unix(0, 0))
	for i := range 5 {
		h.enqueue("dev", &amqp.Message{Data: [][]byte{{byte(i)}}}, time.Unix(int64(i), 0))
	}
	p := h.partitions[0]
	evs, _ := p.from(ehPosition{field: posOffset, value: -1}, 100)
	if len(evs) != 3 || evs[0].seq != 2 || evs[2].seq != 4 {
		t.Fatalf("retained %d events from %d, want 3 from sequence 2", len(evs), evs[0].seq)
	}
	if cap(p.events) > 4 {
		t.Errorf("partition slice grew to cap %d for a retention of 3", cap(p.events))
	}
	begin, last, lastOffset, _, empty := p.info()
	if begin != 2 || last != 4 || lastOffset != 4 || empty {
		t.Errorf("info: begin %d last %d offset %d empty %v", begin, last, lastOffset, empty)
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
