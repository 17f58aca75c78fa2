package emulator

import (
	"crypto/rand"
	"encoding/json"
	"sync"
	"time"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/internal/amqp"
)

// Feedback status codes, as the hub writes them in statusCode (Microsoft's
// "Understand cloud-to-device messaging", "Message feedback").
const (
	feedbackSuccess  = "Success"
	feedbackExpired  = "Expired"
	feedbackRejected = "Rejected"
	feedbackPurged   = "Purged"
)

// feedbackDescriptions are the description the emulator writes beside each
// status code (docs/fidelity.md, "Feedback descriptions").
var feedbackDescriptions = map[string]string{
	feedbackSuccess:  "Success",
	feedbackExpired:  "Message Expired",
	feedbackRejected: "Message Rejected",
	feedbackPurged:   "Message Purged",
}

const (
	// feedbackContentType is the content type of a feedback batch.
	feedbackContentType = "application/vnd.microsoft.iothub.feedback.json"
	// feedbackBatch is the most records one feedback message holds, as the
	// hub batches them (64).
	feedbackBatch = 64
	// feedbackTTL is how long a record waits for a receiver: the hub's
	// default feedback.ttlAsIso8601 (one hour).
	feedbackTTL = time.Hour
	// feedbackMaxPending bounds the records waiting, oldest dropped first,
	// so a hub nobody reads feedback from keeps a bounded memory.
	feedbackMaxPending = 10000
)

// feedbackRecord is one record of a feedback batch, with the hub's JSON
// names.
type feedbackRecord struct {
	OriginalMessageID  string `json:"originalMessageId"`
	DeviceGenerationID string `json:"deviceGenerationId"`
	DeviceID           string `json:"deviceId"`
	EnqueuedTimeUTC    string `json:"enqueuedTimeUtc"`
	StatusCode         string `json:"statusCode"`
	Description        string `json:"description"`
	at                 time.Time
}

// feedbackQueue holds feedback records until a receiver on
// /messages/servicebound/feedback settles the batch that carries them: a
// batch released, modified or left unsettled when its link ends comes back.
type feedbackQueue struct {
	mu      sync.Mutex
	now     func() time.Time
	records []feedbackRecord
	wake    chan struct{} // closed and replaced when records arrive
}

func newFeedbackQueue(now func() time.Time) *feedbackQueue {
	return &feedbackQueue{now: now, wake: make(chan struct{})}
}

func (f *feedbackQueue) add(r feedbackRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r.at = f.now()
	f.records = append(f.records, r)
	if over := len(f.records) - feedbackMaxPending; over > 0 {
		f.records = append(f.records[:0:0], f.records[over:]...)
	}
	close(f.wake)
	f.wake = make(chan struct{})
}

// take removes up to feedbackBatch unexpired records; with none it returns
// a channel closed when some arrive.
func (f *feedbackQueue) take() ([]feedbackRecord, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	live := f.records[:0]
	for _, r := range f.records {
		if now.Sub(r.at) < feedbackTTL {
			live = append(live, r)
		}
	}
	f.records = live
	n := min(len(f.records), feedbackBatch)
	if n == 0 {
		return nil, f.wake
	}
	batch := append([]feedbackRecord(nil), f.records[:n]...)
	f.records = append(f.records[:0:0], f.records[n:]...)
	return batch, nil
}

// giveBack returns an unsettled batch to the front of the queue.
func (f *feedbackQueue) giveBack(batch []feedbackRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.records = append(append([]feedbackRecord(nil), batch...), f.records...)
	close(f.wake)
	f.wake = make(chan struct{})
}

// serve sends feedback batches on a receiver link of the service until the
// link ends. Each batch waits for its outcome: accepted or rejected, it is
// gone; released, modified or unanswered, it is queued again.
func (f *feedbackQueue) serve(l *amqp.Link, hubName string) {
	ctx, cancel := l.Context()
	defer cancel()
	for {
		batch, wake := f.take()
		if batch == nil {
			select {
			case <-wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		state, err := l.Send(ctx, feedbackMessage(batch, hubName, f.now()))
		switch state.(type) {
		case *amqp.Accepted, *amqp.Rejected:
			continue
		}
		f.giveBack(batch)
		if err != nil {
			return
		}
	}
}

// feedbackMessage is one batch as the hub sends it: a JSON array body,
// content type application/vnd.microsoft.iothub.feedback.json, user id the
// hub's name, and the time it was enqueued.
func feedbackMessage(batch []feedbackRecord, hubName string, now time.Time) *amqp.Message {
	body, _ := json.Marshal(batch) // strings only: cannot fail
	return &amqp.Message{
		Properties: &amqp.Properties{
			MessageID:   newMessageID(),
			UserID:      []byte(hubName),
			ContentType: feedbackContentType,
		},
		Annotations: amqp.Annotations{amqp.Symbol("iothub-enqueuedtime"): now.UTC().Truncate(time.Millisecond)},
		Data:        [][]byte{body},
	}
}

// newMessageID is a random UUID in text form.
func newMessageID() string {
	var u amqp.UUID
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u.String()
}

// errQueueFull is the hub's refusal of a 51st waiting message.
func errQueueFull() *hub.Error {
	return hub.ErrDeviceMaximumQueueDepthExceeded.WithMessage("Device Queue depth cannot exceed %d messages", c2dMaxQueueDepth)
}
