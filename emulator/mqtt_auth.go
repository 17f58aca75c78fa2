package emulator

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// authHook authenticates MQTT connections: the CONNECT's protocol level,
// user name, client id and SAS token or client certificate (x509.go) on the
// way in, and the token's expiry while the connection lasts, both by the
// clock of the identity's device (device_clocks.go). It is added first, so
// no other hook ever sees a client it refused.
type authHook struct {
	mqtt.HookBase
	broker   *mqtt.Server // answers refusals with the hub's CONNACK codes
	registry *registry
	policies *policies
	hostName string
	log      *slog.Logger
	faults   *faults      // InvokeAuthError windows refuse CONNECTs
	cas      *deviceCAs   // what certificateAuthority identities' certificates chain to
	conns    *connections // told the session epoch each accepted CONNECT was authenticated against

	mu       sync.Mutex
	expiries map[*mqtt.Client]func() bool // disarm the close of a connection when its token expires
}

func newAuthHook(broker *mqtt.Server, reg *registry, pol *policies, cas *deviceCAs, conns *connections, hostName string, log *slog.Logger, flt *faults) *authHook {
	return &authHook{
		broker: broker, registry: reg, policies: pol, cas: cas, conns: conns, hostName: hostName, log: log, faults: flt,
		expiries: map[*mqtt.Client]func() bool{},
	}
}

func (h *authHook) ID() string { return "iothub-auth" }

func (h *authHook) Provides(b byte) bool {
	switch b {
	case mqtt.OnPacketRead, mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnSessionEstablish, mqtt.OnDisconnect:
		return true
	}
	return false
}

var (
	errUnsupportedProtocol = errors.New("IoT Hub speaks MQTT 3.1.1 only")
	errTokenExpired        = errors.New("sas token expired")
)

// OnPacketRead holds a CONNECT to MQTT 3.1.1, the only version the hub
// speaks, before mochi validates it by its own rules: mochi would answer a
// malformed CONNECT with an MQTT 5 reason code (130), which a 3.1.1 CONNACK
// cannot carry (codes 0 to 5, MQTT 3.1.1 §3.2.2.3). A zero-length password is
// legal 3.1.1 and simply authenticates nothing (CONNACK 5, like any bad
// credential); an unknown protocol level gets CONNACK 1 [MQTT-3.1.2-2]; any
// other breach of the CONNECT's rules closes the connection without an
// answer, as 3.1.1 requires [MQTT-3.1.2-1, -3, 3.1.4-1].
func (h *authHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type != packets.Connect {
		return pk, nil
	}
	switch code := pk.ConnectValidate(); code {
	case packets.CodeSuccess:
		return pk, nil
	case packets.ErrProtocolViolationFlagNoPassword:
		pk.Connect.PasswordFlag = false // no password: authentication refuses it
		return pk, nil
	case packets.ErrProtocolViolationProtocolVersion:
		h.log.Info("mqtt connect refused", "remote", cl.Net.Remote, "reason", code)
		cl.Properties.ProtocolVersion = 4
		_ = h.broker.SendConnack(cl, packets.ErrUnsupportedProtocolVersion, false, nil)
		return pk, packets.ErrRejectPacket // the only error mochi does not ignore here
	default:
		h.log.Info("mqtt closing connection: malformed CONNECT", "remote", cl.Net.Remote, "reason", code)
		return pk, packets.ErrRejectPacket
	}
}

// OnConnect authenticates the CONNECT and answers refusals itself, because
// the hub distinguishes "not authorized" (CONNACK 5) from a disabled device
// (CONNACK 3) and mochi's own refusal path knows only the first (the
// fidelity table's "Refusals" row and its question Q11).
func (h *authHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	var code packets.Code
	epoch, err := h.authenticate(cl, pk)
	switch {
	case err == nil:
		h.conns.admit(cl, epoch)
		// The hub, not the broker, owns an accepted will: mochi would publish
		// it to subscribers, and no message may reach an identity on the
		// broker's own account. The will hook (mqtt_will.go) sends it to
		// the built-in endpoint instead.
		atomic.StoreUint32(&cl.Properties.Will.Flag, 0)
		// mochi keeps the client id and the user name as slices of the
		// CONNECT's whole body, SAS token and all, for the connection's
		// life (and the client id in its session maps beyond); copies of
		// their own let that body go, about 250 bytes a connection. Nothing
		// has kept either yet: the client is in no map of mochi's or ours
		// before its OnConnect chain has run, and this hook runs first.
		cl.ID = strings.Clone(cl.ID)
		cl.Properties.Username = bytes.Clone(cl.Properties.Username)
		return nil
	case errors.Is(err, errUnsupportedProtocol):
		code = packets.ErrUnsupportedProtocolVersion
	case errors.Is(err, errIdentityDisabled):
		code = packets.ErrServerUnavailable
	default:
		code = packets.ErrBadUsernameOrPassword // CONNACK 5 on MQTT 3.1.1
	}
	h.log.Info("mqtt connect refused", "client", cl.ID, "remote", cl.Net.Remote, "reason", err)
	// A 3.1.1 server answers every refusal, including of an MQTT 5 CONNECT,
	// with a 3.1.1 CONNACK (return code 1 for an unsupported protocol level).
	cl.Properties.ProtocolVersion = 4
	_ = h.broker.SendConnack(cl, code, false, nil)
	return code
}

