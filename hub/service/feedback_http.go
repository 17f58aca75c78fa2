package service

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// FeedbackBatch is a batch of cloud-to-device feedback received over
// HTTPS: it stays locked to this receiver (a minute on the hub) until
// CompleteFeedback removes it or AbandonFeedback gives it back.
type FeedbackBatch struct {
	LockToken string
	Records   []FeedbackRecord
}

const feedbackPath = "/messages/serviceBound/feedback"

// ReceiveFeedbackHTTP takes the next feedback batch over HTTPS, as the
// service SDKs' HTTP runtime does; nil when there is none. The AMQP
// receiver (MessagingClient.ReceiveFeedback) reads the same queue.
func (c *RegistryClient) ReceiveFeedbackHTTP(ctx context.Context) (*FeedbackBatch, error) {
	var records []FeedbackRecord
	var hdr http.Header
	err := c.do(ctx, restCall{method: http.MethodGet, path: feedbackPath, ok: []int{200, 204}, out: &records, gotHeader: &hdr})
	if err != nil {
		return nil, fmt.Errorf("receive feedback: %w", err)
	}
	if len(records) == 0 {
		return nil, nil
	}
	return &FeedbackBatch{LockToken: strings.Trim(hdr.Get("ETag"), `"`), Records: records}, nil
}

// CompleteFeedback removes a batch received over HTTPS.
func (c *RegistryClient) CompleteFeedback(ctx context.Context, lockToken string) error {
	err := c.do(ctx, restCall{method: http.MethodDelete, path: feedbackPath + "/" + escapeID(lockToken), ok: []int{204}})
	if err != nil {
		return fmt.Errorf("complete feedback %s: %w", lockToken, err)
	}
	return nil
}

// AbandonFeedback gives a batch received over HTTPS back to the queue.
func (c *RegistryClient) AbandonFeedback(ctx context.Context, lockToken string) error {
	err := c.do(ctx, restCall{method: http.MethodPost, path: feedbackPath + "/" + escapeID(lockToken) + "/abandon", ok: []int{204}})
	if err != nil {
		return fmt.Errorf("abandon feedback %s: %w", lockToken, err)
	}
	return nil
}
