package amqp

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzUnmarshal decodes arbitrary bytes; whatever decodes must encode, and
// the encoding must be stable: encode(decode(encode(decode(x)))) equals
// encode(decode(x)).
func FuzzUnmarshal(f *testing.F) {
	seeds := []any{nil, uint64(5), "s", Symbol("y"), []any{int32(1), []byte{2}}, map[any]any{Symbol("k"): 1.5},
		SymbolArray("a"), Array{Code: codeList32, Elems: []any{[]any{}}}, &Attach{Name: "n", Source: &Source{Address: "a"}},
		&Transfer{Handle: 1, State: &Accepted{}}, Described{Descriptor: Symbol("d"), Value: []any{}}}
	for _, s := range seeds {
		b, err := Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := Unmarshal(in)
		if err != nil {
			return
		}
		e1, err := Marshal(v)
		if err != nil {
			t.Fatalf("decoded %#v does not encode: %v", v, err)
		}
		v2, err := Unmarshal(e1)
		if err != nil {
			t.Fatalf("re-encoding % x does not decode: %v", e1, err)
		}
		e2, err := Marshal(v2)
		if err != nil || !bytes.Equal(e1, e2) {
			t.Fatalf("encoding not stable:\n% x\n% x (%v)", e1, e2, err)
		}
	})
}

// FuzzMessage decodes arbitrary message sections with the same stability
// check.
func FuzzMessage(f *testing.F) {
	one := uint32(1)
	m := &Message{Header: &Header{Durable: true, TTL: &one}, Annotations: Annotations{Symbol("x-opt-offset"): "1"},
		Properties: &Properties{MessageID: "id", ReplyTo: "r"}, ApplicationProperties: map[string]any{"a": int64(1)},
		Data: [][]byte{[]byte("hello")}}
	b, err := m.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		var m Message
		if m.UnmarshalBinary(in) != nil {
			return
		}
		e1, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded message does not encode: %v", err)
		}
		var m2 Message
		if err := m2.UnmarshalBinary(e1); err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		e2, _ := m2.MarshalBinary()
		if !bytes.Equal(e1, e2) {
			t.Fatalf("encoding not stable:\n% x\n% x", e1, e2)
		}
	})
}

// FuzzServeConn feeds arbitrary frames to an opened connection: the
// server must neither panic nor hang, whatever the bytes.
func FuzzServeConn(f *testing.F) {
	begin, _ := appendFrame(nil, frameAMQP, 0, &Begin{IncomingWindow: 10, OutgoingWindow: 10}, nil)
	attach, _ := appendFrame(nil, frameAMQP, 0, &Attach{Name: "l", Role: RoleSender, Target: &Target{Address: "t"}}, nil)
	one := uint32(0)
	transfer, _ := appendFrame(nil, frameAMQP, 0, &Transfer{DeliveryID: &one, DeliveryTag: []byte{1}, More: true}, []byte{0, 0x53, 0x75})
	f.Add(begin)
	f.Add(append(append(append([]byte{}, begin...), attach...), transfer...))
	f.Add([]byte{0, 0, 0, 8, 2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		srv := &Server{MaxFrameSize: 4096, HandshakeTimeout: time.Second,
			Attach: func(l *Link) error { return nil }}
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() {
			_ = srv.ServeConn(server)
			close(done)
		}()
		go func() { _, _ = io.Copy(io.Discard, client) }()
		var pre []byte
		pre = append(pre, headerSASL[:]...)
		pre, _ = appendFrame(pre, frameSASL, 0, &SASLInit{Mechanism: MechanismAnonymous}, nil)
		pre = append(pre, headerAMQP[:]...)
		pre, _ = appendFrame(pre, frameAMQP, 0, &Open{ContainerID: "fuzz"}, nil)
		_ = client.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, _ = client.Write(append(pre, in...))
		client.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the server did not end the connection")
		}
	})
}