// authenticate returns the session epoch of the identity the CONNECT
// authenticated as (registry.go, identityState), read before its
// credentials were: a delete or disable that lands while they are checked
// renews the epoch, so the connection finds it stale once established,
// rather than the credentials of a deleted identity passing for those of
// the identity created in its place.
func (h *authHook) authenticate(cl *mqtt.Client, pk packets.Packet) (epoch uint64, err error) {
	if pk.ProtocolVersion != 4 {
		return 0, errUnsupportedProtocol
	}
	u, err := parseUsername(string(pk.Connect.Username))
	if err != nil {
		return 0, err
	}
	if !sameHost(u.host, h.hostName) {
		return 0, fmt.Errorf("username host %q is not this hub (%s)", u.host, h.hostName)
	}
	if m, ok := u.props["model-id"]; ok {
		if err := checkModelID(m); err != nil {
			return 0, err
		}
	}
	if pk.Connect.ClientIdentifier != u.id.clientID() {
		return 0, fmt.Errorf("client id %q does not match username identity %q", pk.Connect.ClientIdentifier, u.id)
	}
	epoch, _ = h.registry.sessionEpoch(u.id) // an absent identity fails the credentials
	if err := h.credentialsValid(cl, pk, u.id); err != nil {
		return 0, err
	}
	// The hub takes a will only on the identity's own telemetry topic
	// (Microsoft's IoT Hub MQTT doc, "Will" messages): any other would let
	// one identity forge messages to others when its connection drops.
	if pk.Connect.WillFlag && !strings.HasPrefix(pk.Connect.WillTopic, telemetryPrefix(u.id)) {
		return 0, fmt.Errorf("will topic %q is not the identity's telemetry topic", pk.Connect.WillTopic)
	}
	if err := h.faults.refusedConnect(u.id); err != nil {
		return 0, err
	}
	return epoch, h.registry.announceModel(u.id.deviceID, u.id.moduleID, u.props["model-id"])
}

// credentialsValid authenticates the identity by what the client
// presented: a password is a SAS token, and decides alone even when a
// certificate came with it (the SDKs send one or the other); without one,
// the certificate of the TLS handshake authenticates (x509.go). The user
// name names the identity either way (the SDKs send the same one).
func (h *authHook) credentialsValid(cl *mqtt.Client, pk packets.Packet, id identity) error {
	now := h.registry.clocks.now(id.deviceID)
	if len(pk.Connect.Password) > 0 {
		return h.registry.authenticateIdentity(h.policies, h.hostName, id.deviceID, id.moduleID, string(pk.Connect.Password), now)
	}
	chain := peerCertificates(cl.Net.Conn)
	if len(chain) == 0 {
		return errUnauthorized("no password and no client certificate")
	}
	return h.registry.authenticateCertificate(id.deviceID, id.moduleID, chain, h.cas, now)
}

// OnConnectAuthenticate accepts: OnConnect has already refused what it must.
func (h *authHook) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

// OnSessionEstablish arms the connection's expiry on its device's clock:
// the hub severs a connection when its token expires (DOC-SAS), after the
// same 5-minute skew it allows at CONNECT. A device deleted since CONNECT
// has no clock left, and its connection no reason to stay: it is closed
// once established (connections.OnSessionEstablished), not here, where
// mochi would then fail the CONNACK and never run the OnDisconnect hooks
// that forget the connection.
func (h *authHook) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	t, err := parseToken(string(pk.Connect.Password))
	if err != nil {
		return
	}
	clk, err := h.registry.deviceClock(identityOf(cl.ID).deviceID)
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expiries[cl] = clk.AfterFunc(time.Unix(t.expiry+sasClockSkew, 0).Sub(clk.Now()), func() {
		h.log.Info("mqtt closing connection: sas token expired", "client", cl.ID)
		cl.Stop(errTokenExpired)
		h.mu.Lock()
		delete(h.expiries, cl)
		h.mu.Unlock()
	})
}

// OnDisconnect disarms the connection's expiry.
func (h *authHook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if stop := h.expiries[cl]; stop != nil {
		stop()
		delete(h.expiries, cl)
	}
}
