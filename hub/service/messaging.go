package service

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/Azure/go-amqp"
	"github.com/hubspec/hubspec/hub"
)

// The hub's service-facing cloud-to-device nodes and the CBS token type the
// service SDKs put (the Python SDK's iothub_amqp_client.py, the C# SDK's
// AmqpClientHelper).
const (
	nodeDeviceBound = "/messages/devicebound"
	nodeFeedback    = "/messages/servicebound/feedback"
	cbsTokenType    = "servicebus.windows.net:sastoken"
	amqpsPort       = "5671"
)

// Acknowledgement values of iothub-ack: which outcomes of a message the hub
// reports as feedback.
const (
	AckNone     = "none"
	AckPositive = "positive"
	AckNegative = "negative"
	AckFull     = "full"
)

// CloudMessage is a cloud-to-device message.
type CloudMessage struct {
	// MessageID correlates the message with its feedback; feedback needs one.
	MessageID     string
	CorrelationID string
	// Ack is the iothub-ack the message carries ("" sends none: AckNone).
	Ack string
	// Expiry is the message's absolute expiry time; zero takes the hub's
	// default time to live.
	Expiry                       time.Time
	ContentType, ContentEncoding string
	// Properties are the application properties the device receives.
	Properties map[string]string
	Body       []byte
}

// FeedbackRecord is one record of a feedback batch, as the hub writes it.
type FeedbackRecord struct {
	OriginalMessageID  string `json:"originalMessageId"`
	DeviceGenerationID string `json:"deviceGenerationId"`
	DeviceID           string `json:"deviceId"`
	EnqueuedTimeUTC    string `json:"enqueuedTimeUtc"`
	// StatusCode is Success, Expired, DeliveryCountExceeded, Rejected or
	// Purged.
	StatusCode  string `json:"statusCode"`
	Description string `json:"description"`
}

// MessagingClient sends cloud-to-device messages and receives their
// feedback over AMQPS, as the service SDKs do: SASL ANONYMOUS, then a SAS
// token of the connection string's policy put on $cbs, then a sender link
// to /messages/devicebound and, when asked for, a receiver link from
// /messages/servicebound/feedback. It is safe for concurrent use.
type MessagingClient struct {
	conn    *amqp.Conn
	session *amqp.Session
	sender  *amqp.Sender

	mu       sync.Mutex // guards feedback
	feedback *amqp.Receiver
}

