package tunnet

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/link/fdbased"
	"gvisor.dev/gvisor/pkg/tcpip/link/tun"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// capNetAdmin is CAP_NET_ADMIN's bit in /proc/self/status's CapEff.
const capNetAdmin = 12

// Available is nil when this process can open a TUN device, or says what
// it lacks: /dev/net/tun, or CAP_NET_ADMIN.
func Available() error {
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return fmt.Errorf("tunnet: no TUN device support: %w", err)
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return fmt.Errorf("tunnet: cannot read this process's capabilities: %w", err)
	}
	for line := range strings.Lines(string(status)) {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			if err != nil || caps&(1<<capNetAdmin) == 0 {
				return fmt.Errorf("tunnet: creating a TUN device needs CAP_NET_ADMIN (root), which this process (uid %d) lacks", os.Getuid())
			}
			return nil
		}
	}
	return errors.New("tunnet: /proc/self/status has no CapEff line")
}

// Net is an open device and the stack on it.
type Net struct {
	fd    int
	stack *stack.Stack
	addr  tcpip.Address
	once  sync.Once
}

// Open creates the device (it lasts as long as its descriptor: Close, or
// this process's end however it comes, removes it and its addresses), gives
// the kernel side its addresses and brings it up, and starts the stack on
// the other side.
func Open(cfg Config) (*Net, error) {
	if cfg.MTU == 0 {
		cfg.MTU = DefaultMTU
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	fd, err := tun.Open(cfg.Name)
	if err != nil {
		return nil, fmt.Errorf("tunnet: open TUN device %s: %w", cfg.Name, err)
	}
	n := &Net{fd: fd, addr: tcpip.AddrFrom4(cfg.Stack.As4())}
	if err := configureKernelSide(cfg); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if n.stack, err = newStack(fd, cfg); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return n, nil
}

func (cfg Config) check() error {
	switch {
	case len(cfg.Name) == 0 || len(cfg.Name) > 12:
		return fmt.Errorf("tunnet: device name %q: want 1 to 12 bytes", cfg.Name)
	case !cfg.Prefix.Addr().Is4() || !cfg.Prefix.Contains(cfg.Stack):
		return fmt.Errorf("tunnet: the stack's address %s is not in the IPv4 prefix %s", cfg.Stack, cfg.Prefix)
	case len(cfg.Kernel) == 0 || len(cfg.Kernel) > 99:
		return fmt.Errorf("tunnet: %d kernel-side addresses: want 1 to 99", len(cfg.Kernel))
	}
	for _, a := range cfg.Kernel {
		if !cfg.Prefix.Contains(a) || a == cfg.Stack {
			return fmt.Errorf("tunnet: kernel-side address %s: not in %s, or the stack's", a, cfg.Prefix)
		}
	}
	return nil
}

// newStack starts an IPv4 and TCP stack reading and writing fd, holding
// cfg.Stack, with a route to cfg.Prefix through the device.
func newStack(fd int, cfg Config) (*stack.Stack, error) {
	link, err := fdbased.New(&fdbased.Options{FDs: []int{fd}, MTU: cfg.MTU})
	if err != nil {
		return nil, fmt.Errorf("tunnet: link endpoint: %w", err)
	}
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
	})
	const nic = 1
	if err := s.CreateNIC(nic, link); err != nil {
		s.Destroy()
		return nil, fmt.Errorf("tunnet: NIC: %s", err)
	}
	addr := tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: tcpip.AddrFrom4(cfg.Stack.As4()).WithPrefix()}
	if err := s.AddProtocolAddress(nic, addr, stack.AddressProperties{}); err != nil {
		s.Destroy()
		return nil, fmt.Errorf("tunnet: address %s: %s", cfg.Stack, err)
	}
	subnet, err := tcpip.NewSubnet(tcpip.AddrFrom4(cfg.Prefix.Masked().Addr().As4()), tcpip.MaskFromBytes(net.CIDRMask(cfg.Prefix.Bits(), 32)))
	if err != nil {
		s.Destroy()
		return nil, fmt.Errorf("tunnet: prefix %s: %w", cfg.Prefix, err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: subnet, NIC: nic}})
	sack := tcpip.TCPSACKEnabled(true) // as Linux has it by default
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack); err != nil {
		s.Destroy()
		return nil, fmt.Errorf("tunnet: SACK: %s", err)
	}
	return s, nil
}

