// Package events reads an IoT hub's built-in endpoint, the Event
// Hubs-compatible stream of device telemetry, twin-change and lifecycle
// events, with the Azure SDK for Go's Event Hubs client (azeventhubs), as a
// back-end does: the same code against an emulator and a live hub.
//
//	r, err := events.Open(ctx, eventHubConnectionString, events.WithFilter(mine))
//	defer r.Close()
//	ev, err := r.Await(ctx, func(e events.Event) bool { return e.Kind == events.KindTelemetry })
//
// A Reader starts at the end of every partition when it opens, so it sees
// what happens afterwards and nothing before; its filter keeps the events
// of some identities only, so concurrent tests never read each other's.
package events

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
)

// Option configures Open.
type Option func(*settings)

type settings struct {
	tls           *tls.Config
	address       string
	consumerGroup string
	accept        func(deviceID, moduleID string) bool
	webSockets    bool   // WithWebSockets
	webSocketAddr string // its HTTPS host:port, "" for azeventhubs' choice
}

// WithTLSConfig sets the TLS configuration, e.g. one trusting an emulator's
// CA. Its ServerName must be the endpoint's host when the dial address
// differs from it.
func WithTLSConfig(cfg *tls.Config) Option { return func(s *settings) { s.tls = cfg } }

// WithAddress dials host:port instead of the connection string's endpoint
// (azeventhubs' CustomEndpoint), e.g. a container's published port.
func WithAddress(addr string) Option { return func(s *settings) { s.address = addr } }

// WithConsumerGroup reads as another consumer group (default $Default).
func WithConsumerGroup(name string) Option { return func(s *settings) { s.consumerGroup = name } }

// WithFilter keeps only the events whose identity accept takes (moduleID
// "" for a device's own events); the others are dropped as they arrive.
func WithFilter(accept func(deviceID, moduleID string) bool) Option {
	return func(s *settings) { s.accept = accept }
}

// Reader receives the built-in endpoint's events from every partition and
// keeps those its filter accepts, in arrival order, until taken by Await.
type Reader struct {
	client *azeventhubs.ConsumerClient
	parts  []*azeventhubs.PartitionClient
	accept func(deviceID, moduleID string) bool
	cancel context.CancelFunc
	done   sync.WaitGroup

	mu       sync.Mutex
	received []Event
	taken    []bool
	first    int           // every event before it is taken: Await starts there
	err      error         // the first receive failure, once any partition stopped
	wake     chan struct{} // closed and replaced whenever received or err changes
}

