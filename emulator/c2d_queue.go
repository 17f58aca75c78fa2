package emulator

import (
	"context"
	"sync"
	"time"
)

// The hub's cloud-to-device limits (Microsoft's "Understand cloud-to-device
// messaging" and quotas docs; docs/fidelity.md, "Cloud-to-device"): at most
// 50 messages wait per device, a message's body is at most 64 KB, and a
// message without an expiry lives for the hub's default TTL of one hour.
const (
	c2dMaxQueueDepth = 50
	c2dMaxBody       = 64 << 10
	c2dDefaultTTL    = time.Hour
)

// c2dAck is a message's iothub-ack: which outcomes produce feedback.
type c2dAck string

const (
	ackNone     c2dAck = "none"
	ackPositive c2dAck = "positive"
	ackNegative c2dAck = "negative"
	ackFull     c2dAck = "full"
)

// wants reports whether the ack asks for feedback on an outcome: positive
// feedback for Success, negative for every dead-letter outcome.
func (a c2dAck) wants(status string) bool {
	if status == feedbackSuccess {
		return a == ackPositive || a == ackFull
	}
	return a == ackNegative || a == ackFull
}

// c2dMessage is one cloud-to-device message waiting in a device's queue.
type c2dMessage struct {
	deviceID, generationID string
	messageID              string
	ack                    c2dAck
	expiry                 time.Time
	topic                  string // the MQTT topic with its property bag
	body                   []byte
	// inflight is set while the message is written to the device and not
	// yet acknowledged; packetID is the PUBLISH's, which its PUBACK names.
	inflight bool
	packetID uint16
}

// c2dQueues are the per-device queues of cloud-to-device messages and the
// hub's feedback queue. Messages are completed by the device's PUBACK,
// expire by their device's clock (device_clocks.go), and are purged by the
// service or with their device.
type c2dQueues struct {
	mu       sync.Mutex
	clocks   *deviceClocks
	devices  map[string][]*c2dMessage
	feedback *feedbackQueue
	// onEnqueue is told which device has a new message, so the MQTT side
	// can deliver it; it is called without mu held.
	onEnqueue func(deviceID string)
}

func newC2DQueues(clocks *deviceClocks, feedback *feedbackQueue) *c2dQueues {
	return &c2dQueues{clocks: clocks, devices: map[string][]*c2dMessage{}, feedback: feedback, onEnqueue: func(string) {}}
}

// enqueue adds m to its device's queue, or refuses it with 403004 when 50
// messages already wait (expired ones are dropped first, as the hub would
// have dead-lettered them).
func (q *c2dQueues) enqueue(m *c2dMessage) error {
	q.mu.Lock()
	q.expireLocked(m.deviceID)
	if len(q.devices[m.deviceID]) >= c2dMaxQueueDepth {
		q.mu.Unlock()
		return errQueueFull()
	}
	q.devices[m.deviceID] = append(q.devices[m.deviceID], m)
	q.mu.Unlock()
	q.onEnqueue(m.deviceID)
	return nil
}

// next marks the first message of deviceID that is not in flight as in
// flight under packetID and returns it; nil when none waits. Expired
// messages are dropped on the way. stale reports a generation the device
// no longer has (deleted and created again): those messages are dropped
// without feedback, as the hub deletes a deleted device's feedback.
func (q *c2dQueues) next(deviceID string, packetID func() (uint16, bool), stale func(generationID string) bool) *c2dMessage {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.expireLocked(deviceID)
	msgs := q.devices[deviceID]
	kept := msgs[:0]
	var picked *c2dMessage
	for _, m := range msgs {
		if stale(m.generationID) {
			continue
		}
		kept = append(kept, m)
		if picked == nil && !m.inflight {
			id, ok := packetID()
			if !ok {
				continue
			}
			m.inflight, m.packetID, picked = true, id, m
		}
	}
	q.devices[deviceID] = kept
	return picked
}

// complete removes the in-flight message the device acknowledged with
// packetID and gives Success feedback when asked for.
func (q *c2dQueues) complete(deviceID string, packetID uint16) {
	q.mu.Lock()
	defer q.mu.Unlock()
	msgs := q.devices[deviceID]
	for i, m := range msgs {
		if m.inflight && m.packetID == packetID {
			q.devices[deviceID] = append(msgs[:i:i], msgs[i+1:]...)
			q.outcomeLocked(m, feedbackSuccess)
			return
		}
	}
}

// requeue makes the device's in-flight messages pending again, except those
// whose packet id keep says the session will send again itself: a new
// connection without the old session's in-flight messages gets them anew.
func (q *c2dQueues) requeue(deviceID string, keep func(packetID uint16) bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, m := range q.devices[deviceID] {
		if m.inflight && !keep(m.packetID) {
			m.inflight = false
		}
	}
}

// purge drops every message of a device with Purged feedback and returns
// how many there were (DELETE /devices/{id}/commands).
func (q *c2dQueues) purge(deviceID string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	msgs := q.devices[deviceID]
	delete(q.devices, deviceID)
	for _, m := range msgs {
		q.outcomeLocked(m, feedbackPurged)
	}
	return len(msgs)
}

// forget drops a deleted device's messages without feedback.
func (q *c2dQueues) forget(deviceID string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.devices, deviceID)
}

// expire dead-letters deviceID's expired messages: Server.AdvanceDeviceClock
// calls it once the device's clock has moved, so what the move expired is
// dead-lettered, with its feedback, before the move returns.
func (q *c2dQueues) expire(deviceID string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.expireLocked(deviceID)
}

// expireAll dead-letters every expired message of every device: the
// emulator calls it on a timer, so Expired feedback comes without any
// client doing anything, by each device's clock.
func (q *c2dQueues) expireAll() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for id := range q.devices {
		q.expireLocked(id)
	}
}

// expireLocked drops deviceID's expired messages that are not in flight,
// with Expired feedback. Caller holds q.mu.
func (q *c2dQueues) expireLocked(deviceID string) {
	now := q.clocks.now(deviceID)
	msgs := q.devices[deviceID]
	kept := msgs[:0]
	for _, m := range msgs {
		if !m.inflight && !now.Before(m.expiry) {
			q.outcomeLocked(m, feedbackExpired)
			continue
		}
		kept = append(kept, m)
	}
	for i := len(kept); i < len(msgs); i++ {
		msgs[i] = nil
	}
	if len(kept) == 0 {
		delete(q.devices, deviceID)
		return
	}
	q.devices[deviceID] = kept
}

// outcomeLocked records a message's final state as feedback when its ack
// asks for it. Caller holds q.mu.
func (q *c2dQueues) outcomeLocked(m *c2dMessage, status string) {
	if m.ack.wants(status) {
		q.feedback.add(feedbackRecord{
			OriginalMessageID:  m.messageID,
			DeviceGenerationID: m.generationID,
			DeviceID:           m.deviceID,
			EnqueuedTimeUTC:    q.clocks.now(m.deviceID).UTC().Format("2006-01-02T15:04:05.000Z"),
			StatusCode:         status,
			Description:        feedbackDescriptions[status],
		})
	}
}

// expireEvery runs expireAll every period until ctx ends: Expired feedback
// then follows the devices' clocks without any client acting.
func (q *c2dQueues) expireEvery(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			q.expireAll()
		case <-ctx.Done():
			return
		}
	}
}
