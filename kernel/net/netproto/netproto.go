// Package netproto is the wire between the kernel's AF_INET/AF_INET6 sockets and the
// launcher's net broker (launcher/broker/net), the only process of a sandbox that creates
// host network sockets. Both ends import it; it holds no policy.
//
//	kernel (empty netns)                      net broker (host netns, applies [network])
//	  socket(AF_INET, SOCK_STREAM)  ── OpSocket ──►  socket(): unconnected, non-blocking
//	                                ◄── reply + FD ─  (TCP: the host socket itself;
//	                                                   UDP/ICMP: the kernel's end of a relay)
//	  connect(fd, addr)   ── OpConnect + the socket's FD ──►  check; connect(2) (non-blocking)
//	                      ◄── errno (0, EINPROGRESS, EACCES, ...) ─
//	  bind / listen       ── OpBind / OpListen + FD ──►  check the listen rules; bind/listen
//	  sendto(udp, addr)   ── OpCheck ──► a destination's verdict, so the app sees EACCES
//	  UDP data            ── relay frames (Frame + payload) ──►  checked again, sendto(2)
//	                      ◄── relay frames (source + payload) ─  recvfrom(2)
//
// The channel is a SOCK_SEQPACKET socketpair: one Request, one Reply, each one message;
// FDs travel as SCM_RIGHTS. A request names the CPU of the kernel thread that waits for the
// reply; the broker answers from that CPU (both wake-ups stay on one CPU, which costs a few
// µs instead of tens on a small VM). The kernel never gets a host socket it could point elsewhere:
// TCP sockets it holds are connected or listening by the broker (its seccomp filter has no
// connect, bind or listen), and datagram sockets stay with the broker behind a relay that
// checks every destination.
package netproto

import (
	"encoding/binary"
	"net/netip"
)

// Op is a request kind.
type Op uint8

// Requests.
const (
	// OpSocket creates a socket: Proto and Family say which. The reply carries its FD; for
	// TCP, Arg (at most MaxBatch) asks for that many at once, which the kernel keeps
	// unconnected until its app makes sockets (they reach nothing until OpConnect).
	OpSocket Op = 1 + iota
	// OpConnect connects the attached socket (TCP) or relay (UDP, ICMP) to Addr. The reply's
	// errno is 0, EINPROGRESS (TCP: poll for writability, then SO_ERROR) or why not. An
	// invalid Addr (AF_UNSPEC) disconnects: a datagram socket forgets its peer, a TCP
	// connection is reset, a listener stops listening.
	OpConnect
	// OpBind binds the attached socket or relay to Addr; the reply holds the bound address.
	OpBind
	// OpListen makes the attached bound TCP socket listen with backlog Arg.
	OpListen
	// OpCheck asks whether a datagram of Proto may go to Addr (the relay checks again).
	OpCheck
)

// Protocols.
const (
	ProtoTCP  uint8 = 6
	ProtoUDP  uint8 = 17
	ProtoICMP uint8 = 1
)

// RequestSize and ReplySize are the fixed message sizes.
const (
	RequestSize = 40
	ReplySize   = 32
	// FrameSize is the header before each datagram on a relay.
	FrameSize = 28
	// MaxDatagram bounds a relayed datagram's payload.
	MaxDatagram = 65535
	// MaxBatch bounds the sockets one OpSocket returns.
	MaxBatch = 8
)

// Request is one kernel → broker message.
type Request struct {
	Op     Op
	Proto  uint8
	Family uint16 // AF_INET or AF_INET6
	Arg    uint32 // OpListen: the backlog
	Addr   netip.AddrPort
	// CPU is the CPU the requesting thread waits on (-1: unknown); Client fills it in. It
	// is only a hint where to answer from.
	CPU int
}

// Reply is the broker's answer.
type Reply struct {
	Errno uint32
	Addr  netip.AddrPort // OpBind: the bound address
}

// ZoneEth0 is the zone of a link-local IPv6 address scoped to the sandbox's eth0 (the app
// named its interface index); the broker sends it out the host's interface eth0 stands for.
// It is the only zone on the wire: flag byte 1 of an address.
const ZoneEth0 = "eth0"

