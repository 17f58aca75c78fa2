// Package tunnet ends TCP connections inside this process rather than in
// kernel sockets: it creates a TUN device, routes a prefix into it, and
// attaches the device's other side to gVisor's user-space TCP/IP stack
// (netstack), so a connection that a kernel socket opens to the stack's
// address is accepted here as a net.Conn that costs no file descriptor. The
// device's one descriptor carries them all.
//
// It exists for BenchmarkHeldConnections -connections.tun: a process may
// hold no more descriptors than RLIMIT_NOFILE, and only CAP_SYS_RESOURCE
// raises its hard limit. Where that limit is low (20,000 on the machine the
// benchmark was written on, with no way to raise it, in a container or
// not), the emulator can still be made to hold 50,000 real TCP
// connections, each with its TLS session and MQTT client, through one TUN
// descriptor, while the clients keep their kernel sockets, spread over
// processes. Opening a TUN device needs Linux, /dev/net/tun and
// CAP_NET_ADMIN (root, in practice); Available says which is missing.
//
// Packets cross the kernel boundary one read or write each, so the stack
// costs CPU per packet that kernel TCP does not, and its per-connection
// state (endpoints, buffers) is in this process's heap where a kernel
// socket's is not: measure the application's own cost without it.
package tunnet

import "net/netip"

// Config describes the device and the two sides' addresses.
type Config struct {
	// Name is the device's name: at most 12 bytes, so the kernel-side
	// addresses' labels (Name:1, Name:2...) fit in IFNAMSIZ.
	Name string
	// Prefix is routed into the device; Stack and Kernel are in it.
	Prefix netip.Prefix
	// Stack is the user-space stack's address: where Listen listens.
	Stack netip.Addr
	// Kernel are the addresses the kernel holds on the device, the source
	// addresses its sockets may bind to connect to Stack: each gives a
	// client about 28,000 ephemeral ports (Linux's default range).
	Kernel []netip.Addr
	// MTU of the device and of the stack's link; 0 means DefaultMTU.
	MTU uint32
}

// DefaultMTU is the MTU when Config leaves it 0: large enough that a TLS
// server's first flight, certificate chain and all, is one packet, so a
// handshake costs few crossings.
const DefaultMTU = 16384

// txQueueLen is the device's queue of packets from the kernel not yet read
// by the stack (the kernel's default for TUN is 500): a burst of
// connections opening at once overflows 500, and every packet dropped
// there is a TCP retransmission, a second or more later for a SYN.
const txQueueLen = 1 << 14

// listenBacklog is the accept queue of Listen's listeners: connections
// completed by the stack and not yet accepted.
const listenBacklog = 4096
