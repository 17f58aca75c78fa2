// Package amqp is the server side of AMQP 1.0 (OASIS AMQP Version 1.0,
// 29 October 2012): the engine the emulator will serve IoT Hub's AMQP
// endpoint on (telemetry, cloud-to-device messages, $cbs claims-based
// security). No Go library serves AMQP 1.0 — github.com/Azure/go-amqp is
// a client — so this package implements the server side from the
// specification, and its tests drive it with go-amqp as the reference peer.
//
// What is implemented, by part of the specification:
//
//   - Part 1, types: every primitive (null, boolean, ubyte to ulong, byte
//     to long, float, double, decimal32/64/128 kept opaque, char,
//     timestamp, uuid, binary, string, symbol), list0/8/32, map8/32,
//     array8/32 and described types, in Marshal and Unmarshal
//     (encode.go, array.go, decode.go, decode_compound.go). The composite
//     types are Go structs with one descriptor table (registry.go). The
//     decoder bounds every count by the bytes that remain and the nesting
//     by maxDepth; its input is bounded by the max-frame-size, and a
//     multi-frame message by Server.MaxMessageSize.
//   - Part 2, transport: protocol headers (frame.go, conn.go: a wrong
//     header is answered with the SASL one and the socket closed), frames
//     and empty frames, max-frame-size, channel-max and handle-max
//     negotiation, idle-time-out in both directions (heartbeats at half
//     the peer's; close with amqp:resource-limit-exceeded on ours),
//     open/close (conn.go, conn_loop.go), begin/end with session windows
//     counted in transfer frames (session.go), attach/detach with refusal
//     by a null terminus and a detach (link.go), link credit for both
//     roles with drain and echo (link_send.go, link_receive.go), multi-
//     frame transfers in both directions, aborted transfers, dispositions
//     over ranges, and the error conditions of section 2.8.15 onwards.
//   - Part 3, messaging: Message with all nine sections in their order,
//     the delivery states Received, Accepted, Rejected, Released and
//     Modified, Source and Target with filter sets kept as sent.
//   - Part 5, SASL: ANONYMOUS and PLAIN with Server.Authenticate deciding.
//
// What is not: transactions (part 4: no coordinator link is accepted),
// rcv-settle-mode second (the server answers first, which go-amqp refuses
// for a sender that asked for second), link recovery and resumption
// (unsettled maps in attach are ignored), dynamic termini, the server
// initiating sessions or links, SASL mechanisms with challenges, and TLS
// negotiated inside AMQP (protocol id 2): TLS is the listener's, as IoT
// Hub's port 5671 does it. Deliveries on one link never interleave (the
// specification forbids it); deliveries on different links of one session
// interleave freely. A map keyed by binary, list, map, array or described
// values is refused by the decoder: Go maps cannot hold such keys, and no
// IoT Hub or Event Hubs peer sends them.
//
// The application sees a Server (server.go) whose Attach callback is given
// each Link the peer attaches; a Link where the server sends has Send (or
// SendSettled, pre-settled, as Event Hubs sends events), one where it
// receives has Receive, whose Delivery takes the outcome. Node
// (node.go) serves request/response nodes such as $cbs and $management on
// top of a pair of links.
package amqp
