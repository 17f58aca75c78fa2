package harness

import (
	"context"
	"fmt"
	"sync"

	"github.com/hubspec/hubspec/hub/service"
)

// maxUnclaimedFeedback bounds the feedback records a run keeps for
// messages no scenario has asked about yet (other runs' messages on a
// shared live hub, say): the oldest go first.
const maxUnclaimedFeedback = 10000

// cloudFeedback is a run's one reader of the hub's feedback queue. The hub
// has a single queue for all of its cloud-to-device feedback, and a batch
// goes to whichever receiver asks first, so concurrent scenarios each with
// a receiver would take each other's records; instead one receiver reads
// every batch and hands each record to the scenario waiting for its
// message id, keeping it until one asks.
type cloudFeedback struct {
	mu      sync.Mutex
	client  *service.MessagingClient
	err     error // why the reader stopped
	records map[string][]service.FeedbackRecord
	order   []string      // message ids in arrival order, to bound records
	changed chan struct{} // closed and replaced when records arrive
}

// AwaitFeedback waits for the hub's feedback about the cloud-to-device
// message messageID and returns its first record. The run's feedback
// reader starts on first use, with the target's service connection string.
func (r *Run) AwaitFeedback(ctx context.Context, messageID string) (service.FeedbackRecord, error) {
	f, err := r.feedbackReader(ctx)
	if err != nil {
		return service.FeedbackRecord{}, err
	}
	for {
		f.mu.Lock()
		recs, changed, stopped := f.records[messageID], f.changed, f.err
		f.mu.Unlock()
		if len(recs) > 0 {
			return recs[0], nil
		}
		if stopped != nil {
			return service.FeedbackRecord{}, fmt.Errorf("feedback for %s: %w", messageID, stopped)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return service.FeedbackRecord{}, fmt.Errorf("no feedback for message %s: %w", messageID, ctx.Err())
		}
	}
}

// feedbackReader dials the run's messaging client and starts its reader
// once; a failed dial is tried again by the next caller.
func (r *Run) feedbackReader(ctx context.Context) (*cloudFeedback, error) {
	f := &r.feedback
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.client != nil {
		return f, nil
	}
	c, err := r.Messaging(ctx)
	if err != nil {
		return nil, err
	}
	f.client, f.err = c, nil
	f.records, f.changed = map[string][]service.FeedbackRecord{}, make(chan struct{})
	go f.read(c)
	return f, nil
}

// read takes every batch until the connection ends.
func (f *cloudFeedback) read(c *service.MessagingClient) {
	for {
		batch, err := c.ReceiveFeedback(context.Background())
		f.mu.Lock()
		if err != nil {
			f.err, f.client = err, nil
			close(f.changed)
			f.changed = make(chan struct{})
			f.mu.Unlock()
			c.Close()
			return
		}
		for _, rec := range batch {
			if _, seen := f.records[rec.OriginalMessageID]; !seen {
				f.order = append(f.order, rec.OriginalMessageID)
			}
			f.records[rec.OriginalMessageID] = append(f.records[rec.OriginalMessageID], rec)
		}
		for len(f.order) > maxUnclaimedFeedback {
			delete(f.records, f.order[0])
			f.order = f.order[1:]
		}
		close(f.changed)
		f.changed = make(chan struct{})
		f.mu.Unlock()
	}
}

// Messaging dials a cloud-to-device messaging client of the target with its
// service connection string, at its AMQP endpoint.
func (r *Run) Messaging(ctx context.Context) (*service.MessagingClient, error) {
	ep := r.Target.AMQP()
	opts := []service.Option{service.WithTLSConfig(ep.TLS)}
	if ep.Address != "" {
		opts = append(opts, service.WithAMQPAddress(ep.Address))
	}
	return service.DialMessaging(ctx, r.Target.ServiceConnectionString(), opts...)
}
