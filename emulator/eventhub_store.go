package emulator

import (
	"hash/fnv"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hubspec/hubspec/internal/amqp"
)

// Defaults of the built-in endpoint: IoT Hub creates it with 4 partitions
// unless told otherwise (docs/fidelity.md, "Built-in endpoint partitions");
// retention is a count and a size per partition, the emulator's bound on
// memory: the size bound is what holds when messages are large (10,000
// events of 256 KiB would be 2.5 GiB a partition).
const (
	defaultEventHubPartitions     = 4
	defaultEventHubRetention      = 10000
	defaultEventHubRetentionBytes = 64 << 20
)

// eventOverhead is what the retained size counts for an event besides its
// body: its annotations and properties, in the order of their encoded size.
const eventOverhead = 512

// ehEvent is one enqueued event: its message, annotations already set.
type ehEvent struct {
	seq      int64
	offset   int64
	size     int64 // its share of the partition's retained size
	enqueued time.Time
	msg      *amqp.Message
}

// ehPartition is one partition of the built-in endpoint: the retained
// events in order, oldest dropped first once max are held. wake is closed
// and replaced on every append, so receivers wait on a channel, never poll.
type ehPartition struct {
	mu         sync.Mutex
	max        int   // events retained at most
	maxBytes   int64 // retained size at most (eventSize summed)
	bytes      int64 // retained size now
	events     []ehEvent
	nextSeq    int64
	nextOffset int64
	wake       chan struct{}
	lastTime   time.Time
}

// eventHub is the built-in endpoint's storage: the hub's telemetry,
// partitioned by a stable hash of the device id.
type eventHub struct {
	name       string
	created    time.Time
	partitions []*ehPartition
}

func newEventHub(name string, partitions, retention int, retentionBytes int64, now time.Time) *eventHub {
	h := &eventHub{name: name, created: now.UTC()}
	for range partitions {
		h.partitions = append(h.partitions, &ehPartition{max: retention, maxBytes: retentionBytes, wake: make(chan struct{})})
	}
	return h
}

// partitionFor is the partition of a device's events: FNV-1a of the id,
// so one device's events stay in order in one partition.
func (h *eventHub) partitionFor(deviceID string) int {
	f := fnv.New32a()
	f.Write([]byte(deviceID))
	return int(f.Sum32() % uint32(len(h.partitions)))
}

// partitionIDs are "0" to "n-1", as Event Hubs names partitions.
func (h *eventHub) partitionIDs() []string {
	ids := make([]string, len(h.partitions))
	for i := range ids {
		ids[i] = strconv.Itoa(i)
	}
	return ids
}

// partition returns the partition named id, or nil.
func (h *eventHub) partition(id string) *ehPartition {
	n, err := strconv.Atoi(id)
	if err != nil || n < 0 || n >= len(h.partitions) || strconv.Itoa(n) != id {
		return nil
	}
	return h.partitions[n]
}

// enqueue appends msg to the device's partition, stamping the Event Hubs
// annotations (sequence number, offset, enqueued time). The offset is the
// byte position of the event's body in the partition's stream, a string on
// the wire as Event Hubs sends it.
func (h *eventHub) enqueue(deviceID string, msg *amqp.Message, now time.Time) {
	p := h.partitions[h.partitionFor(deviceID)]
	now = now.UTC().Truncate(time.Millisecond)
	p.mu.Lock()
	defer p.mu.Unlock()
	e := ehEvent{seq: p.nextSeq, offset: p.nextOffset, enqueued: now, msg: msg}
	if msg.Annotations == nil {
		msg.Annotations = amqp.Annotations{}
	}
	msg.Annotations[amqp.Symbol("x-opt-sequence-number")] = e.seq
	msg.Annotations[amqp.Symbol("x-opt-offset")] = strconv.FormatInt(e.offset, 10)
	msg.Annotations[amqp.Symbol("x-opt-enqueued-time")] = now
	size := 0
	for _, d := range msg.Data {
		size += len(d)
	}
	e.size = int64(size) + eventOverhead
	p.nextSeq++
	p.nextOffset += int64(max(size, 1))
	p.lastTime = now
	for len(p.events) > 0 && (len(p.events) >= p.max || p.bytes+e.size > p.maxBytes) {
		// Dropping by reslicing is O(1); append then moves the live events
		// to a new array only when the old one's tail is used up, so each
		// event is copied a bounded number of times, and at most about
		// twice the retention is ever held. The slot is cleared first so
		// the dropped message is garbage at once.
		p.bytes -= p.events[0].size
		p.events[0] = ehEvent{}
		p.events = p.events[1:]
	}
	p.events = append(p.events, e)
	p.bytes += e.size
	close(p.wake)
	p.wake = make(chan struct{})
}

// from returns the retained events a reader positioned at pos may take
// (at most n), and the channel closed by the next append. Sequence
// numbers and offsets grow with every event, so the first admitted event
// is found by binary search: a reader at the end of a full partition
// costs O(log n) per event, not a scan. Enqueued times are searched
// linearly, as a clock that steps back would break their order.
func (p *ehPartition) from(pos ehPosition, n int) ([]ehEvent, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := 0
	if pos.field == posEnqueued {
		for i < len(p.events) && !pos.admits(p.events[i]) {
			i++
		}
	} else {
		i = sort.Search(len(p.events), func(k int) bool { return pos.admits(p.events[k]) })
	}
	end := min(i+n, len(p.events))
	return append([]ehEvent(nil), p.events[i:end]...), p.wake
}

// latest is the position just after the last event enqueued so far.
func (p *ehPartition) latest() ehPosition {
	p.mu.Lock()
	defer p.mu.Unlock()
	return ehPosition{field: posSequence, value: p.nextSeq - 1}
}

// info is what $management's com.microsoft:partition READ answers.
func (p *ehPartition) info() (begin, last, lastOffset int64, lastTime time.Time, empty bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.events) == 0 {
		return p.nextSeq, p.nextSeq - 1, max(p.nextOffset-1, -1), p.lastTime, true
	}
	tail := p.events[len(p.events)-1]
	return p.events[0].seq, tail.seq, tail.offset, tail.enqueued, false
}
