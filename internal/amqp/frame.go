package amqp

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// Protocol headers (part 2, section 2.2, and part 5, section 5.3.1): the
// eight bytes each side sends before any frame, AMQP protocol id 0 or
// SASL protocol id 3, version 1.0.0.
var (
	headerAMQP = [8]byte{'A', 'M', 'Q', 'P', 0, 1, 0, 0}
	headerSASL = [8]byte{'A', 'M', 'Q', 'P', 3, 1, 0, 0}
)

// Frame types (2.3.1 and 5.3.1).
const (
	frameAMQP = 0
	frameSASL = 1
)

// minMaxFrameSize is MIN-MAX-FRAME-SIZE (2.7.1): no peer may ask for
// smaller frames, and it is the limit before open has been exchanged.
const minMaxFrameSize = 512

// frame is one decoded frame. A frame with no body is an empty frame,
// which peers send as heartbeats (2.4.5).
type frame struct {
	typ     byte
	channel uint16
	body    any // the performative
	payload []byte
	empty   bool // no body at all
}

// framingError reports a frame that breaks the framing rules; the
// connection closes with amqp:connection:framing-error.
type framingError struct{ msg string }

func (e *framingError) Error() string { return "amqp: framing error: " + e.msg }

// decodeError is a frame body that does not decode; the connection closes
// with amqp:decode-error.
type decodeError struct{ err error }

func (e *decodeError) Error() string { return e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

// readFrame reads one frame of at most max bytes. A size field above max
// is refused before anything is allocated, so a hostile size cannot make
// the server allocate; the body of a frame is allocated fresh, so decoded
// binary values may alias it.
func readFrame(r *bufio.Reader, max uint32) (frame, error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return frame{}, err
	}
	size := binary.BigEndian.Uint32(h[0:4])
	doff := uint32(h[4])
	f := frame{typ: h[5], channel: binary.BigEndian.Uint16(h[6:8])}
	switch {
	case size < 8:
		return f, &framingError{fmt.Sprintf("frame size %d is smaller than its header", size)}
	case size > max:
		return f, &framingError{fmt.Sprintf("frame size %d is larger than max-frame-size %d", size, max)}
	case doff < 2 || doff*4 > size:
		return f, &framingError{fmt.Sprintf("data offset %d does not fit frame size %d", doff, size)}
	case f.typ != frameAMQP && f.typ != frameSASL:
		return f, &framingError{fmt.Sprintf("unknown frame type %d", f.typ)}
	}
	buf := make([]byte, size-8)
	if _, err := io.ReadFull(r, buf); err != nil {
		return f, err
	}
	body := buf[doff*4-8:] // the extended header is ignored, as 2.3.1 allows
	if len(body) == 0 {
		f.empty = true
		return f, nil
	}
	v, rest, err := unmarshalPrefix(body)
	if err != nil {
		return f, &decodeError{err}
	}
	f.body, f.payload = v, rest
	return f, nil
}

// appendFrame appends a frame with performative perf (nil for an empty
// frame) and payload.
func appendFrame(b []byte, typ byte, channel uint16, perf composite, payload []byte) ([]byte, error) {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 2, typ, byte(channel>>8), byte(channel))
	if perf != nil {
		var err error
		if b, err = appendComposite(b, perf); err != nil {
			return b[:start], err
		}
	}
	b = append(b, payload...)
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b, nil
}

// readHeader reads a peer's protocol header.
func readHeader(r io.Reader) ([8]byte, error) {
	var h [8]byte
	_, err := io.ReadFull(r, h[:])
	return h, err
}
