package device

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/internal/mqttconn"
)

// Twin topics of IoT Hub's MQTT protocol ("Communicate with your IoT hub
// using the MQTT protocol"; the Python SDK's mqtt_topic_iothub.py).
const (
	topicTwinResponses   = "$iothub/twin/res/#"
	topicDesiredPatches  = "$iothub/twin/PATCH/properties/desired/#"
	topicTwinGet         = "$iothub/twin/GET/?$rid="
	topicReportedPatch   = "$iothub/twin/PATCH/properties/reported/?$rid="
	prefixTwinResponse   = "$iothub/twin/res/"
	prefixDesiredPatch   = "$iothub/twin/PATCH/properties/desired/"
	resyncTimeout        = 30 * time.Second
	renewalRetryInterval = 5 * time.Second
)

var errConnectionLost = errors.New("mqtt connection lost before the hub answered")

// twinResponse is one $iothub/twin/res/{status}/?$rid=...&$version=... message.
type twinResponse struct {
	status  int
	version int64
	body    []byte
	err     error
}

// GetTwin reads the twin's desired and reported properties (with their
// $version, without $metadata, as the hub sends them over MQTT). A request
// cut off by a dropped connection is sent again once the client reconnects.
func (c *Client) GetTwin(ctx context.Context) (*hub.TwinProperties, error) {
	c.gate.RLock()
	defer c.gate.RUnlock()
	for {
		props, err := c.getTwin(ctx)
		if !errors.Is(err, errConnectionLost) {
			return props, err
		}
		if err := c.AwaitConnected(ctx); err != nil {
			return nil, fmt.Errorf("get twin %s: %w", c.clientID(), err)
		}
	}
}

// GetTwinJSON is GetTwin's answer as the hub sent it, so that a check can
// see everything the hub put in it: a device or module must never see the
// twin's tags, for instance, which GetTwin's result has no place for.
func (c *Client) GetTwinJSON(ctx context.Context) (json.RawMessage, error) {
	c.gate.RLock()
	defer c.gate.RUnlock()
	for {
		r, err := c.request(ctx, topicTwinGet, nil)
		if err == nil {
			return json.RawMessage(r.body), nil
		}
		if !errors.Is(err, errConnectionLost) {
			return nil, fmt.Errorf("get twin %s: %w", c.clientID(), err)
		}
		if err := c.AwaitConnected(ctx); err != nil {
			return nil, fmt.Errorf("get twin %s: %w", c.clientID(), err)
		}
	}
}

func (c *Client) getTwin(ctx context.Context) (*hub.TwinProperties, error) {
	r, err := c.request(ctx, topicTwinGet, nil)
	if err != nil {
		return nil, fmt.Errorf("get twin %s: %w", c.clientID(), err)
	}
	var props hub.TwinProperties
	if err := json.Unmarshal(r.body, &props); err != nil {
		return nil, fmt.Errorf("get twin %s: bad response body: %w", c.clientID(), err)
	}
	return &props, nil
}

// UpdateReported sends a reported-properties patch (nil values delete) and
// returns the reported $version the hub assigned. If the connection drops
// after the patch left, the error says so: the hub may have applied it, and
// it is not sent twice.
func (c *Client) UpdateReported(ctx context.Context, patch map[string]any) (int64, error) {
	body, err := json.Marshal(patch)
	if err != nil {
		return 0, fmt.Errorf("update reported %s: %w", c.clientID(), err)
	}
	return c.UpdateReportedJSON(ctx, body)
}

// UpdateReportedJSON is UpdateReported with the patch as raw JSON, so tests
// can send exactly the bytes they mean (including malformed ones).
func (c *Client) UpdateReportedJSON(ctx context.Context, body []byte) (int64, error) {
	c.gate.RLock()
	defer c.gate.RUnlock()
	r, err := c.request(ctx, topicReportedPatch, body)
	if err != nil {
		return 0, fmt.Errorf("update reported %s: %w", c.clientID(), err)
	}
	return r.version, nil
}

