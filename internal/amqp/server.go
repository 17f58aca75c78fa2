package amqp

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// Server serves AMQP 1.0 connections: it is always the listening side and
// never initiates sessions or links; the application learns of each link
// the peer attaches through Attach.
type Server struct {
	// ContainerID is the container-id the server opens with; "hubspec"
	// when empty.
	ContainerID string
	// MaxFrameSize is the largest frame the server accepts, announced in
	// its open (65536 when zero, at least 512).
	MaxFrameSize uint32
	// MaxMessageSize is the largest message the server's receivers accept,
	// announced in their attach (1 MiB when zero).
	MaxMessageSize uint64
	// ChannelMax and HandleMax bound the sessions per connection and the
	// links per session (255 each when zero).
	ChannelMax uint16
	HandleMax  uint32
	// IdleTimeout is the server's idle-time-out: a connection that sends
	// nothing, not even an empty frame, for this long is closed with
	// amqp:resource-limit-exceeded. 60 seconds when zero; negative: none.
	IdleTimeout time.Duration
	// HandshakeTimeout bounds the protocol headers, SASL and open (10
	// seconds when zero).
	HandshakeTimeout time.Duration
	// LinkCredit is the credit each of the server's receivers keeps
	// granted to the peer's sender (100 when zero).
	LinkCredit uint32
	// Authenticate decides a SASL exchange; it returns the identity the
	// connection then carries (Conn.Identity), or an error, which fails the
	// exchange with sasl-code auth (or the SASLError's code). When nil,
	// every ANONYMOUS and PLAIN exchange succeeds.
	Authenticate func(ctx context.Context, req *SASLRequest) (identity any, err error)
	// Attach is called for every link the peer attaches, on the
	// connection's reader: it must decide quickly (start goroutines for
	// the link's traffic; sending or receiving inside Attach blocks). An
	// error refuses the link: the peer sees its attach answered with a
	// null terminus and a detach carrying the error (an *Error keeps its
	// condition; any other error is amqp:internal-error). When nil, every
	// link is refused with amqp:not-found.
	Attach func(l *Link) error

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*Conn]struct{}
	wg        sync.WaitGroup
}

// ErrServerClosed is what Serve returns after Close.
var ErrServerClosed = errors.New("amqp: server closed")

func (s *Server) maxFrameSize() uint32 {
	if s.MaxFrameSize == 0 {
		return 65536
	}
	return max(s.MaxFrameSize, minMaxFrameSize)
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Serve accepts connections on ln and serves each in its own goroutine
// until ln fails or the server is closed.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	if s.listeners == nil {
		s.listeners = map[net.Listener]struct{}{}
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		go func() { _ = s.ServeConn(nc) }()
	}
}

// ServeConn serves one connection until it ends and closes nc. The error
// says why the connection ended; nil when the peer closed it cleanly.
func (s *Server) ServeConn(nc net.Conn) error {
	c := newConn(s, nc)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return ErrServerClosed
	}
	if s.conns == nil {
		s.conns = map[*Conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.wg.Done()
	}()
	return c.serve()
}

// Close stops the listeners, closes every connection with
// amqp:connection:forced and waits until each has ended.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close(&Error{Condition: ErrConnectionForced, Description: "the server is shutting down"})
	}
	s.wg.Wait()
	return nil
}
