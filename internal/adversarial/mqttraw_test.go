package adversarial

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// MQTT 3.1.1 packet types (high nibble of the fixed header).
const (
	pktConnect   = 1
	pktConnack   = 2
	pktPublish   = 3
	pktPuback    = 4
	pktSubscribe = 8
	pktSuback    = 9
	pktPingreq   = 12
	pktPingresp  = 13
)

// closedBeforeConnack is the outcome of a CONNECT that the hub answered by
// closing the connection.
const closedBeforeConnack = -1

// connectPacket is a CONNECT built by hand, so that every field a client
// library would refuse to send can be sent.
type connectPacket struct {
	protoName        string // default "MQTT"
	level            byte   // default 4
	clientID         string
	user, password   string
	hasUser, hasPass bool
	willTopic        string
	willMessage      []byte
	hasWill          bool
	keepAlive        uint16
	cleanSession     bool
}

func mqttString(s string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(s)))
	return append(b, s...)
}

func remainingLength(n int) []byte {
	var out []byte
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		out = append(out, d)
		if n == 0 {
			return out
		}
	}
}

func packet(header byte, body []byte) []byte {
	return append(append([]byte{header}, remainingLength(len(body))...), body...)
}

func (c connectPacket) bytes() []byte {
	name, level := c.protoName, c.level
	if name == "" {
		name = "MQTT"
	}
	if level == 0 {
		level = 4
	}
	var flags byte
	if c.cleanSession {
		flags |= 0x02
	}
	if c.hasWill {
		flags |= 0x04 | 0x08 // will, QoS 1
	}
	if c.hasPass {
		flags |= 0x40
	}
	if c.hasUser {
		flags |= 0x80
	}
	keepAlive := c.keepAlive
	if keepAlive == 0 {
		keepAlive = 60
	}
	body := append(mqttString(name), level, flags)
	body = binary.BigEndian.AppendUint16(body, keepAlive)
	body = append(body, mqttString(c.clientID)...)
	if c.hasWill {
		body = append(body, mqttString(c.willTopic)...)
		body = append(body, mqttString(string(c.willMessage))...)
	}
	if c.hasUser {
		body = append(body, mqttString(c.user)...)
	}
	if c.hasPass {
		body = append(body, mqttString(c.password)...)
	}
	return packet(pktConnect<<4, body)
}

// identityConnect is the CONNECT of an identity with its own valid token.
func identityConnect(host string, id ident) connectPacket {
	return connectPacket{
		clientID: id.clientID(),
		user:     host + "/" + id.clientID() + "/?api-version=2021-04-12",
		password: id.token(host), hasUser: true, hasPass: true,
	}
}

// rawConn is a TLS connection to the MQTT port that speaks hand-built
// packets.
type rawConn struct {
	t    testing.TB
	conn *tls.Conn
	r    *bufio.Reader
}

func dialRaw(t testing.TB, tg target) *rawConn {
	t.Helper()
	c, err := dialRawErr(tg, opDeadline)
	if err != nil {
		t.Fatalf("dial mqtt: %v", err)
	}
	t.Cleanup(func() { c.conn.Close() })
	c.t = t
	return c
}

func dialRawErr(tg target, timeout time.Duration) (*rawConn, error) {
	nc, err := net.DialTimeout("tcp", tg.MQTTAddr(), timeout)
	if err != nil {
		return nil, err
	}
	cfg := tg.TLS()
	cfg.ServerName = "localhost"
	tc := tls.Client(nc, cfg)
	_ = tc.SetDeadline(time.Now().Add(timeout))
	if err := tc.Handshake(); err != nil {
		nc.Close()
		return nil, err
	}
	_ = tc.SetDeadline(time.Time{})
	return &rawConn{conn: tc, r: bufio.NewReader(tc)}, nil
}

func (c *rawConn) write(b []byte) error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(opDeadline))
	_, err := c.conn.Write(b)
	return err
}

// maxReadPacket bounds what the suite reads from the hub.
const maxReadPacket = 1 << 20

// readPacket reads one packet, waiting at most d.
func (c *rawConn) readPacket(d time.Duration) (typ, flags byte, body []byte, err error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	h, err := c.r.ReadByte()
	if err != nil {
		return 0, 0, nil, err
	}
	n, mult := 0, 1
	for i := 0; ; i++ {
		b, err := c.r.ReadByte()
		if err != nil {
			return 0, 0, nil, err
		}
		n += int(b&0x7f) * mult
		mult *= 128
		if b&0x80 == 0 {
			break
		}
		if i == 3 {
			return 0, 0, nil, errors.New("malformed remaining length")
		}
	}
	if n > maxReadPacket {
		return 0, 0, nil, fmt.Errorf("packet of %d bytes", n)
	}
	body = make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		return 0, 0, nil, err
	}
	return h >> 4, h & 0x0f, body, nil
}

// isTimeout reports a read deadline that passed (the connection is open).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// connect sends p and returns the CONNACK return code, or
// closedBeforeConnack when the hub closed the connection instead.
func (c *rawConn) connect(p connectPacket) int {
	c.t.Helper()
	if err := c.write(p.bytes()); err != nil {
		return closedBeforeConnack
	}
	typ, _, body, err := c.readPacket(opDeadline)
	switch {
	case isTimeout(err):
		c.t.Fatalf("no CONNACK and no close within %v", opDeadline)
	case err != nil:
		return closedBeforeConnack
	case typ != pktConnack || len(body) != 2:
		c.t.Fatalf("answer to CONNECT: packet type %d body %x, want a CONNACK", typ, body)
	}
	return int(body[1])
}

// mustConnect connects p and fails unless the hub answers CONNACK 0.
func (c *rawConn) mustConnect(p connectPacket) {
	c.t.Helper()
	if code := c.connect(p); code != 0 {
		c.t.Fatalf("CONNECT of %s: outcome %d, want CONNACK 0", p.clientID, code)
	}
}

// subscribe subscribes at QoS 1 and waits for the SUBACK.
func (c *rawConn) subscribe(id uint16, filters ...string) {
	c.t.Helper()
	body := binary.BigEndian.AppendUint16(nil, id)
	for _, f := range filters {
		body = append(append(body, mqttString(f)...), 1)
	}
	if err := c.write(packet(pktSubscribe<<4|0x02, body)); err != nil {
		c.t.Fatalf("subscribe: %v", err)
	}
	typ, _, _, err := c.readPacket(opDeadline)
	if err != nil || typ != pktSuback {
		c.t.Fatalf("subscribe %v: packet type %d, %v; want SUBACK", filters, typ, err)
	}
}

// publishPacket is a PUBLISH at QoS 1 with packet id 1 (0 for QoS 0).
func publishPacket(topic string, payload []byte, qos1 bool) []byte {
	body := mqttString(topic)
	header := byte(pktPublish << 4)
	if qos1 {
		header |= 0x02
		body = binary.BigEndian.AppendUint16(body, 1)
	}
	return packet(header, append(body, payload...))
}

// closedWithin reports whether the hub closes the connection within d,
// reading (and discarding) whatever it sends meanwhile. Every packet read is
// returned so callers can check that, say, no PUBACK came.
func (c *rawConn) closedWithin(d time.Duration) (bool, []byte) {
	deadline := time.Now().Add(d)
	var types []byte
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false, types
		}
		typ, _, _, err := c.readPacket(left)
		if isTimeout(err) {
			return false, types
		}
		if err != nil {
			return true, types
		}
		types = append(types, typ)
	}
}
