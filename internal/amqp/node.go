package amqp

import (
	"context"
	"errors"
	"sync"
)

// Node serves a request/response node such as $cbs (claims-based
// security: put-token) or $management, the pattern of the AMQP Management
// draft that IoT Hub and Event Hubs follow: the peer attaches a sender to
// the node's address and a receiver from it whose target address is the
// peer's reply address; each request carries that address in reply-to and
// the response goes back on the receiver with the request's message-id as
// its correlation-id. A request without reply-to is answered on the
// receiver whose target address is the node's own: Python's pyamqp
// (azure-eventhub 5.11, management_link.py) attaches its receiver so and
// sends no reply-to.
//
// The application routes both links of the node to Attach from its
// Server.Attach.
type Node struct {
	// Handle answers one request; the connection identifies the peer. An
	// error rejects the request instead (an *Error keeps its condition).
	Handle func(ctx context.Context, c *Conn, req *Message) (*Message, error)

	mu      sync.Mutex
	replies map[replyKey]*Link
}

type replyKey struct {
	c       *Conn
	address string
}

// ErrNoReplyLink rejects a request whose reply-to names no receiver the
// peer attached.
var ErrNoReplyLink = &Error{Condition: ErrPreconditionFailed, Description: "reply-to names no attached receiver of this node"}

// Attach takes one of the node's links: a receiver (the peer's requests)
// is served by a goroutine until it ends; a sender is kept as a reply
// link under its target address.
func (n *Node) Attach(l *Link) error {
	if l.Role() == RoleSender {
		if l.Target() == nil || l.Target().Address == "" {
			return &Error{Condition: ErrInvalidField, Description: "a reply link needs a target address"}
		}
		key := replyKey{l.Conn(), l.Target().Address}
		n.mu.Lock()
		if n.replies == nil {
			n.replies = map[replyKey]*Link{}
		}
		n.replies[key] = l
		n.mu.Unlock()
		go func() {
			<-l.Done()
			n.mu.Lock()
			if n.replies[key] == l {
				delete(n.replies, key)
			}
			n.mu.Unlock()
		}()
		return nil
	}
	go n.serve(l)
	return nil
}

func (n *Node) serve(l *Link) {
	ctx, cancel := l.Context()
	defer cancel()
	for {
		d, err := l.Receive(ctx)
		if err != nil {
			return
		}
		n.answer(ctx, d)
	}
}

// replyLink is the peer's receiver that answers go to: the one whose target
// address is replyTo. A request without reply-to is answered on the
// receiver whose target address is the node's own (pyamqp, see Node) or,
// failing that, on the connection's only receiver of the node:
// azure-uamqp-c's amqp_management.c (the Python service SDK's and the C
// SDK's $cbs client) sends no reply-to and reads answers on the receiver it
// attached to the node, whatever its target.
func (n *Node) replyLink(c *Conn, replyTo, nodeAddress string) *Link {
	n.mu.Lock()
	defer n.mu.Unlock()
	if replyTo != "" {
		return n.replies[replyKey{c, replyTo}]
	}
	if l, ok := n.replies[replyKey{c, nodeAddress}]; ok {
		return l
	}
	var only *Link
	for k, l := range n.replies {
		if k.c != c {
			continue
		}
		if only != nil {
			return nil
		}
		only = l
	}
	return only
}

// answer handles one request: the request is accepted, then the response
// sent without waiting for its outcome: a peer such as go-amqp's Sender
// waits for the request's outcome before it reads the response, so
// waiting for the response's outcome first would wait forever.
func (n *Node) answer(ctx context.Context, d *Delivery) {
	req := d.Message
	var replyTo string
	var id any
	if req.Properties != nil {
		replyTo, id = req.Properties.ReplyTo, req.Properties.MessageID
		if id == nil {
			id = req.Properties.CorrelationID
		}
	}
	reply := n.replyLink(d.Link().Conn(), replyTo, d.Link().Address())
	if reply == nil {
		_ = d.Reject(ErrNoReplyLink)
		return
	}
	resp, err := n.Handle(ctx, d.Link().Conn(), req)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = &Error{Condition: ErrInternal, Description: err.Error()}
		}
		_ = d.Reject(e)
		return
	}
	if resp.Properties == nil {
		resp.Properties = &Properties{}
	}
	resp.Properties.CorrelationID = id
	resp.Properties.To = replyTo
	if d.Accept() != nil {
		return
	}
	_ = reply.post(ctx, resp)
}
