package emulator

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hubspec/hubspec/internal/amqp"
)

// eventHubEndpoint serves the built-in endpoint over AMQP: $cbs for
// claims, $management for the hub's and partitions' properties, and one
// receiver link per partition and consumer group.
type eventHubEndpoint struct {
	hub       *eventHub
	policies  *policies
	host      string // the hub's host name, as tokens' sr names it
	now       func() time.Time
	log       *slog.Logger
	cbs, mgmt amqp.Node
}

func newEventHubEndpoint(h *eventHub, p *policies, host string, now func() time.Time, log *slog.Logger) *eventHubEndpoint {
	e := &eventHubEndpoint{hub: h, policies: p, host: host, now: now, log: log}
	e.cbs.Handle = e.putToken
	e.mgmt.Handle = e.management
	return e
}

// server is the AMQP server of the endpoint.
func (e *eventHubEndpoint) server() *amqp.Server {
	return &amqp.Server{ContainerID: e.hub.name, Authenticate: e.saslAuthenticate, Attach: e.attach}
}

// attach routes a link by its address.
func (e *eventHubEndpoint) attach(l *amqp.Link) error {
	addr := l.Address()
	switch addr {
	case "$cbs":
		return e.cbs.Attach(l)
	case "$management":
		return e.mgmt.Attach(l)
	}
	if l.Role() != amqp.RoleSender {
		return &amqp.Error{Condition: amqp.ErrNotAllowed, Description: "the built-in endpoint only serves receivers"}
	}
	p, err := e.partitionOf(addr)
	if err != nil {
		return err
	}
	if claims, _ := l.Conn().Identity().(*ehClaims); claims == nil || !claims.valid(e.now()) {
		return &amqp.Error{Condition: amqp.ErrUnauthorizedAccess, Description: "no valid claim for " + addr + ": put a token on $cbs first"}
	}
	var filter map[amqp.Symbol]any
	if src := l.Source(); src != nil {
		filter = src.Filter
	}
	pos, err := startPosition(filter, p.latest)
	if err != nil {
		return &amqp.Error{Condition: amqp.ErrNotImplemented, Description: err.Error()}
	}
	// The answer carries the receiver's link properties (com.microsoft:
	// timeout, epoch): pyamqp merges the answer's into its own with
	// dict.update, which fails on none (docs/fidelity.md, "pyamqp's wire habits").
	l.SetProperties(l.Properties())
	go e.stream(l, p, pos)
	return nil
}

// partitionOf reads {entity}/ConsumerGroups/{cg}/Partitions/{p}, alone
// (azeventhubs) or after amqps://{host}/ (Python's pyamqp names the
// partition by its full URI); the entity and the words compare
// case-insensitively, as Event Hubs does.
func (e *eventHubEndpoint) partitionOf(addr string) (*ehPartition, error) {
	path := addr
	if _, rest, ok := strings.Cut(addr, "://"); ok {
		_, path, _ = strings.Cut(rest, "/")
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) != 5 || !strings.EqualFold(parts[0], e.hub.name) ||
		!strings.EqualFold(parts[1], "ConsumerGroups") || !strings.EqualFold(parts[3], "Partitions") {
		return nil, &amqp.Error{Condition: amqp.ErrNotFound, Description: fmt.Sprintf("no such entity %q", addr)}
	}
	if !strings.EqualFold(parts[2], "$Default") {
		return nil, &amqp.Error{Condition: amqp.ErrNotFound, Description: fmt.Sprintf("no consumer group %q (the emulator has $Default only)", parts[2])}
	}
	p := e.hub.partition(parts[4])
	if p == nil {
		return nil, &amqp.Error{Condition: amqp.ErrNotFound, Description: fmt.Sprintf("no partition %q", parts[4])}
	}
	return p, nil
}

// stream sends a partition's events from pos on, pre-settled, as the
// link's credit allows (SendSettled waits for credit), and waits on the partition's wake
// channel when it has sent everything: no polling.
func (e *eventHubEndpoint) stream(l *amqp.Link, p *ehPartition, pos ehPosition) {
	ctx, cancel := l.Context()
	defer cancel()
	for {
		batch, wake := p.from(pos, 64)
		for _, ev := range batch {
			if err := l.SendSettled(ctx, ev.msg); err != nil {
				return
			}
			pos = ehPosition{field: posSequence, value: ev.seq}
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return
		}
	}
}

// management answers $management READ requests as azeventhubs sends them
// (mgmt.go): com.microsoft:eventhub and com.microsoft:partition, each
// with a security_token checked like a put-token (see mayManage).
func (e *eventHubEndpoint) management(_ context.Context, c *amqp.Conn, req *amqp.Message) (*amqp.Message, error) {
	answer := func(code int32, desc string, body any) *amqp.Message {
		return &amqp.Message{ApplicationProperties: map[string]any{"status-code": code, "status-description": desc}, Value: body}
	}
	ap := req.ApplicationProperties
	op, typ, name, token := propText(ap, "operation"), propText(ap, "type"), propText(ap, "name"), propText(ap, "security_token")
	if op != "READ" {
		return answer(400, "operation must be READ", nil), nil
	}
	if !e.mayManage(c, token) {
		return answer(401, "Unauthorized: the security_token does not grant ServiceConnect on this event hub", nil), nil
	}
	if !strings.EqualFold(name, e.hub.name) {
		return answer(404, fmt.Sprintf("no event hub %q", name), nil), nil
	}
	switch typ {
	case "com.microsoft:eventhub":
		return answer(200, "OK", map[string]any{
			"name":                  e.hub.name,
			"created_at":            e.hub.created,
			"partition_count":       int32(len(e.hub.partitions)),
			"partition_ids":         amqp.StringArray(e.hub.partitionIDs()...),
			"georeplication_factor": int32(1),
		}), nil
	case "com.microsoft:partition":
		id := propText(ap, "partition")
		p := e.hub.partition(id)
		if p == nil {
			return answer(404, fmt.Sprintf("no partition %q", id), nil), nil
		}
		begin, last, lastOffset, lastTime, empty := p.info()
		return answer(200, "OK", map[string]any{
			"name":                          e.hub.name,
			"partition":                     id,
			"begin_sequence_number":         begin,
			"last_enqueued_sequence_number": last,
			"last_enqueued_offset":          fmt.Sprint(lastOffset),
			"last_enqueued_time_utc":        lastTime,
			"is_partition_empty":            empty,
		}), nil
	}
	return answer(400, fmt.Sprintf("type %q not supported", typ), nil), nil
}

// mayManage authorizes a $management request: by its security_token, or
// else by the connection's claim from a put-token. Python's pyamqp
// (azure-eventhub 5.11) puts a token on $cbs first and sends the
// security_token as a described value (its (token, expiry) tuple) no
// string reading can use.
func (e *eventHubEndpoint) mayManage(c *amqp.Conn, token string) bool {
	if _, err := e.policies.authorizeEventHub(token, e.host, e.hub.name, e.now()); err == nil {
		return true
	}
	claims, _ := c.Identity().(*ehClaims)
	return claims != nil && claims.valid(e.now())
}
