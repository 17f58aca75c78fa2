package amqp

import (
	"errors"
	"time"
)

// Annotations are the delivery and message annotations and the footer:
// maps keyed by symbols (or ulongs) such as iothub-connection-device-id or
// x-opt-offset.
type Annotations map[any]any

// Message is an AMQP message: its sections in the order part 3, section
// 3.2 gives them. The body is one of Data (one or more data sections),
// Value (an amqp-value section) or Sequence (amqp-sequence sections); a
// message with none of them has no body.
type Message struct {
	Header                *Header
	DeliveryAnnotations   Annotations
	Annotations           Annotations // message-annotations
	Properties            *Properties
	ApplicationProperties map[string]any
	Data                  [][]byte
	Value                 any
	Sequence              [][]any
	Footer                Annotations

	// Format is the transfer's message-format; 0 is the standard format.
	Format uint32
}

// Header is the header section (3.2.1).
type Header struct {
	Durable       bool
	Priority      *uint8 // absent: 4
	TTL           *uint32
	FirstAcquirer bool
	DeliveryCount uint32
}

// Properties is the properties section (3.2.4). MessageID and
// CorrelationID are a ulong, UUID, []byte or string.
type Properties struct {
	MessageID          any
	UserID             []byte
	To                 string
	Subject            string
	ReplyTo            string
	CorrelationID      any
	ContentType        Symbol
	ContentEncoding    Symbol
	AbsoluteExpiryTime time.Time
	CreationTime       time.Time
	GroupID            string
	GroupSequence      *uint32
	ReplyToGroupID     string
}

func (*Header) descriptor() uint64     { return 0x70 }
func (*Properties) descriptor() uint64 { return 0x73 }

func (h *Header) fields() []any {
	return []any{&h.Durable, &h.Priority, &h.TTL, &h.FirstAcquirer, &h.DeliveryCount}
}

func (p *Properties) fields() []any {
	return []any{&p.MessageID, &p.UserID, &p.To, &p.Subject, &p.ReplyTo, &p.CorrelationID, &p.ContentType,
		&p.ContentEncoding, &p.AbsoluteExpiryTime, &p.CreationTime, &p.GroupID, &p.GroupSequence, &p.ReplyToGroupID}
}

// The descriptors of the map- and value-valued sections; header (0x70) and
// properties (0x73) are composites in the registry.
const (
	descDeliveryAnnotations   = 0x71
	descMessageAnnotations    = 0x72
	descApplicationProperties = 0x74
	descData                  = 0x75
	descSequence              = 0x76
	descValue                 = 0x77
	descFooter                = 0x78
)

var errSection = errors.New("amqp: message section out of order, repeated or malformed")

// MarshalBinary encodes the message's sections, the payload of its
// transfers.
func (m *Message) MarshalBinary() ([]byte, error) {
	var b []byte
	var err error
	section := func(desc uint64, v any) {
		if err == nil {
			b, err = appendValue(b, Described{Descriptor: desc, Value: v})
		}
	}
	if m.Header != nil {
		b, err = appendComposite(b, m.Header)
	}
	if m.DeliveryAnnotations != nil {
		section(descDeliveryAnnotations, map[any]any(m.DeliveryAnnotations))
	}
	if m.Annotations != nil {
		section(descMessageAnnotations, map[any]any(m.Annotations))
	}
	if m.Properties != nil && err == nil {
		b, err = appendComposite(b, m.Properties)
	}
	if m.ApplicationProperties != nil {
		section(descApplicationProperties, m.ApplicationProperties)
	}
	for _, d := range m.Data {
		section(descData, d)
	}
	for _, s := range m.Sequence {
		section(descSequence, s)
	}
	if m.Value != nil {
		section(descValue, m.Value)
	}
	if m.Footer != nil {
		section(descFooter, map[any]any(m.Footer))
	}
	return b, err
}

// UnmarshalBinary decodes a message's sections. Sections must come in the
// specification's order, each at most once except the body's data and
// amqp-sequence sections, and the body must be of one kind.
func (m *Message) UnmarshalBinary(b []byte) error {
	*m = Message{}
	rank := 0 // the order of sections: a section never follows a later one
	for len(b) > 0 {
		v, rest, err := unmarshalPrefix(b)
		if err != nil {
			return err
		}
		b = rest
		r, err := m.section(v)
		if err != nil {
			return err
		}
		if r < rank || r == rank && r != 6 {
			return errSection
		}
		rank = r
	}
	return nil
}

// section stores one decoded section and returns its rank in the order.
func (m *Message) section(v any) (int, error) {
	switch v := v.(type) {
	case *Header:
		m.Header = v
		return 1, nil
	case *Properties:
		m.Properties = v
		return 4, nil
	case Described:
		code, _ := v.Descriptor.(uint64)
		ok := false
		switch code {
		case descDeliveryAnnotations:
			m.DeliveryAnnotations, ok = annotations(v.Value)
			return 2, okOr(ok)
		case descMessageAnnotations:
			m.Annotations, ok = annotations(v.Value)
			return 3, okOr(ok)
		case descApplicationProperties:
			m.ApplicationProperties, ok = stringMap(v.Value)
			return 5, okOr(ok)
		case descData:
			var d []byte
			d, ok = v.Value.([]byte)
			m.Data = append(m.Data, d)
			return 6, okOr(ok && m.Value == nil && m.Sequence == nil)
		case descSequence:
			var s []any
			s, ok = v.Value.([]any)
			m.Sequence = append(m.Sequence, s)
			return 6, okOr(ok && m.Value == nil && m.Data == nil)
		case descValue:
			m.Value = v.Value
			return 7, okOr(m.Data == nil && m.Sequence == nil && v.Value != nil)
		case descFooter:
			m.Footer, ok = annotations(v.Value)
			return 8, okOr(ok)
		}
	}
	return 0, errSection
}

func okOr(ok bool) error {
	if ok {
		return nil
	}
	return errSection
}

func annotations(v any) (Annotations, bool) {
	m, ok := v.(map[any]any)
	return Annotations(m), ok
}

// stringMap accepts application-properties: keys are strings (3.2.5).
func stringMap(v any) (map[string]any, bool) {
	m, ok := v.(map[any]any)
	if !ok {
		return nil, false
	}
	out := make(map[string]any, len(m))
	for k, e := range m {
		s, ok := k.(string)
		if !ok {
			return nil, false
		}
		out[s] = e
	}
	return out, true
}