// Open connects with an Event Hubs-compatible connection string
// (Endpoint=sb://...;SharedAccessKeyName=...;SharedAccessKey=...;EntityPath=...)
// and starts reading every partition from its end as it is now: every
// event enqueued after Open returns is received.
func Open(ctx context.Context, connectionString string, opts ...Option) (*Reader, error) {
	s := settings{consumerGroup: azeventhubs.DefaultConsumerGroup}
	for _, o := range opts {
		o(&s)
	}
	client, err := azeventhubs.NewConsumerClientFromConnectionString(connectionString, "", s.consumerGroup,
		&azeventhubs.ConsumerClientOptions{TLSConfig: serverNamed(s.tls, connectionString), CustomEndpoint: s.address,
			NewWebSocketConn: s.newWebSocketConn()})
	if err != nil {
		return nil, fmt.Errorf("open built-in endpoint: %w", err)
	}
	r := &Reader{client: client, accept: s.accept, wake: make(chan struct{})}
	if err := r.startPartitions(ctx); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// startPartitions positions a client after the last event of each
// partition (at its start when it holds none), read from the partition's
// properties: a position by sequence number is exact, where "latest" would
// depend on when the receive link happens to attach.
func (r *Reader) startPartitions(ctx context.Context) error {
	props, err := r.client.GetEventHubProperties(ctx, nil)
	if err != nil {
		return fmt.Errorf("read built-in endpoint properties: %w", err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	for _, id := range props.PartitionIDs {
		pp, err := r.client.GetPartitionProperties(ctx, id, nil)
		if err != nil {
			return fmt.Errorf("read partition %s properties: %w", id, err)
		}
		start := azeventhubs.StartPosition{Earliest: to(true)}
		if !pp.IsEmpty {
			start = azeventhubs.StartPosition{SequenceNumber: to(pp.LastEnqueuedSequenceNumber)}
		}
		pc, err := r.client.NewPartitionClient(id, &azeventhubs.PartitionClientOptions{StartPosition: start})
		if err != nil {
			return fmt.Errorf("open partition %s: %w", id, err)
		}
		r.parts = append(r.parts, pc)
		r.done.Add(1)
		go r.receive(rctx, id, pc)
	}
	return nil
}

// receive reads one partition until the reader closes or the partition
// fails; a failure is kept for Await to report. It asks for one event at a
// time: ReceiveEvents returns only once it has as many as asked for, and
// the link's prefetch (300 events) keeps a busy partition's events coming
// without a round trip each.
func (r *Reader) receive(ctx context.Context, id string, pc *azeventhubs.PartitionClient) {
	defer r.done.Done()
	for {
		evs, err := pc.ReceiveEvents(ctx, 1, nil)
		if err != nil && ctx.Err() != nil {
			return
		}
		r.mu.Lock()
		for _, ev := range evs {
			if e := decode(id, ev); r.accept == nil || r.accept(e.DeviceID, e.ModuleID) {
				r.received = append(r.received, e)
				r.taken = append(r.taken, false)
			}
		}
		if err != nil && r.err == nil {
			r.err = fmt.Errorf("receive partition %s: %w", id, err)
		}
		close(r.wake)
		r.wake = make(chan struct{})
		r.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// ErrNoEvent is Await's error when ctx ends before a matching event came.
var ErrNoEvent = errors.New("no matching event")

// Await returns the first event received and not yet taken that match
// accepts, and takes it; it waits for one until ctx ends (ErrNoEvent,
// wrapping ctx's error) or a partition fails.
func (r *Reader) Await(ctx context.Context, match func(Event) bool) (Event, error) {
	for {
		r.mu.Lock()
		for i := r.first; i < len(r.received); i++ {
			if e := r.received[i]; !r.taken[i] && match(e) {
				r.taken[i] = true
				for r.first < len(r.taken) && r.taken[r.first] {
					r.first++
				}
				r.mu.Unlock()
				return e, nil
			}
		}
		err, wake := r.err, r.wake
		r.mu.Unlock()
		if err != nil {
			return Event{}, err
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return Event{}, fmt.Errorf("%w: %w", ErrNoEvent, ctx.Err())
		}
	}
}

// Received is every event the filter accepted so far, taken or not, in
// arrival order.
func (r *Reader) Received() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.received...)
}

// Close stops reading and closes the connection.
func (r *Reader) Close() error {
	if r.cancel != nil {
		r.cancel()
	}
	r.done.Wait()
	ctx := context.Background()
	for _, pc := range r.parts {
		_ = pc.Close(ctx)
	}
	return r.client.Close(ctx)
}

func to[T any](v T) *T { return &v }

// serverNamed is cfg with the endpoint's host name as ServerName when cfg
// names none: go-amqp otherwise verifies the certificate against the
// dialled host:port, which no certificate names when the endpoint carries
// a port (an emulator's does).
func serverNamed(cfg *tls.Config, connectionString string) *tls.Config {
	if cfg == nil || cfg.ServerName != "" {
		return cfg
	}
	for _, part := range strings.Split(connectionString, ";") {
		k, v, _ := strings.Cut(part, "=")
		if !strings.EqualFold(strings.TrimSpace(k), "Endpoint") {
			continue
		}
		if u, err := url.Parse(strings.TrimSpace(v)); err == nil && u.Hostname() != "" {
			cfg = cfg.Clone()
			cfg.ServerName = u.Hostname()
		}
	}
	return cfg
}
