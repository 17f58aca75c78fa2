package amqp

// The SASL frames of part 5, section 5.3.3.

// SASLMechanisms advertises the server's mechanisms.
type SASLMechanisms struct{ Mechanisms []Symbol }

// SASLInit selects a mechanism and carries its initial response.
type SASLInit struct {
	Mechanism       Symbol
	InitialResponse []byte
	Hostname        string
}

// SASLChallenge and SASLResponse continue a multi-step exchange; neither
// ANONYMOUS nor PLAIN has one, so the server never sends a challenge.
type SASLChallenge struct{ Challenge []byte }

// SASLResponse answers a SASLChallenge.
type SASLResponse struct{ Response []byte }

// SASLOutcome ends the exchange with one of the SASLCode values.
type SASLOutcome struct {
	Code           SASLCode
	AdditionalData []byte
}

// SASLCode is a sasl-code (5.3.3.6).
type SASLCode = uint8

const (
	SASLOK      SASLCode = 0 // authentication succeeded
	SASLAuth    SASLCode = 1 // bad credentials
	SASLSys     SASLCode = 2 // system error
	SASLSysPerm SASLCode = 3 // unrecoverable system error
	SASLSysTemp SASLCode = 4 // transient system error
)

func (*SASLMechanisms) descriptor() uint64 { return 0x40 }
func (*SASLInit) descriptor() uint64       { return 0x41 }
func (*SASLChallenge) descriptor() uint64  { return 0x42 }
func (*SASLResponse) descriptor() uint64   { return 0x43 }
func (*SASLOutcome) descriptor() uint64    { return 0x44 }

func (m *SASLMechanisms) fields() []any { return []any{&m.Mechanisms} }
func (i *SASLInit) fields() []any       { return []any{&i.Mechanism, &i.InitialResponse, &i.Hostname} }
func (c *SASLChallenge) fields() []any  { return []any{&c.Challenge} }
func (r *SASLResponse) fields() []any   { return []any{&r.Response} }
func (o *SASLOutcome) fields() []any    { return []any{&o.Code, &o.AdditionalData} }
