package amqp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
)

// The mechanisms the server offers: ANONYMOUS (RFC 4505), which IoT Hub
// and Event Hubs clients use before claims-based security on $cbs, and
// PLAIN (RFC 4616), with which older clients send {policy}@sas.root.{hub}
// and a SAS token as the password. MSSBCBS is Service Bus's "claims-based
// security follows" mechanism, which clients on uamqp (azure-uamqp-c's
// sasl_mssbcbs.c: the Python service SDK, the C SDK) ask for instead of
// ANONYMOUS: no credentials in SASL, a put-token on $cbs afterwards.
const (
	MechanismAnonymous Symbol = "ANONYMOUS"
	MechanismPlain     Symbol = "PLAIN"
	MechanismMSSBCBS   Symbol = "MSSBCBS"
)

// SASLRequest is what a peer presented in its sasl-init.
type SASLRequest struct {
	Mechanism Symbol
	// Username and Password are PLAIN's authentication identity and
	// password; the authorization identity, when sent, is AuthzID.
	Username, Password, AuthzID string
	// Hostname is the sasl-init hostname: the host the peer dialled.
	Hostname   string
	RemoteAddr net.Addr
}

// SASLError fails a SASL exchange with a chosen code; any other error
// from Authenticate fails it with SASLAuth.
type SASLError struct {
	Code SASLCode
	Err  error
}

func (e *SASLError) Error() string { return fmt.Sprintf("amqp: sasl outcome %d: %v", e.Code, e.Err) }
func (e *SASLError) Unwrap() error { return e.Err }

// errSASLFailed is what a connection ends with after a failed exchange.
var errSASLFailed = errors.New("amqp: sasl authentication failed")

// sasl runs the server side of part 5, section 5.3.2, after the SASL
// protocol headers have been exchanged: mechanisms, init, outcome.
func (c *Conn) sasl(ctx context.Context) error {
	mechs := &SASLMechanisms{Mechanisms: []Symbol{MechanismAnonymous, MechanismPlain, MechanismMSSBCBS}}
	if err := c.writeFrame(frameSASL, 0, mechs, nil); err != nil {
		return err
	}
	f, err := readFrame(c.br, minMaxFrameSize*16)
	if err != nil {
		return err
	}
	init, ok := f.body.(*SASLInit)
	if !ok || f.typ != frameSASL {
		return &framingError{fmt.Sprintf("expected sasl-init, got %T", f.body)}
	}
	req := &SASLRequest{Mechanism: init.Mechanism, Hostname: init.Hostname, RemoteAddr: c.nc.RemoteAddr()}
	code := SASLOK
	switch init.Mechanism {
	case MechanismAnonymous, MechanismMSSBCBS:
	case MechanismPlain:
		// message = [authzid] UTF8NUL authcid UTF8NUL passwd (RFC 4616)
		parts := bytes.Split(init.InitialResponse, []byte{0})
		if len(parts) != 3 {
			code = SASLAuth
			break
		}
		req.AuthzID, req.Username, req.Password = string(parts[0]), string(parts[1]), string(parts[2])
	default:
		code = SASLAuth
	}
	if code == SASLOK && c.srv.Authenticate != nil {
		id, err := c.srv.Authenticate(ctx, req)
		var se *SASLError
		switch {
		case errors.As(err, &se):
			code = se.Code
		case err != nil:
			code = SASLAuth
		default:
			c.identity = id
		}
		if code == SASLOK && err != nil { // a SASLError may not claim success
			code = SASLAuth
		}
	}
	if err := c.writeFrame(frameSASL, 0, &SASLOutcome{Code: code}, nil); err != nil {
		return err
	}
	if code != SASLOK {
		return errSASLFailed
	}
	c.hostname = init.Hostname
	return nil
}

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
