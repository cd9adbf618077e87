package inet

import (
	"encoding/binary"
	"net/netip"

	"github.com/sbx-dev/sbx/kernel/net/netproto"
	"golang.org/x/sys/unix"
)

// ICMP echo sockets (socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP), and ICMPv6's): what ping
// uses without privileges. The sandbox's own loopback answers echo requests in the kernel,
// as Linux's loopback device does, whatever the host allows. Other destinations go through
// the broker's relay, a host ICMP socket, which the host gives only to a user in its
// net.ipv4.ping_group_range: without one, the socket still works on the private loopback,
// and a send elsewhere fails with EACCES (what socket(2) fails with on such a host).

// ICMP message types (RFC 792, RFC 4443).
const (
	icmpEchoReply     = 0
	icmpEcho          = 8
	icmpv6EchoRequest = 128
	icmpv6EchoReply   = 129
)

// icmpHostless reports whether an echo socket has no host ICMP socket behind it.
func (s *Socket) icmpHostless() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dg.hostless
}

// icmpRefused is why an echo socket without a host socket cannot send to dst (outside the
// private loopback): EACCES, after the broker has said why (a denial naming the policy or
// the host's ping_group_range), or ENETUNREACH without a broker.
func (s *Socket) icmpRefused(dst netip.AddrPort) error {
	if s.st.broker == nil {
		return unix.ENETUNREACH
	}
	s.st.ask(netproto.Request{Op: netproto.OpCheck, Proto: s.Proto, Family: uint16(s.Family), Addr: dst})
	return unix.EACCES
}

// pingIdent is the socket's echo identifier, its "port" (getsockname shows it): assigned
// on first use, as Linux's ping_get_port autobinds. Preconditions: s.mu held.
func (s *Socket) pingIdentLocked() uint16 {
	if s.local.IsValid() && s.local.Port() != 0 {
		return s.local.Port()
	}
	s.st.mu.Lock()
	id := s.st.nextPort
	s.st.nextPort++
	if s.st.nextPort > ephemeralHi {
		s.st.nextPort = ephemeralLo
	}
	s.st.mu.Unlock()
	s.local = netip.AddrPortFrom(s.unspecified(), id)
	return id
}

// echoLocal answers an echo request to the private loopback: the reply (identifier
// rewritten to the socket's, as the kernel does for echo sockets) is queued for the socket
// itself, from dst.
func (s *Socket) echoLocal(dst netip.AddrPort, bufs [][]byte) (int, error) {
	msg := make([]byte, 0, total(bufs))
	for _, b := range bufs {
		msg = append(msg, b...)
	}
	v6 := s.Family == unix.AF_INET6
	req, rep := byte(icmpEcho), byte(icmpEchoReply)
	if v6 {
		req, rep = icmpv6EchoRequest, icmpv6EchoReply
	}
	// ping_common_sendmsg: a whole header, an echo request, code 0.
	if len(msg) < 8 || msg[0] != req || msg[1] != 0 {
		return 0, unix.EINVAL
	}
	s.mu.Lock()
	id := s.pingIdentLocked()
	inject := s.dg.inject
	s.mu.Unlock()
	msg[0] = rep
	binary.BigEndian.PutUint16(msg[4:], id)
	msg[2], msg[3] = 0, 0
	from := norm(dst)
	sum := uint32(0)
	if v6 {
		// The ICMPv6 checksum covers a pseudo-header: source, destination, length, 58.
		a := from.Addr().As16()
		for i := 0; i < 16; i += 2 {
			sum += 2 * uint32(binary.BigEndian.Uint16(a[i:]))
		}
		sum += uint32(len(msg)) + unix.IPPROTO_ICMPV6
	}
	binary.BigEndian.PutUint16(msg[2:], checksum(msg, sum))
	hdr := make([]byte, netproto.FrameSize)
	netproto.PutFrame(hdr, netproto.Frame{Addr: netip.AddrPortFrom(from.Addr(), 0), TTL: 64})
	if inject >= 0 {
		unix.SendmsgBuffers(inject, [][]byte{hdr, msg}, nil, nil, ioFlags)
	}
	s.addOut(len(msg))
	return len(msg), nil
}

// checksum is the Internet checksum (RFC 1071) of b, starting from sum.
func checksum(b []byte, sum uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
