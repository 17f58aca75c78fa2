package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// Held is what N idle connections cost a broker process.
type Held struct {
	// Connections is how many were opened and held at once.
	Connections int `json:"connections"`
	// IdleRSS and HeldRSS are the broker's resident set before the first
	// connect and once every connection has been held for the hold time,
	// in bytes.
	IdleRSS int64 `json:"idleRssBytes"`
	HeldRSS int64 `json:"heldRssBytes"`
	// RSSPerConnection is (HeldRSS - IdleRSS) / Connections, in bytes.
	RSSPerConnection float64 `json:"rssPerConnectionBytes"`
	// ConnectsPerSecond is the connections over the time from the first
	// dial to the last CONNACK.
	ConnectsPerSecond float64 `json:"connectsPerSecond"`
}

// login is what one held connection presents in its CONNECT.
type login struct {
	clientID, user, password string
}

// heldDialers is how many connects are in flight at once: enough to keep
// two cores busy with TLS handshakes.
const heldDialers = 32

// hold opens n connections to addr over TLS, each sending the CONNECT
// login(i) gives (MQTT 3.1.1, persistent session, no keep-alive, so the
// broker never times an idle one out) and reading an accepting CONNACK;
// it waits hold with all of them open, samples the RSS of process pid
// before the first dial and at the end of the hold, and closes them all.
func hold(ctx context.Context, pid int, addr string, tlsCfg *tls.Config, n int, hold time.Duration, login func(i int) login) (Held, error) {
	idle, err := residentBytes(pid)
	if err != nil {
		return Held{}, err
	}
	conns := make([]net.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	start := time.Now()
	if err := dialAll(ctx, n, func(i int) error {
		c, err := connectHeld(ctx, addr, tlsCfg, login(i))
		conns[i] = c
		return err
	}); err != nil {
		return Held{}, err
	}
	elapsed := time.Since(start)
	timer := time.NewTimer(hold)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
		return Held{}, ctx.Err()
	}
	held, err := residentBytes(pid)
	if err != nil {
		return Held{}, err
	}
	return Held{
		Connections: n, IdleRSS: idle, HeldRSS: held,
		RSSPerConnection:  float64(held-idle) / float64(n),
		ConnectsPerSecond: float64(n) / elapsed.Seconds(),
	}, nil
}

// dialAll calls connect(i) for i in [0, n) on heldDialers goroutines and
// returns the first error, after which no more connects start.
func dialAll(ctx context.Context, n int, connect func(i int) error) error {
	var next atomic.Int64
	var first atomic.Pointer[error]
	var wg sync.WaitGroup
	for range min(heldDialers, n) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n && first.Load() == nil && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				if err := connect(i); err != nil {
					first.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	wg.Wait()
	if err := first.Load(); err != nil {
		return *err
	}
	return ctx.Err()
}

// connectTimeout bounds one held connection's dial, handshake and CONNACK.
const connectTimeout = 30 * time.Second

// connectHeld dials, sends the CONNECT and reads the CONNACK. The
// connection is returned even on error, for the caller to close.
func connectHeld(ctx context.Context, addr string, tlsCfg *tls.Config, l login) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	d := tls.Dialer{Config: tlsCfg}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("held connection %s: %w", l.clientID, err)
	}
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)
	cp := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	cp.ProtocolName, cp.ProtocolVersion = "MQTT", 4
	cp.ClientIdentifier = l.clientID
	cp.UsernameFlag, cp.Username = true, l.user
	cp.PasswordFlag, cp.Password = true, []byte(l.password)
	if err := cp.Write(c); err != nil {
		return c, fmt.Errorf("held connection %s: CONNECT: %w", l.clientID, err)
	}
	p, err := packets.ReadPacket(c)
	if err != nil {
		return c, fmt.Errorf("held connection %s: CONNACK: %w", l.clientID, err)
	}
	ack, ok := p.(*packets.ConnackPacket)
	if !ok {
		return c, fmt.Errorf("held connection %s: got %s, want a CONNACK", l.clientID, p)
	}
	if ack.ReturnCode != packets.Accepted {
		return c, fmt.Errorf("held connection %s: CONNACK %d (%s)", l.clientID, ack.ReturnCode, packets.ConnackReturnCodes[ack.ReturnCode])
	}
	return c, c.SetDeadline(time.Time{})
}

// residentBytes is process pid's resident set: the second field of
// /proc/{pid}/statm, in pages.
func residentBytes(pid int) (int64, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0, fmt.Errorf("resident set of process %d: %w", pid, err)
	}
	return parseStatm(string(raw))
}

// parseStatm reads the resident set, in bytes, from a /proc/{pid}/statm line.
func parseStatm(line string) (int64, error) {
	fields := strings.Fields(line)
	if len(fields) < 2 {
		return 0, fmt.Errorf("statm %q: want at least 2 fields", line)
	}
	pages, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("statm %q: %w", line, err)
	}
	return pages * int64(os.Getpagesize()), nil
}

// raiseFileLimit makes room for want open descriptors in this process and
// the brokers it starts, which inherit its limit: the soft limit is
// raised up to the hard one, the hard one only by a privileged process.
func raiseFileLimit(want int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read the descriptor limit: %w", err)
	}
	if lim.Cur >= uint64(want) {
		// Set it anyway: after a Setrlimit the Go runtime no longer gives
		// child processes the limit this process started with.
		return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	lim.Cur, lim.Max = uint64(want), max(lim.Max, uint64(want))
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return errors.Join(fmt.Errorf("need %d open files for the held connections", want), err)
	}
	return nil
}
