package device

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/internal/mqttconn"
)

// Direct method topics of IoT Hub's MQTT protocol ("Respond to a direct
// method"; the Python SDK's mqtt_topic_iothub.py).
const (
	topicMethodRequests = "$iothub/methods/POST/#"
	prefixMethodRequest = "$iothub/methods/POST/"
	// statusNotImplemented answers a method nobody handles, as the C# SDK
	// does (MethodResponseStatusCode.MethodNotImplemented).
	statusNotImplemented = 501
	// statusHandlerFailed answers a call whose handler gave a response that
	// cannot be JSON, as the C# SDK answers a handler that throws
	// (MethodResponseStatusCode.UserCodeException).
	statusHandlerFailed = 500
)

// MethodRequest is a direct method call the hub delivered.
type MethodRequest struct {
	// Name is the method called.
	Name string
	// RequestID is the hub's $rid for the call, which the answer carries.
	RequestID string
	// Payload is the call's JSON payload as the hub sent it; nil when the
	// service sent none (the hub then sends an empty body).
	Payload json.RawMessage
}

// MethodHandler answers a direct method call with a status and a
// response: marshalled to JSON, a json.RawMessage sent as it is, nil sent
// as an empty body (the service then sees payload null). ctx ends when the
// client closes or the connection that brought the call is lost: the
// answer is then discarded, as the Python SDK discards calls in flight
// when it disconnects.
type MethodHandler func(ctx context.Context, req MethodRequest) (status int, response any)

// HandleMethod makes h answer the calls of the method name; name "" makes
// h answer every method that has no handler of its own. A nil h removes
// the handler. The client subscribes to method calls whenever it
// connects, so a call of a method nobody handles is answered 501 with an
// empty body. Handlers run on goroutines of their own, so many calls can
// be in flight at once.
func (c *Client) HandleMethod(name string, h MethodHandler) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h == nil {
		delete(c.handlers, name)
		return
	}
	c.handlers[name] = h
}

// onMethodRequest takes a call from paho's ordered message callback, so it
// never blocks: the handler runs on a goroutine of its own.
func (c *Client) onMethodRequest(m paho.Message) {
	req, err := parseMethodRequest(m.Topic(), m.Payload())
	if err != nil {
		c.log.Warn("bad method request", "topic", m.Topic(), "error", err)
		return
	}
	c.mu.Lock()
	h, ok := c.handlers[req.Name]
	if !ok {
		h = c.handlers[""]
	}
	ctx := c.callsCtx
	c.mu.Unlock()
	go func() {
		status, response := statusNotImplemented, any(nil)
		if h != nil {
			status, response = h(ctx, req)
		}
		if err := c.answerMethod(ctx, req, status, response); err != nil {
			c.log.Info("method answer not sent", "method", req.Name, "rid", req.RequestID, "error", err)
		}
	}()
}

// parseMethodRequest reads $iothub/methods/POST/{name}/?$rid={rid}. The
// name is percent-decoded as the Python SDK decodes it.
func parseMethodRequest(topic string, payload []byte) (MethodRequest, error) {
	rest := strings.TrimPrefix(topic, prefixMethodRequest)
	path, query, _ := strings.Cut(rest, "?")
	name := strings.TrimSuffix(path, "/")
	if n, err := url.PathUnescape(name); err == nil {
		name = n
	}
	q, err := url.ParseQuery(query)
	if err != nil || q.Get("$rid") == "" || name == "" {
		return MethodRequest{}, errors.New("no method name or $rid")
	}
	req := MethodRequest{Name: name, RequestID: q.Get("$rid")}
	if len(payload) > 0 {
		req.Payload = json.RawMessage(append([]byte(nil), payload...))
	}
	return req, nil
}

// answerMethod publishes $iothub/methods/res/{status}/?$rid={rid} with
// the response, unless ctx has ended (the call's connection is gone).
func (c *Client) answerMethod(ctx context.Context, req MethodRequest, status int, response any) error {
	body, err := responseBody(response)
	if err != nil {
		c.log.Warn("method response is not JSON: answering 500", "method", req.Name, "error", err)
		status, body = statusHandlerFailed, nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("the call's connection is gone: %w", err)
	}
	c.gate.RLock()
	defer c.gate.RUnlock()
	c.mu.Lock()
	pc := c.client
	c.mu.Unlock()
	topic := "$iothub/methods/res/" + strconv.Itoa(status) + "/?$rid=" + hub.EscapeAll(req.RequestID)
	c.cfg.Emit(mqttconn.EventSent, c.clientID(), topic, 1, body, "")
	return mqttconn.WaitToken(ctx, pc.Publish(topic, 1, false, body))
}

// responseBody is a handler's response as JSON; nil is an empty body.
func responseBody(response any) ([]byte, error) {
	switch r := response.(type) {
	case nil:
		return []byte{}, nil
	case json.RawMessage:
		if r == nil {
			return []byte{}, nil
		}
		if !json.Valid(r) {
			return nil, errors.New("json.RawMessage that is not JSON")
		}
		return r, nil
	}
	return json.Marshal(response)
}

// dropCalls discards the calls in flight on the connection that was just
// lost (or on a closing client): their handlers' contexts end, and their
// answers are not sent. Calls that arrive later get a fresh context.
func (c *Client) dropCalls() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cancelCalls()
	if !c.closed {
		c.callsCtx, c.cancelCalls = context.WithCancel(context.Background())
	}
}