// request publishes a twin request with a fresh $rid and waits for its
// response; statuses of 300 and above become *Error.
func (c *Client) request(ctx context.Context, topic string, body []byte) (twinResponse, error) {
	rid := newRequestID()
	ch := make(chan twinResponse, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return twinResponse{}, errors.New("client closed")
	}
	c.pending[rid] = ch
	pc := c.client
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, rid)
		c.mu.Unlock()
	}()
	if body == nil {
		body = []byte{}
	}
	c.cfg.Emit(mqttconn.EventSent, c.clientID(), topic+rid, 1, body, "")
	if err := mqttconn.WaitToken(ctx, pc.Publish(topic+rid, 1, false, body)); err != nil {
		return twinResponse{}, err
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return r, r.err
		}
		if r.status >= 300 {
			return r, hub.ParseError(r.status, "", r.body)
		}
		return r, nil
	case <-ctx.Done():
		return twinResponse{}, ctx.Err()
	}
}

// onMessage routes everything the hub sends. paho calls it in order
// (OrderMatters), so it never blocks: responses go to a buffered channel of
// one, patches to an unbounded queue, method calls to goroutines of their
// own.
func (c *Client) onMessage(_ paho.Client, m paho.Message) {
	topic := m.Topic()
	c.cfg.EmitMessage(c.clientID(), m)
	switch {
	case strings.HasPrefix(topic, prefixTwinResponse):
		statusText, query, _ := strings.Cut(strings.TrimPrefix(topic, prefixTwinResponse), "/?")
		q, _ := url.ParseQuery(query)
		status, err := strconv.Atoi(statusText)
		if err != nil {
			c.log.Warn("twin response with a bad status", "topic", topic)
			return
		}
		version, _ := strconv.ParseInt(q.Get("$version"), 10, 64)
		c.mu.Lock()
		ch := c.pending[q.Get("$rid")]
		c.mu.Unlock()
		if ch != nil {
			select {
			case ch <- twinResponse{status: status, version: version, body: m.Payload()}:
			default:
			}
		}
	case strings.HasPrefix(topic, prefixMethodRequest):
		c.onMethodRequest(m)
	case strings.HasPrefix(topic, "devices/"+c.cs.DeviceID+"/messages/devicebound/"):
		c.onCloudMessage(m)
	case strings.HasPrefix(topic, prefixDesiredPatch):
		props, version, err := decodeDesiredPatch(topic, m.Payload())
		if err != nil {
			c.log.Warn("bad desired patch", "topic", topic, "error", err)
			return
		}
		c.offer(DesiredPatch{Version: version, Properties: props})
	default:
		c.log.Debug("unexpected message", "topic", topic)
	}
}

// decodeDesiredPatch reads a desired notification; the version comes from
// the body's $version, or the topic's when the body has none.
func decodeDesiredPatch(topic string, payload []byte) (map[string]any, int64, error) {
	var props map[string]any
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&props); err != nil {
		return nil, 0, err
	}
	version := hub.SectionVersion(props)
	delete(props, "$version")
	if version == 0 {
		_, query, _ := strings.Cut(topic, "?")
		q, _ := url.ParseQuery(query)
		version, _ = strconv.ParseInt(q.Get("$version"), 10, 64)
	}
	if version == 0 {
		return nil, 0, errors.New("no $version")
	}
	return props, version, nil
}

// offer delivers a live patch in version order.
func (c *Client) offer(p DesiredPatch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offerLocked(p, true)
}

