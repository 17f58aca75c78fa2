// Package wsconn presents a server-side WebSocket as the byte stream a
// protocol engine reads and writes: the emulator serves MQTT over
// WebSockets (MQTT 3.1.1 §6) and AMQP over WebSockets (the AMQP WebSocket
// binding) through it. Both protocols travel in binary messages whose
// boundaries mean nothing: a packet or frame may span messages and a
// message may hold several, so reads run across message boundaries.
package wsconn

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// closeFrameTimeout bounds the close frame sent before a WebSocket is torn
// down, so a peer that stopped reading cannot stall a server's Close.
const closeFrameTimeout = 250 * time.Millisecond

// ErrTextMessage ends a connection that sends a text message: the
// protocols carried here travel in binary messages only.
var ErrTextMessage = errors.New("websocket: text message received where only binary messages are allowed")

// Conn is a WebSocket as a net.Conn. Addresses come from the connection
// underneath (TLS, for the emulator).
type Conn struct {
	net.Conn
	ws *websocket.Conn
	r  io.Reader // the message being read, nil between messages

	wmu       sync.Mutex   // gorilla allows one writer at a time
	wdeadline atomic.Int64 // write deadline in Unix nanoseconds, 0 for none
	closeOnce sync.Once
	closeErr  error
}

// New wraps an upgraded WebSocket.
func New(ws *websocket.Conn) *Conn {
	return &Conn{Conn: ws.UnderlyingConn(), ws: ws}
}

// Read reads the stream: the rest of the current message, then the next
// ones. Empty messages are skipped; a text message is ErrTextMessage.
func (c *Conn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			typ, r, err := c.ws.NextReader()
			if err != nil {
				return 0, err
			}
			if typ != websocket.BinaryMessage {
				return 0, ErrTextMessage
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil
			if n == 0 {
				continue // an empty message: read the next one
			}
			err = nil
		}
		return n, err
	}
}

// Write sends p as one binary message.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var dl time.Time
	if ns := c.wdeadline.Load(); ns != 0 {
		dl = time.Unix(0, ns)
	}
	// gorilla resets the socket's write deadline on every frame, so the
	// deadline the engine set is applied here.
	_ = c.ws.SetWriteDeadline(dl)
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// SetDeadline sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	_ = c.SetWriteDeadline(t)
	return c.SetReadDeadline(t)
}

// SetReadDeadline bounds the reads, control frames included.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.ws.SetReadDeadline(t) }

// SetWriteDeadline records the deadline for the next writes; it never
// waits for a write in progress, since engines call it from their reading
// goroutine.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	c.wdeadline.Store(ns)
	return nil
}

// Close sends a close frame (best effort, bounded) and closes the socket.
// Later calls return what the first did.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeFrameTimeout))
		c.closeErr = c.ws.Close()
	})
	return c.closeErr
}