// DialMessaging connects to the hub of a service connection string whose
// policy holds ServiceConnect. The address is the hub's HostName on port
// 5671 unless WithAMQPAddress says otherwise; WithTLSConfig sets the trust.
func DialMessaging(ctx context.Context, connectionString string, opts ...Option) (*MessagingClient, error) {
	cs, err := hub.ParseConnectionString(connectionString)
	if err != nil {
		return nil, err
	}
	if !cs.IsService() {
		return nil, errors.New("messaging client: needs a service (shared access policy) connection string")
	}
	cfg := registryConfig{ttl: time.Hour, clock: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	addr, tlsCfg := amqpTarget(cs.HostName, cfg)
	conn, err := amqp.Dial(ctx, "amqps://"+addr, &amqp.ConnOptions{
		SASLType: amqp.SASLTypeAnonymous(), TLSConfig: tlsCfg, HostName: hostOnly(cs.HostName),
	})
	if err != nil {
		return nil, fmt.Errorf("messaging client: dial %s: %w", addr, err)
	}
	c := &MessagingClient{conn: conn}
	if err := c.open(ctx, cs, cfg); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// amqpTarget is the address to dial and the TLS configuration, with the
// server name set to the hub's host when the address names another host.
func amqpTarget(hostName string, cfg registryConfig) (string, *tls.Config) {
	addr := cfg.amqpAddr
	if addr == "" {
		addr = net.JoinHostPort(hostOnly(hostName), amqpsPort)
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.tlsConfig != nil {
		tlsCfg = cfg.tlsConfig.Clone()
	}
	if tlsCfg.ServerName == "" {
		tlsCfg.ServerName = hostOnly(hostName)
	}
	return addr, tlsCfg
}

// open puts the token on $cbs and attaches the sender.
func (c *MessagingClient) open(ctx context.Context, cs hub.ConnectionString, cfg registryConfig) error {
	var err error
	if c.session, err = c.conn.NewSession(ctx, nil); err != nil {
		return fmt.Errorf("messaging client: session: %w", err)
	}
	token, err := hub.BuildSASToken(cs.HostName, cs.SharedAccessKey, cs.SharedAccessKeyName, cfg.clock().Add(cfg.ttl))
	if err != nil {
		return fmt.Errorf("messaging client: %w", err)
	}
	if err := putToken(ctx, c.session, cs.HostName, token); err != nil {
		return fmt.Errorf("messaging client: put-token: %w", err)
	}
	if c.sender, err = c.session.NewSender(ctx, nodeDeviceBound, nil); err != nil {
		return fmt.Errorf("messaging client: attach %s: %w", nodeDeviceBound, err)
	}
	return nil
}

// putToken sends a CBS put-token on $cbs and waits for its answer
// (status-code 200, or the hub's refusal).
func putToken(ctx context.Context, s *amqp.Session, audience, token string) error {
	const replyTo = "cbs-reply"
	recv, err := s.NewReceiver(ctx, "$cbs", &amqp.ReceiverOptions{TargetAddress: replyTo})
	if err != nil {
		return err
	}
	defer recv.Close(ctx)
	send, err := s.NewSender(ctx, "$cbs", nil)
	if err != nil {
		return err
	}
	defer send.Close(ctx)
	id := "put-token-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	req := &amqp.Message{
		Properties: &amqp.MessageProperties{MessageID: id, ReplyTo: to(replyTo)},
		ApplicationProperties: map[string]any{
			"operation": "put-token", "type": cbsTokenType, "name": audience,
		},
		Value: token,
	}
	if err := send.Send(ctx, req, nil); err != nil {
		return err
	}
	resp, err := recv.Receive(ctx, nil)
	if err != nil {
		return err
	}
	_ = recv.AcceptMessage(ctx, resp)
	code, _ := resp.ApplicationProperties["status-code"].(int32)
	if code != 200 && code != 202 {
		desc, _ := resp.ApplicationProperties["status-description"].(string)
		return hub.ErrUnauthorized.WithMessage("put-token answered %d: %s", code, desc)
	}
	return nil
}

func to[T any](v T) *T { return &v }

// Send sends a cloud-to-device message to a device and returns once the
// hub has queued it; a refusal comes back as a *hub.Error: 404001
// DeviceNotFound, 403004 DeviceMaximumQueueDepthExceeded (50 messages
// wait), 413001 MessageTooLarge (a body over 64 KB), 400004 for a
// malformed message, 401002 for a claim that no longer holds.
func (c *MessagingClient) Send(ctx context.Context, deviceID string, m CloudMessage) error {
	msg := &amqp.Message{
		Properties: &amqp.MessageProperties{To: to("/devices/" + deviceID + "/messages/devicebound")},
		Data:       [][]byte{m.Body},
	}
	p := msg.Properties
	if m.MessageID != "" {
		p.MessageID = m.MessageID
	}
	if m.CorrelationID != "" {
		p.CorrelationID = m.CorrelationID
	}
	if m.ContentType != "" {
		p.ContentType = to(m.ContentType)
	}
	if m.ContentEncoding != "" {
		p.ContentEncoding = to(m.ContentEncoding)
	}
	if !m.Expiry.IsZero() {
		p.AbsoluteExpiryTime = to(m.Expiry)
	}
	msg.ApplicationProperties = map[string]any{}
	for k, v := range m.Properties {
		msg.ApplicationProperties[k] = v
	}
	if m.Ack != "" {
		msg.ApplicationProperties["iothub-ack"] = m.Ack
	}
	if err := c.sender.Send(ctx, msg, nil); err != nil {
		return fmt.Errorf("send c2d message to %s: %w", deviceID, hubErrorOf(err))
	}
	return nil
}

// hubErrorOf maps the hub's rejection of a message to the IoT Hub error its
// condition stands for (the C# service SDK's AmqpErrorMapper).
func hubErrorOf(err error) error {
	var ae *amqp.Error
	if !errors.As(err, &ae) {
		return err
	}
	known := map[amqp.ErrCond]*hub.Error{
		amqp.ErrCondNotFound:                  hub.ErrDeviceNotFound,
		amqp.ErrCondResourceLimitExceeded:     hub.ErrDeviceMaximumQueueDepthExceeded,
		amqp.ErrCondMessageSizeExceeded:       hub.ErrMessageTooLarge,
		amqp.ErrCondUnauthorizedAccess:        hub.ErrUnauthorized,
		"com.microsoft:argument-error":        hub.ErrArgumentInvalid,
		"com.microsoft:device-not-found":      hub.ErrDeviceNotFound,
		"com.microsoft:quota-exceeded":        hub.ErrQuotaExceeded,
		"com.microsoft:iot-hub-suspended":     hub.ErrServiceUnavailable,
		"com.microsoft:argument-out-of-range": hub.ErrArgumentInvalid,
	}
	if he, ok := known[ae.Condition]; ok {
		return he.WithMessage("%s", ae.Description)
	}
	return err
}

// ReceiveFeedback returns the records of the next feedback batch, and
// accepts the batch, so the hub forgets it. The first call attaches the
// feedback receiver; batches go to whichever receiver of the hub asks
// first, so one process should have one.
func (c *MessagingClient) ReceiveFeedback(ctx context.Context) ([]FeedbackRecord, error) {
	c.mu.Lock()
	if c.feedback == nil {
		r, err := c.session.NewReceiver(ctx, nodeFeedback, nil)
		if err != nil {
			c.mu.Unlock()
			return nil, fmt.Errorf("attach %s: %w", nodeFeedback, hubErrorOf(err))
		}
		c.feedback = r
	}
	r := c.feedback
	c.mu.Unlock()
	msg, err := r.Receive(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("receive feedback: %w", err)
	}
	var records []FeedbackRecord
	if err := json.Unmarshal(msg.GetData(), &records); err != nil {
		_ = r.RejectMessage(ctx, msg, &amqp.Error{Condition: amqp.ErrCondDecodeError, Description: err.Error()})
		return nil, fmt.Errorf("feedback batch: %w", err)
	}
	if err := r.AcceptMessage(ctx, msg); err != nil {
		return nil, fmt.Errorf("accept feedback: %w", err)
	}
	return records, nil
}

// Close closes the connection and its links.
func (c *MessagingClient) Close() error { return c.conn.Close() }

// hostOnly drops a ":port" from a HostName: the emulator's carries its
// HTTPS port, which is neither the AMQP port nor part of the TLS name.
func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}

// PurgeCloudMessages empties a device's cloud-to-device queue
// (DELETE /devices/{id}/commands) and returns how many messages it held.
func (c *RegistryClient) PurgeCloudMessages(ctx context.Context, deviceID string) (int, error) {
	var out struct {
		TotalMessagesPurged int `json:"totalMessagesPurged"`
	}
	err := c.do(ctx, restCall{method: "DELETE", path: devicePath(deviceID) + "/commands", ok: []int{200}, out: &out})
	if err != nil {
		return 0, fmt.Errorf("purge cloud messages of %s: %w", deviceID, err)
	}
	return out.TotalMessagesPurged, nil
}
