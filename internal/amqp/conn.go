package amqp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Conn is one AMQP connection the server serves.
type Conn struct {
	srv      *Server
	nc       net.Conn
	br       *bufio.Reader
	maxFrame uint32 // ours: the largest frame we read

	wmu       sync.Mutex // serialises writes; taken after mu, never before
	wbuf      []byte
	lastWrite atomic.Int64

	identity     any
	hostname     string
	peer         *Open
	peerMaxFrame uint32
	peerIdle     time.Duration

	mu       sync.Mutex          // guards everything below and all session and link state
	sessions map[uint16]*session // by the peer's channel
	locals   map[uint16]*session // by our channel
	opened   bool
	closing  bool // we have sent close
	done     chan struct{}
	err      error
}

func newConn(s *Server, nc net.Conn) *Conn {
	return &Conn{
		srv: s, nc: nc, br: bufio.NewReaderSize(nc, 64<<10), maxFrame: s.maxFrameSize(),
		peerMaxFrame: minMaxFrameSize,
		sessions:     map[uint16]*session{}, locals: map[uint16]*session{}, done: make(chan struct{}),
	}
}

// Identity is what Server.Authenticate returned for this connection.
func (c *Conn) Identity() any { return c.identity }

// Hostname is the host the peer named, in its sasl-init or else its open.
func (c *Conn) Hostname() string { return c.hostname }

// ContainerID is the peer's container-id.
func (c *Conn) ContainerID() string { return c.peer.ContainerID }

// RemoteAddr is the peer's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// closeGrace is how long the server waits for the peer's close after
// sending its own, before it drops the socket.
const closeGrace = 2 * time.Second

// Close closes the connection with e (nil for a clean close): it sends
// close and gives the peer closeGrace to answer.
func (c *Conn) Close(e *Error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.opened {
		c.nc.Close() // still in the handshake: nothing to say
		return
	}
	c.sendClose(e)
}

// sendClose sends close once; called with mu held.
func (c *Conn) sendClose(e *Error) {
	if c.closing {
		return
	}
	c.closing = true
	_ = c.writeFrame(frameAMQP, 0, &Close{Error: e}, nil)
	_ = c.nc.SetReadDeadline(time.Now().Add(closeGrace))
}

// writeFrame writes one frame.
func (c *Conn) writeFrame(typ byte, ch uint16, perf composite, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var err error
	if c.wbuf, err = appendFrame(c.wbuf[:0], typ, ch, perf, payload); err != nil {
		return err
	}
	c.lastWrite.Store(time.Now().UnixNano())
	_, err = c.nc.Write(c.wbuf)
	if cap(c.wbuf) > 1<<20 {
		c.wbuf = nil // do not keep a large message's buffer
	}
	return err
}

// serve runs the connection: handshake, then the frame loop, then the
// teardown of every session and link.
func (c *Conn) serve() error {
	defer c.nc.Close()
	err := c.handshake()
	if err == nil {
		stop := c.heartbeat()
		err = c.loop()
		stop()
	}
	c.mu.Lock()
	c.err = err
	for _, s := range c.locals {
		s.teardown(errConnClosed(err))
	}
	c.mu.Unlock()
	close(c.done)
	if errors.Is(err, errPeerClosed) {
		return nil
	}
	return err
}

var errPeerClosed = errors.New("amqp: connection closed by the peer")

func errConnClosed(err error) error { return fmt.Errorf("amqp: connection ended: %w", err) }

func (c *Conn) handshake() error {
	timeout := orDefault(c.srv.HandshakeTimeout, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_ = c.nc.SetDeadline(time.Now().Add(timeout))
	h, err := readHeader(c.br)
	if err != nil {
		return err
	}
	if h != headerSASL {
		// Part 2, section 2.2: answer an unsupported header with the one
		// we support, then close. SASL is required, so even a valid AMQP
		// header gets the SASL one.
		_, _ = c.nc.Write(headerSASL[:])
		return fmt.Errorf("amqp: protocol header %q refused", h[:])
	}
	if _, err := c.nc.Write(headerSASL[:]); err != nil {
		return err
	}
	if err := c.sasl(ctx); err != nil {
		return err
	}
	if h, err = readHeader(c.br); err != nil {
		return err
	}
	if _, err := c.nc.Write(headerAMQP[:]); err != nil {
		return err
	}
	if h != headerAMQP {
		return fmt.Errorf("amqp: protocol header %q refused after sasl", h[:])
	}
	f, err := readFrame(c.br, c.maxFrame)
	if err != nil {
		return c.fail(err)
	}
	open, ok := f.body.(*Open)
	if !ok || f.typ != frameAMQP || f.channel != 0 {
		return c.fail(&Error{Condition: ErrNotAllowed, Description: "the first frame must be open"})
	}
	c.acceptOpen(open)
	_ = c.nc.SetDeadline(time.Time{})
	return nil
}

// acceptOpen records the peer's open and answers with ours.
func (c *Conn) acceptOpen(open *Open) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.peer = open
	c.peerMaxFrame = 1<<32 - 1
	if open.MaxFrameSize != nil {
		c.peerMaxFrame = max(*open.MaxFrameSize, minMaxFrameSize)
	}
	if open.IdleTimeout != nil {
		c.peerIdle = time.Duration(*open.IdleTimeout) * time.Millisecond
	}
	if c.hostname == "" {
		c.hostname = open.Hostname
	}
	maxFrame, channelMax := c.maxFrame, orDefault(c.srv.ChannelMax, 255)
	ours := &Open{ContainerID: orDefault(c.srv.ContainerID, "hubspec"), MaxFrameSize: &maxFrame, ChannelMax: &channelMax}
	if idle := c.idleTimeout(); idle > 0 {
		ms := uint32(idle / time.Millisecond)
		ours.IdleTimeout = &ms
	}
	c.opened = true
	_ = c.writeFrame(frameAMQP, 0, ours, nil)
}

func (c *Conn) idleTimeout() time.Duration {
	return orDefault(c.srv.IdleTimeout, 60*time.Second)
}

// heartbeat sends an empty frame whenever nothing was written for half the
// peer's idle-time-out (part 2, section 2.4.5). It returns its stop.
func (c *Conn) heartbeat() (stop func()) {
	if c.peerIdle <= 0 {
		return func() {}
	}
	interval := c.peerIdle / 2
	t := time.NewTicker(interval)
	quit := make(chan struct{})
	go func() {
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case now := <-t.C:
				if now.UnixNano()-c.lastWrite.Load() >= int64(interval)*9/10 {
					if c.writeFrame(frameAMQP, 0, nil, nil) != nil {
						return
					}
				}
			}
		}
	}()
	return func() { close(quit) }
}