func putAddr(b []byte, a netip.AddrPort) {
	if !a.IsValid() {
		return
	}
	b[0] = 4
	if a.Addr().Is6() {
		b[0] = 6
	}
	if a.Addr().Zone() == ZoneEth0 {
		b[1] = 1
	}
	binary.LittleEndian.PutUint16(b[2:], a.Port())
	ip := a.Addr().As16()
	copy(b[4:20], ip[:])
}

func getAddr(b []byte) netip.AddrPort {
	var ip [16]byte
	copy(ip[:], b[4:20])
	port := binary.LittleEndian.Uint16(b[2:])
	switch b[0] {
	case 4:
		return netip.AddrPortFrom(netip.AddrFrom16(ip).Unmap(), port)
	case 6:
		a := netip.AddrFrom16(ip)
		if b[1] == 1 && a.IsLinkLocalUnicast() {
			a = a.WithZone(ZoneEth0)
		}
		return netip.AddrPortFrom(a, port)
	}
	return netip.AddrPort{}
}

// Encode returns the request's wire form.
func (r Request) Encode() []byte {
	b := make([]byte, RequestSize)
	r.encode(b)
	return b
}

// encode writes the wire form into b[:RequestSize]. The CPU travels as CPU+1 (0: unknown).
func (r Request) encode(b []byte) {
	clear(b[:RequestSize])
	b[0], b[1] = byte(r.Op), r.Proto
	binary.LittleEndian.PutUint16(b[2:], r.Family)
	binary.LittleEndian.PutUint32(b[4:], r.Arg)
	putAddr(b[8:28], r.Addr)
	if r.CPU >= 0 && r.CPU < 0xffff {
		binary.LittleEndian.PutUint16(b[28:], uint16(r.CPU+1))
	}
}

// DecodeRequest parses a request; ok is false for a malformed one.
func DecodeRequest(b []byte) (Request, bool) {
	if len(b) != RequestSize {
		return Request{}, false
	}
	r := Request{Op: Op(b[0]), Proto: b[1], Family: binary.LittleEndian.Uint16(b[2:]), Arg: binary.LittleEndian.Uint32(b[4:]),
		Addr: getAddr(b[8:28]), CPU: int(binary.LittleEndian.Uint16(b[28:])) - 1}
	return r, true
}

// Encode returns the reply's wire form.
func (r Reply) Encode() []byte {
	b := make([]byte, ReplySize)
	r.EncodeTo(b)
	return b
}

// EncodeTo writes the wire form into b[:ReplySize].
func (r Reply) EncodeTo(b []byte) {
	clear(b[:ReplySize])
	binary.LittleEndian.PutUint32(b[0:], r.Errno)
	putAddr(b[4:24], r.Addr)
}

// DecodeReply parses a reply.
func DecodeReply(b []byte) (Reply, bool) {
	if len(b) != ReplySize {
		return Reply{}, false
	}
	return Reply{Errno: binary.LittleEndian.Uint32(b[0:]), Addr: getAddr(b[4:24])}, true
}

// Frame is the header of one datagram on a relay: its destination (kernel → broker; invalid:
// the connected peer) or its source (broker → kernel). Errno, broker → kernel only, reports
// an asynchronous error (ECONNREFUSED on a connected socket) in place of a datagram. TTL,
// broker → kernel, is the datagram's IP TTL or hop limit (0: unknown).
type Frame struct {
	Addr  netip.AddrPort
	Errno uint32
	TTL   uint8
}

// PutFrame writes f into b[:FrameSize].
func PutFrame(b []byte, f Frame) {
	clear(b[:FrameSize])
	putAddr(b[0:20], f.Addr)
	binary.LittleEndian.PutUint32(b[20:], f.Errno)
	b[24] = f.TTL
}

// GetFrame reads the header at the start of b; ok is false when b is too short.
func GetFrame(b []byte) (Frame, bool) {
	if len(b) < FrameSize {
		return Frame{}, false
	}
	return Frame{Addr: getAddr(b[0:20]), Errno: binary.LittleEndian.Uint32(b[20:]), TTL: b[24]}, true
}