// offerLocked delivers a patch unless the client already holds its version
// or a newer one (the hub's versions only grow, so an older patch is stale).
// During a resync it waits until the twin has been read. A version gap means
// a notification was lost: then, when mayResync, the client reads the whole
// desired section instead of delivering an incomplete picture. c.mu is held.
func (c *Client) offerLocked(p DesiredPatch, mayResync bool) {
	switch {
	case c.resyncing:
		c.buffered = append(c.buffered, p)
	case p.Version <= c.held:
		c.log.Debug("dropping stale desired patch", "version", p.Version, "held", c.held)
	case mayResync && c.held > 0 && p.Version > c.held+1:
		c.log.Info("desired $version skipped: reading the twin", "version", p.Version, "held", c.held)
		c.resyncing = true
		c.buffered = append(c.buffered, p)
		go c.resyncAfterGap()
	default:
		c.held = p.Version
		c.patches.push(p)
	}
}

// The back-off of retryResync: a GET that failed while connected (a slow
// or refusing hub) is tried again after 100 ms, doubling to 5 s.
const (
	minResyncRetry = 100 * time.Millisecond
	maxResyncRetry = 5 * time.Second
)

// retryResync reads the twin again, once the retry delay has passed on the
// client's clock, unless the client has reconnected since the read failed
// (that connect's own resync reads it), has closed, or is no longer
// waiting for a read.
func (c *Client) retryResync(seq int) {
	c.mu.Lock()
	stale := c.closed || c.connSeq != seq || !c.resyncing
	c.mu.Unlock()
	if stale {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), resyncTimeout)
	defer cancel()
	if err := c.resync(ctx, false); err != nil {
		c.log.Warn("reading the twin again failed", "error", err)
	}
}

func (c *Client) resyncAfterGap() {
	ctx, cancel := context.WithTimeout(context.Background(), resyncTimeout)
	defer cancel()
	if err := c.resync(ctx, false); err != nil {
		c.log.Warn("resync after a version gap failed", "error", err)
	}
}

// resync reads the twin and hands over what the client missed: after a
// reconnect or a version gap, one Full patch when the desired $version moved;
// on the first connect nothing, since the caller reads the twin itself. The
// patches that arrived meanwhile follow, those not newer than the GET
// dropped, so a push that overtook the GET answer cannot hide the Full one.
func (c *Client) resync(ctx context.Context, initial bool) error {
	props, err := c.getTwin(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.finishResync(props, err, initial)
	return err
}

// finishResync is resync once the GET has answered (or failed). c.mu is held.
//
// When a later resync's GET fails (most often because the connection
// dropped again while it was in flight), the patches that came meanwhile
// may follow a gap: delivering them would move the client's version past
// changes it never saw, and no later read would bring those back. So they
// stay held and the twin is read again: by the next connect's resync, or by
// retryResync if the client stays connected.
func (c *Client) finishResync(props *hub.TwinProperties, err error, initial bool) {
	if err != nil && !initial {
		c.retryDelay = min(max(2*c.retryDelay, minResyncRetry), maxResyncRetry)
		if !c.closed {
			seq := c.connSeq
			c.cfg.AfterFunc(c.retryDelay, func() { c.retryResync(seq) })
		}
		return
	}
	c.retryDelay = 0
	if err == nil {
		version := hub.SectionVersion(props.Desired)
		switch {
		case initial:
			c.held = max(c.held, version)
		case version > c.held:
			full := make(map[string]any, len(props.Desired))
			for k, v := range props.Desired {
				if k != "$version" && k != "$metadata" {
					full[k] = v
				}
			}
			c.held = version
			c.patches.push(DesiredPatch{Version: version, Properties: full, Full: true})
		}
	}
	c.resyncing = false
	buffered := c.buffered
	c.buffered = nil
	slices.SortFunc(buffered, func(a, b DesiredPatch) int { return cmp.Compare(a.Version, b.Version) })
	for _, p := range buffered {
		// After a failed GET, deliver in order rather than retry at once.
		c.offerLocked(p, err == nil)
	}
}

// onConnect runs after every (re)connect: subscribe (twin answers, desired
// patches, direct method calls), read the twin, deliver what changed while
// away, and schedule the next token renewal.
func (c *Client) onConnect(pc paho.Client) {
	c.mu.Lock()
	c.connSeq++
	first := c.connSeq == 1
	c.resyncing = true
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), resyncTimeout)
	defer cancel()
	filters := map[string]byte{topicTwinResponses: 1, topicDesiredPatches: 1, topicMethodRequests: 1}
	c.mu.Lock()
	if c.listening {
		filters[c.c2dFilter()] = 1
	}
	c.mu.Unlock()
	tok := pc.SubscribeMultiple(filters, c.onMessage)
	err := mqttconn.WaitToken(ctx, tok)
	c.cfg.Emit(mqttconn.EventSubscribe, c.clientID(), mqttconn.FilterList(filters), 1, nil, mqttconn.SubackDetail(tok, err))
	if err == nil {
		err = c.resync(ctx, first)
	} else {
		c.mu.Lock()
		c.finishResync(nil, err, first)
		c.mu.Unlock()
	}
	if err != nil {
		c.log.Warn("resync after connect failed", "error", err)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if first {
		c.readyErr = err
		close(c.ready)
	}
	select {
	case <-c.up:
	default:
		close(c.up)
	}
	if !c.closed && c.cfg.UsesSAS() {
		if c.renew != nil {
			c.renew()
		}
		c.renew = c.cfg.AfterFunc(c.cfg.TTL*4/5, c.renewToken)
	}
}