// configureKernelSide sets the device's MTU and queue, gives it the
// kernel-side addresses (the first as its own, the others as labelled
// aliases, Name:1..., as ifconfig did), then brings it up: the addresses
// are set while it is down, so the kernel adds only the routes of the final
// prefix, never the classful one an address has before its netmask is set.
func configureKernelSide(cfg Config) error {
	sock, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("tunnet: %w", err)
	}
	defer unix.Close(sock)
	ioctl := func(name string, req uint, what string, set func(*unix.Ifreq) error) error {
		ifr, err := unix.NewIfreq(name)
		if err == nil {
			err = set(ifr)
		}
		if err == nil {
			err = unix.IoctlIfreq(sock, req, ifr)
		}
		if err != nil {
			return fmt.Errorf("tunnet: %s %s: %w", name, what, err)
		}
		return nil
	}
	setUint32 := func(v uint32) func(*unix.Ifreq) error {
		return func(ifr *unix.Ifreq) error { ifr.SetUint32(v); return nil }
	}
	if err := ioctl(cfg.Name, unix.SIOCSIFMTU, "MTU", setUint32(cfg.MTU)); err != nil {
		return err
	}
	if err := ioctl(cfg.Name, unix.SIOCSIFTXQLEN, "queue length", setUint32(txQueueLen)); err != nil {
		return err
	}
	mask := net.IP(net.CIDRMask(cfg.Prefix.Bits(), 32))
	for i, a := range cfg.Kernel {
		label := cfg.Name
		if i > 0 {
			label += ":" + strconv.Itoa(i)
		}
		if err := ioctl(label, unix.SIOCSIFADDR, "address "+a.String(), func(ifr *unix.Ifreq) error { return ifr.SetInet4Addr(a.AsSlice()) }); err != nil {
			return err
		}
		if err := ioctl(label, unix.SIOCSIFNETMASK, "netmask", func(ifr *unix.Ifreq) error { return ifr.SetInet4Addr(mask) }); err != nil {
			return err
		}
	}
	flags, err := unix.NewIfreq(cfg.Name)
	if err == nil {
		err = unix.IoctlIfreq(sock, unix.SIOCGIFFLAGS, flags)
	}
	if err != nil {
		return fmt.Errorf("tunnet: %s flags: %w", cfg.Name, err)
	}
	return ioctl(cfg.Name, unix.SIOCSIFFLAGS, "up", func(ifr *unix.Ifreq) error {
		ifr.SetUint16(flags.Uint16() | unix.IFF_UP)
		return nil
	})
}

// Listen listens for TCP connections on port of the stack's address.
// Its connections support deadlines, as net's do.
func (n *Net) Listen(port uint16) (net.Listener, error) {
	var wq waiter.Queue
	ep, terr := n.stack.NewEndpoint(tcp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
	if terr != nil {
		return nil, fmt.Errorf("tunnet: listen: %s", terr)
	}
	if terr := ep.Bind(tcpip.FullAddress{Addr: n.addr, Port: port}); terr != nil {
		ep.Close()
		return nil, fmt.Errorf("tunnet: bind port %d: %s", port, terr)
	}
	if terr := ep.Listen(listenBacklog); terr != nil {
		ep.Close()
		return nil, fmt.Errorf("tunnet: listen on port %d: %s", port, terr)
	}
	return &listener{TCPListener: gonet.NewTCPListener(n.stack, &wq, ep)}, nil
}

// listener is gonet's, with the errors net.Listener's have: Accept on a
// closed listener returns net.ErrClosed (gonet's says "endpoint is in
// invalid state"), and so does a second Close.
type listener struct {
	*gonet.TCPListener
	mu     sync.Mutex
	closed bool
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.TCPListener.Accept()
	if err != nil && l.isClosed() {
		return nil, net.ErrClosed
	}
	return c, err
}

func (l *listener) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

func (l *listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return net.ErrClosed
	}
	l.closed = true
	l.mu.Unlock()
	return l.TCPListener.Close()
}

// Close aborts every connection the stack holds, stops it, and closes the
// device's descriptor, which removes the device and its addresses.
func (n *Net) Close() error {
	var err error
	n.once.Do(func() {
		n.stack.Destroy()
		err = unix.Close(n.fd)
	})
	return err
}
