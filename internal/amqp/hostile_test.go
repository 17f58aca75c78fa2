package amqp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// raw is a hand-driven peer for what go-amqp would never send.
type raw struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, srv *Server) *raw {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &raw{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (r *raw) write(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

func (r *raw) frame(typ byte, perf composite) {
	r.t.Helper()
	b, err := appendFrame(nil, typ, 0, perf, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	r.write(b)
}

func (r *raw) read() frame {
	r.t.Helper()
	f, err := readFrame(r.br, 1<<20)
	if err != nil {
		r.t.Fatalf("read frame: %v", err)
	}
	return f
}

func (r *raw) header(want [8]byte) {
	r.t.Helper()
	if h, err := readHeader(r.br); err != nil || h != want {
		r.t.Fatalf("header % x, %v; want % x", h, err, want)
	}
}

// open runs the handshake up to the server's open.
func (r *raw) open(idleMs uint32) {
	r.t.Helper()
	r.write(headerSASL[:])
	r.header(headerSASL)
	r.read() // mechanisms
	r.frame(frameSASL, &SASLInit{Mechanism: MechanismAnonymous})
	if o, ok := r.read().body.(*SASLOutcome); !ok || o.Code != SASLOK {
		r.t.Fatal("sasl failed")
	}
	r.write(headerAMQP[:])
	r.header(headerAMQP)
	open := &Open{ContainerID: "raw"}
	if idleMs > 0 {
		open.IdleTimeout = &idleMs
	}
	r.frame(frameAMQP, open)
	if _, ok := r.read().body.(*Open); !ok {
		r.t.Fatal("no open")
	}
}

// closed expects the server's close with condition, then the end of the
// stream.
func (r *raw) closed(condition Symbol) {
	r.t.Helper()
	for {
		f := r.read()
		if f.empty {
			continue // a heartbeat
		}
		c, ok := f.body.(*Close)
		if !ok || c.Error == nil || c.Error.Condition != condition {
			r.t.Fatalf("got %#v, want close with %s", f.body, condition)
		}
		if condition != ErrFramingError { // after a framing error the server does not wait
			r.frame(frameAMQP, &Close{}) // answered, so the server need not wait its grace
		}
		break
	}
	r.eof()
}

func (r *raw) eof() {
	r.t.Helper()
	if _, err := io.ReadAll(r.br); err != nil {
		r.t.Fatalf("the server did not close the stream: %v", err)
	}
}

func TestWrongHeader(t *testing.T) {
	r := dialRaw(t, &Server{})
	r.write([]byte("GET / HTTP/1.1\r\n\r\n"))
	r.header(headerSASL)
	r.eof()
	r = dialRaw(t, &Server{})
	r.write(headerAMQP[:]) // SASL is required
	r.header(headerSASL)
	r.eof()
}

func TestGarbageAfterHeader(t *testing.T) {
	r := dialRaw(t, &Server{})
	r.write(headerSASL[:])
	r.write(bytes.Repeat([]byte{0xff}, 64))
	r.header(headerSASL)
	r.read() // mechanisms
	r.eof()
}

func TestHostileFrames(t *testing.T) {
	frameOf := func(size uint32, doff, typ byte, body ...byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, size)
		return append(append(b, doff, typ, 0, 0), body...)
	}
	unknown, _ := appendValue(nil, Described{Descriptor: uint64(0x99), Value: []any{}})
	cases := map[string]struct {
		in   []byte
		want Symbol
	}{
		"size 4 GiB":             {frameOf(0xffffffff, 2, 0), ErrFramingError},
		"above max-frame-size":   {frameOf(1024+1, 2, 0, make([]byte, 1024-7)...), ErrFramingError},
		"size below the header":  {frameOf(4, 2, 0), ErrFramingError},
		"data offset too large":  {frameOf(8, 3, 0), ErrFramingError},
		"unknown frame type":     {frameOf(8, 2, 7), ErrFramingError},
		"truncated performative": {frameOf(11, 2, 0, 0x00, 0x53, 0x10), ErrDecode},
		"unknown descriptor":     {frameOf(uint32(8+len(unknown)), 2, 0, unknown...), ErrDecode},
		"not a performative":     {frameOf(9, 2, 0, 0x40), ErrDecode},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := dialRaw(t, &Server{MaxFrameSize: 1024})
			r.open(0)
			r.write(c.in)
			r.closed(c.want)
		})
	}
}

// TestIdleTimeout: a peer silent past the server's idle-time-out is
// closed with amqp:resource-limit-exceeded.
func TestIdleTimeout(t *testing.T) {
	r := dialRaw(t, &Server{IdleTimeout: 50 * time.Millisecond})
	r.open(0)
	r.closed(ErrResourceLimit)
}

// TestHeartbeats: the server sends empty frames at half the peer's
// idle-time-out, and a peer's empty frames keep the connection alive.
func TestHeartbeats(t *testing.T) {
	r := dialRaw(t, &Server{IdleTimeout: 400 * time.Millisecond})
	r.open(100)
	for i := range 8 {
		// Each read must see a heartbeat within the peer's idle-time-out.
		_ = r.nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if f := r.read(); !f.empty {
			t.Fatalf("heartbeat %d: got %#v", i, f.body)
		}
		r.write(frameHeartbeat) // 8 reads of 50 ms outlast the server's 400 ms
	}
	r.frame(frameAMQP, &Close{})
	if _, ok := r.read().body.(*Close); !ok {
		t.Fatal("no close answered")
	}
}

var frameHeartbeat = []byte{0, 0, 0, 8, 2, 0, 0, 0}

// TestTransferWithoutCredit: a transfer beyond the credit the server gave
// detaches the link with amqp:link:transfer-limit-exceeded.
func TestTransferWithoutCredit(t *testing.T) {
	r := dialRaw(t, &Server{LinkCredit: 1, Attach: func(*Link) error { return nil }})
	r.open(0)
	r.frame(frameAMQP, &Begin{IncomingWindow: 100, OutgoingWindow: 100})
	r.read() // begin
	r.frame(frameAMQP, &Attach{Name: "l", Role: RoleSender, Target: &Target{Address: "t"}})
	r.read() // attach
	r.read() // flow: credit 1
	for i := range uint32(2) {
		id := i
		b, _ := appendFrame(nil, frameAMQP, 0, &Transfer{DeliveryID: &id, DeliveryTag: []byte{byte(i)}, Settled: true},
			[]byte{0x00, 0x53, 0x77, 0x40 + 1})
		r.write(b)
	}
	d, ok := r.read().body.(*Detach)
	if !ok || d.Error == nil || d.Error.Condition != ErrTransferLimit {
		t.Fatalf("got %#v, want detach with transfer-limit-exceeded", d)
	}
}

// TestSplitsToPeerMaxFrame: the server's transfers respect the peer's
// max-frame-size (go-amqp reads larger frames than it announced, so a raw
// peer checks): every frame fits 512 bytes and the parts reassemble.
func TestSplitsToPeerMaxFrame(t *testing.T) {
	ls := make(chan *Link, 1)
	r := dialRaw(t, &Server{Attach: func(l *Link) error { ls <- l; return nil }})
	r.write(headerSASL[:])
	r.header(headerSASL)
	r.read()
	r.frame(frameSASL, &SASLInit{Mechanism: MechanismAnonymous})
	r.read()
	r.write(headerAMQP[:])
	r.header(headerAMQP)
	mfs := uint32(512)
	r.frame(frameAMQP, &Open{ContainerID: "raw", MaxFrameSize: &mfs})
	r.read()
	r.frame(frameAMQP, &Begin{IncomingWindow: 1000, OutgoingWindow: 1000})
	r.read()
	settled := SenderSettleSettled
	r.frame(frameAMQP, &Attach{Name: "l", Role: RoleReceiver, SndSettleMode: &settled, Source: &Source{Address: "s"}})
	r.read()
	zero, credit := uint32(0), uint32(1)
	r.frame(frameAMQP, &Flow{NextIncomingID: &zero, IncomingWindow: 1000, OutgoingWindow: 1000,
		Handle: &zero, DeliveryCount: &zero, LinkCredit: &credit})
	body := bytes.Repeat([]byte("x"), 3000)
	l := <-ls
	go func() { _, _ = l.Send(context.Background(), &Message{Data: [][]byte{body}}) }()
	var payload []byte
	frames := 0
	for more := true; more; frames++ {
		f, err := readFrame(r.br, mfs)
		if err != nil {
			t.Fatalf("frame %d: %v", frames, err)
		}
		tr, ok := f.body.(*Transfer)
		if !ok {
			t.Fatalf("frame %d: %#v", frames, f.body)
		}
		payload, more = append(payload, f.payload...), tr.More
	}
	var m Message
	if err := m.UnmarshalBinary(payload); err != nil || !bytes.Equal(m.Data[0], body) || frames < 6 {
		t.Fatalf("%d frames, message %v", frames, err)
	}
}
