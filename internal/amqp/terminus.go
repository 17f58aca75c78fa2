package amqp

import "fmt"

// Source is a link's source terminus (part 3, section 3.5.3). Filter holds
// the filter set as the peer sent it: Event Hubs receivers send
// apache.org:selector-filter:string as a Described whose value is the
// selector text (amqp.annotation.x-opt-offset > '-1'), which the
// application interprets.
type Source struct {
	Address               string
	Durable               uint32
	ExpiryPolicy          Symbol
	Timeout               uint32
	Dynamic               bool
	DynamicNodeProperties map[Symbol]any
	DistributionMode      Symbol
	Filter                map[Symbol]any
	DefaultOutcome        DeliveryState
	Outcomes              []Symbol
	Capabilities          []Symbol
}

// Target is a link's target terminus (part 3, section 3.5.4).
type Target struct {
	Address               string
	Durable               uint32
	ExpiryPolicy          Symbol
	Timeout               uint32
	Dynamic               bool
	DynamicNodeProperties map[Symbol]any
	Capabilities          []Symbol
}

func (*Source) descriptor() uint64 { return 0x28 }
func (*Target) descriptor() uint64 { return 0x29 }

func (s *Source) fields() []any {
	return []any{&s.Address, &s.Durable, &s.ExpiryPolicy, &s.Timeout, &s.Dynamic, &s.DynamicNodeProperties,
		&s.DistributionMode, &s.Filter, &s.DefaultOutcome, &s.Outcomes, &s.Capabilities}
}

func (t *Target) fields() []any {
	return []any{&t.Address, &t.Durable, &t.ExpiryPolicy, &t.Timeout, &t.Dynamic, &t.DynamicNodeProperties,
		&t.Capabilities}
}

// Error is an AMQP error (part 2, section 2.8.14): what close, end and
// detach carry, and what a rejected outcome holds. It is also a Go error,
// so the application's callbacks return one to choose the condition the
// peer sees.
type Error struct {
	Condition   Symbol
	Description string
	Info        map[Symbol]any
}

func (*Error) descriptor() uint64 { return 0x1d }
func (e *Error) fields() []any    { return []any{&e.Condition, &e.Description, &e.Info} }

func (e *Error) Error() string {
	if e.Description == "" {
		return string(e.Condition)
	}
	return fmt.Sprintf("%s: %s", e.Condition, e.Description)
}

// Error conditions of part 2, section 2.8.15 to 2.8.18, the ones this
// package sends and the ones an application is most likely to choose.
const (
	ErrInternal            Symbol = "amqp:internal-error"
	ErrNotFound            Symbol = "amqp:not-found"
	ErrUnauthorizedAccess  Symbol = "amqp:unauthorized-access"
	ErrDecode              Symbol = "amqp:decode-error"
	ErrResourceLimit       Symbol = "amqp:resource-limit-exceeded"
	ErrNotAllowed          Symbol = "amqp:not-allowed"
	ErrInvalidField        Symbol = "amqp:invalid-field"
	ErrNotImplemented      Symbol = "amqp:not-implemented"
	ErrPreconditionFailed  Symbol = "amqp:precondition-failed"
	ErrConnectionForced    Symbol = "amqp:connection:forced"
	ErrFramingError        Symbol = "amqp:connection:framing-error"
	ErrWindowViolation     Symbol = "amqp:session:window-violation"
	ErrErrantLink          Symbol = "amqp:session:errant-link"
	ErrHandleInUse         Symbol = "amqp:session:handle-in-use"
	ErrUnattachedHandle    Symbol = "amqp:session:unattached-handle"
	ErrDetachForced        Symbol = "amqp:link:detach-forced"
	ErrTransferLimit       Symbol = "amqp:link:transfer-limit-exceeded"
	ErrMessageSizeExceeded Symbol = "amqp:link:message-size-exceeded"
	ErrStolen              Symbol = "amqp:link:stolen"
)

// DeliveryState is the state of a delivery: Received, or one of the
// outcomes Accepted, Rejected, Released and Modified (part 3, section 3.4).
type DeliveryState interface {
	composite
	deliveryState()
}

// Received is the non-terminal state that says how much of a message has
// arrived (3.4.1); it only matters when resuming links, which this package
// does not do.
type Received struct {
	SectionNumber uint32
	SectionOffset uint64
}

// Accepted is the outcome of a message processed successfully (3.4.2).
type Accepted struct{}

// Rejected is the outcome of a message that is invalid, with why (3.4.3).
type Rejected struct{ Error *Error }

// Released is the outcome of a message not processed, that may be
// redelivered (3.4.4).
type Released struct{}

// Modified is Released with changes for the next delivery (3.4.5).
type Modified struct {
	DeliveryFailed     bool
	UndeliverableHere  bool
	MessageAnnotations Annotations
}

func (*Received) descriptor() uint64 { return 0x23 }
func (*Accepted) descriptor() uint64 { return 0x24 }
func (*Rejected) descriptor() uint64 { return 0x25 }
func (*Released) descriptor() uint64 { return 0x26 }
func (*Modified) descriptor() uint64 { return 0x27 }

func (r *Received) fields() []any { return []any{&r.SectionNumber, &r.SectionOffset} }
func (*Accepted) fields() []any   { return nil }
func (r *Rejected) fields() []any { return []any{&r.Error} }
func (*Released) fields() []any   { return nil }
func (m *Modified) fields() []any {
	return []any{&m.DeliveryFailed, &m.UndeliverableHere, &m.MessageAnnotations}
}

func (*Received) deliveryState() {}
func (*Accepted) deliveryState() {}
func (*Rejected) deliveryState() {}
func (*Released) deliveryState() {}
func (*Modified) deliveryState() {}