// onConnectionLost fails the requests waiting for an answer (GetTwin sends
// its request again after the reconnect, UpdateReported reports the loss)
// and discards the direct method calls in flight.
func (c *Client) onConnectionLost(err error) {
	c.log.Info("mqtt connection lost", "error", err)
	c.cfg.Emit(mqttconn.EventConnectionLost, c.clientID(), "", 0, nil, err.Error())
	c.markDown()
	c.failPending(errConnectionLost)
	c.dropCalls()
}

func (c *Client) failPending(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.pending {
		select {
		case ch <- twinResponse{err: err}:
		default:
		}
	}
}

// AwaitConnected waits until the client is connected and has caught up
// with its twin (the read after every connect), or ctx ends.
func (c *Client) AwaitConnected(ctx context.Context) error {
	c.mu.Lock()
	up := c.up
	c.mu.Unlock()
	select {
	case <-up:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// markDown records that the connection is gone until the next onConnect.
func (c *Client) markDown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.up:
		c.up = make(chan struct{})
	default:
	}
}

// renewToken reconnects with a fresh SAS token before the current one
// expires, as the SDKs do: the hub takes a token only at CONNECT. It waits
// for operations in flight and keeps new ones out until it is back; the
// persistent session keeps the subscriptions. The old paho client is
// disconnected first so its auto-reconnect cannot fight the new one.
func (c *Client) renewToken() {
	c.gate.Lock()
	defer c.gate.Unlock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	old := c.client
	next := c.newPaho(c.tlsCfg)
	c.client = next
	c.mu.Unlock()

	c.log.Info("renewing sas token", "client", c.clientID())
	c.markDown()
	c.cfg.Emit(mqttconn.EventDisconnect, c.clientID(), "", 0, nil, "to renew the SAS token")
	old.Disconnect(250)
	ctx, cancel := context.WithTimeout(context.Background(), resyncTimeout)
	defer cancel()
	tok := next.Connect()
	if err := mqttconn.WaitToken(ctx, tok); err != nil {
		c.emitConnect(mqttconn.ConnectOutcome(tok, err))
		c.log.Warn("reconnect for token renewal failed", "error", err)
		next.Disconnect(0) // stop it connecting on its own; the retry dials anew
		c.mu.Lock()
		if !c.closed {
			c.renew = c.cfg.AfterFunc(renewalRetryInterval, c.renewToken)
		}
		c.mu.Unlock()
	}
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
