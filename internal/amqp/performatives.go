package amqp

// The performatives of part 2, section 2.7, field for field. Optional
// numeric fields whose absence means something (a default other than zero,
// or "not given") are pointers.

// Role is a link endpoint's role: false is sender, true receiver.
type Role bool

const (
	RoleSender   Role = false
	RoleReceiver Role = true
)

func (r Role) String() string {
	if r == RoleReceiver {
		return "receiver"
	}
	return "sender"
}

// Sender and receiver settle modes (part 2, sections 2.8.2 and 2.8.3).
const (
	SenderSettleUnsettled uint8 = 0
	SenderSettleSettled   uint8 = 1
	SenderSettleMixed     uint8 = 2
	ReceiverSettleFirst   uint8 = 0
	ReceiverSettleSecond  uint8 = 1
)

// Open negotiates the connection (2.7.1).
type Open struct {
	ContainerID         string
	Hostname            string
	MaxFrameSize        *uint32 // absent: 4294967295
	ChannelMax          *uint16 // absent: 65535
	IdleTimeout         *uint32 // milliseconds; absent or 0: none
	OutgoingLocales     []Symbol
	IncomingLocales     []Symbol
	OfferedCapabilities []Symbol
	DesiredCapabilities []Symbol
	Properties          map[Symbol]any
}

// Begin opens a session (2.7.2).
type Begin struct {
	RemoteChannel       *uint16
	NextOutgoingID      uint32
	IncomingWindow      uint32
	OutgoingWindow      uint32
	HandleMax           *uint32 // absent: 4294967295
	OfferedCapabilities []Symbol
	DesiredCapabilities []Symbol
	Properties          map[Symbol]any
}

// Attach attaches a link (2.7.3).
type Attach struct {
	Name                 string
	Handle               uint32
	Role                 Role
	SndSettleMode        *uint8 // absent: mixed
	RcvSettleMode        *uint8 // absent: first
	Source               *Source
	Target               *Target
	Unsettled            map[any]any
	IncompleteUnsettled  bool
	InitialDeliveryCount *uint32
	MaxMessageSize       *uint64 // absent or 0: no limit
	OfferedCapabilities  []Symbol
	DesiredCapabilities  []Symbol
	Properties           map[Symbol]any
}

// Flow updates the session's windows and, with a handle, a link's credit
// (2.7.4).
type Flow struct {
	NextIncomingID *uint32
	IncomingWindow uint32
	NextOutgoingID uint32
	OutgoingWindow uint32
	Handle         *uint32
	DeliveryCount  *uint32
	LinkCredit     *uint32
	Available      *uint32
	Drain          bool
	Echo           bool
	Properties     map[Symbol]any
}

// Transfer carries (a part of) a message (2.7.5). The payload follows the
// performative in the frame body and is not one of its fields.
type Transfer struct {
	Handle        uint32
	DeliveryID    *uint32
	DeliveryTag   []byte
	MessageFormat *uint32
	Settled       bool
	More          bool
	RcvSettleMode *uint8
	State         DeliveryState
	Resume        bool
	Aborted       bool
	Batchable     bool
}

// Disposition settles or updates deliveries first..last (2.7.6).
type Disposition struct {
	Role      Role
	First     uint32
	Last      *uint32
	Settled   bool
	State     DeliveryState
	Batchable bool
}

// Detach detaches a link, closing it when Closed (2.7.7).
type Detach struct {
	Handle uint32
	Closed bool
	Error  *Error
}

// End ends a session (2.7.8).
type End struct{ Error *Error }

// Close closes the connection (2.7.9).
type Close struct{ Error *Error }

func (*Open) descriptor() uint64        { return 0x10 }
func (*Begin) descriptor() uint64       { return 0x11 }
func (*Attach) descriptor() uint64      { return 0x12 }
func (*Flow) descriptor() uint64        { return 0x13 }
func (*Transfer) descriptor() uint64    { return 0x14 }
func (*Disposition) descriptor() uint64 { return 0x15 }
func (*Detach) descriptor() uint64      { return 0x16 }
func (*End) descriptor() uint64         { return 0x17 }
func (*Close) descriptor() uint64       { return 0x18 }

func (o *Open) fields() []any {
	return []any{&o.ContainerID, &o.Hostname, &o.MaxFrameSize, &o.ChannelMax, &o.IdleTimeout,
		&o.OutgoingLocales, &o.IncomingLocales, &o.OfferedCapabilities, &o.DesiredCapabilities, &o.Properties}
}

func (b *Begin) fields() []any {
	return []any{&b.RemoteChannel, &b.NextOutgoingID, &b.IncomingWindow, &b.OutgoingWindow, &b.HandleMax,
		&b.OfferedCapabilities, &b.DesiredCapabilities, &b.Properties}
}

func (a *Attach) fields() []any {
	return []any{&a.Name, &a.Handle, &a.Role, &a.SndSettleMode, &a.RcvSettleMode, &a.Source, &a.Target,
		(*Annotations)(&a.Unsettled), &a.IncompleteUnsettled, &a.InitialDeliveryCount, &a.MaxMessageSize,
		&a.OfferedCapabilities, &a.DesiredCapabilities, &a.Properties}
}

func (f *Flow) fields() []any {
	return []any{&f.NextIncomingID, &f.IncomingWindow, &f.NextOutgoingID, &f.OutgoingWindow, &f.Handle,
		&f.DeliveryCount, &f.LinkCredit, &f.Available, &f.Drain, &f.Echo, &f.Properties}
}

func (t *Transfer) fields() []any {
	return []any{&t.Handle, &t.DeliveryID, &t.DeliveryTag, &t.MessageFormat, &t.Settled, &t.More,
		&t.RcvSettleMode, &t.State, &t.Resume, &t.Aborted, &t.Batchable}
}

func (d *Disposition) fields() []any {
	return []any{&d.Role, &d.First, &d.Last, &d.Settled, &d.State, &d.Batchable}
}

func (d *Detach) fields() []any { return []any{&d.Handle, &d.Closed, &d.Error} }
func (e *End) fields() []any    { return []any{&e.Error} }
func (c *Close) fields() []any  { return []any{&c.Error} }
