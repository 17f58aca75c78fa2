package emulator

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/hubspec/hubspec/hub"
)

// The HTTPS side of the feedback queue, as the service SDKs' HTTP runtime
// (azure-iot-hub's receive_feedback_notification,
// complete_feedback_notification, abandon_feedback_notification) reads it:
// GET /messages/serviceBound/feedback takes a batch under a lock, DELETE
// .../{lockToken} completes it, POST .../{lockToken}/abandon gives it back.
// The batches are the same as the AMQP receivers' (c2d_feedback.go): a
// record goes to one reader only.

// feedbackLockDuration is how long a batch received over HTTPS stays
// locked before it goes back to the queue: IoT Hub's default
// feedback.lockDurationAsIso8601 (one minute; docs/fidelity.md, "HTTP
// feedback").
const feedbackLockDuration = time.Minute

// lockedFeedback is a batch received over HTTPS and not yet settled.
type lockedFeedback struct {
	batch []feedbackRecord
	until time.Time
}

// receiveLocked takes the next batch under a new lock token, first giving
// back every batch whose lock has expired. No batch: token "".
func (f *feedbackQueue) receiveLocked() (string, []feedbackRecord) {
	f.expireLocks()
	batch, _ := f.take()
	if batch == nil {
		return "", nil
	}
	token := newMessageID()
	f.mu.Lock()
	if f.locked == nil {
		f.locked = map[string]lockedFeedback{}
	}
	f.locked[token] = lockedFeedback{batch: batch, until: f.now().Add(feedbackLockDuration)}
	f.mu.Unlock()
	return token, batch
}

// settle completes (abandon false) or abandons a locked batch: completed,
// it is gone; abandoned, it is queued again first.
func (f *feedbackQueue) settle(token string, abandon bool) error {
	f.expireLocks()
	f.mu.Lock()
	l, ok := f.locked[token]
	delete(f.locked, token)
	f.mu.Unlock()
	if !ok {
		// The hub's answer to a lock token that is unknown, used or
		// expired (docs/fidelity.md, "HTTP feedback").
		return hub.ErrDeviceMessageLockLost.WithMessage("The lock token %s is unknown, already used or expired.", token)
	}
	if abandon {
		f.giveBack(l.batch)
	}
	return nil
}

// expireLocks gives back the batches whose lock has expired.
func (f *feedbackQueue) expireLocks() {
	now := f.now()
	f.mu.Lock()
	var expired [][]feedbackRecord
	for token, l := range f.locked {
		if !now.Before(l.until) {
			expired = append(expired, l.batch)
			delete(f.locked, token)
		}
	}
	f.mu.Unlock()
	for _, b := range expired {
		f.giveBack(b)
	}
}

// receiveFeedback is GET /messages/serviceBound/feedback: 200 with a batch
// (the JSON array, its lock token in the ETag header, as the hub sends a
// locked message's), or 204 when there is none.
func (h *restHandler) receiveFeedback(*http.Request, []string) (restResult, error) {
	token, batch := h.c2d.feedback.receiveLocked()
	if batch == nil {
		return restResult{status: http.StatusNoContent}, nil
	}
	body, _ := json.Marshal(batch) // strings only: cannot fail
	header := http.Header{}
	header.Set("Content-Type", feedbackContentType)
	header.Set("iothub-messageid", newMessageID())
	header.Set("iothub-enqueuedtime", h.now().UTC().Format(time.RFC1123))
	header.Set("iothub-to", "/messages/serviceBound/feedback")
	return restResult{status: http.StatusOK, body: body, etag: token, header: header}, nil
}

// completeFeedback is DELETE /messages/serviceBound/feedback/{lockToken}.
func (h *restHandler) completeFeedback(_ *http.Request, ids []string) (restResult, error) {
	if err := h.c2d.feedback.settle(ids[0], false); err != nil {
		return restResult{}, err
	}
	return restResult{status: http.StatusNoContent}, nil
}

// abandonFeedback is POST /messages/serviceBound/feedback/{lockToken}/abandon.
func (h *restHandler) abandonFeedback(_ *http.Request, ids []string) (restResult, error) {
	if err := h.c2d.feedback.settle(ids[0], true); err != nil {
		return restResult{}, err
	}
	return restResult{status: http.StatusNoContent}, nil
}
