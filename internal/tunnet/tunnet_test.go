package tunnet_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/internal/tunnet"
)

// openTest opens a device of this process's own (name and /24 from its
// pid), or skips where TUN devices cannot be made.
func openTest(t *testing.T) (*tunnet.Net, tunnet.Config) {
	t.Helper()
	if err := tunnet.Available(); err != nil {
		t.Skip(err)
	}
	block := byte(os.Getpid() % 250)
	cfg := tunnet.Config{
		Name:   fmt.Sprintf("hstest%d", os.Getpid()%100000),
		Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 251, block, 0}), 24),
		Stack:  netip.AddrFrom4([4]byte{10, 251, block, 254}),
		Kernel: []netip.Addr{netip.AddrFrom4([4]byte{10, 251, block, 1}), netip.AddrFrom4([4]byte{10, 251, block, 2})},
	}
	n, err := tunnet.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, cfg
}

// TestKernelSocketsReachTheStack: a kernel socket bound to each kernel-side
// address connects to the stack's listener, which sees that address as the
// peer, and bytes go both ways; Close removes the device.
func TestKernelSocketsReachTheStack(t *testing.T) {
	n, cfg := openTest(t)
	ln, err := n.Listen(8883)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { // answers what it read with the peer's address
				defer c.Close()
				line, err := bufio.NewReader(c).ReadString('\n')
				if err == nil {
					fmt.Fprintf(c, "%s from %s", strings.TrimSpace(line), c.RemoteAddr().(*net.TCPAddr).IP)
				}
			}()
		}
	}()
	target := netip.AddrPortFrom(cfg.Stack, 8883).String()
	for _, src := range cfg.Kernel {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src.AsSlice()}, Timeout: 10 * time.Second}
		c, err := d.Dial("tcp", target)
		if err != nil {
			t.Fatalf("dial %s from %s: %v", target, src, err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte("hello\n")); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(c)
		if want := "hello from " + src.String(); err != nil || string(got) != want {
			t.Fatalf("answer to %s: %q, %v; want %q", src, got, err, want)
		}
		c.Close()
	}
	if _, err := net.InterfaceByName(cfg.Name); err != nil {
		t.Fatalf("device %s not there while open: %v", cfg.Name, err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.InterfaceByName(cfg.Name); err == nil {
		t.Fatalf("device %s still there after Close", cfg.Name)
	}
}

// TestListenerCloseEndsAWaitingAccept: as net's listeners do, Close wakes
// an Accept already waiting, which returns net.ErrClosed.
func TestListenerCloseEndsAWaitingAccept(t *testing.T) {
	n, _ := openTest(t)
	ln, err := n.Listen(8884)
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan error, 1)
	go func() {
		_, err := ln.Accept()
		accepted <- err
	}()
	ln.Close()
	select {
	case err := <-accepted:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Accept still waiting 10 s after Close")
	}
}
