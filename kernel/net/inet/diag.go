package inet

import (
	"bytes"

	"github.com/sbx-dev/sbx/kernel/net/netproto"
	"golang.org/x/sys/unix"
)

// TCP states as Linux numbers them (include/net/tcp_states.h), for sock_diag.
const (
	TCPEstablished = 1
	TCPSynSent     = 2
	TCPClose       = 7
	TCPListen      = 10
)

// DiagSock is what NETLINK_SOCK_DIAG reports of one Internet socket.
type DiagSock struct {
	Conn
	Family int   // AF_INET or AF_INET6
	Proto  uint8 // netproto.ProtoTCP or ProtoUDP (ICMP echo sockets are not reported)
	State  uint8 // a TCP* state
	// Rqueue and Wqueue: a listener's connections waiting to be accepted and its backlog;
	// otherwise the bytes waiting to be read and not yet sent (TCP) as the host socket
	// counts them.
	Rqueue, Wqueue uint32
	V6Only         bool
	// Bound: the app bound the socket's port itself (not an automatic one).
	Bound bool
	// Info is TCP_INFO and Cong TCP_CONGESTION of the host TCP socket behind it (nil and
	// "": none, e.g. on the private loopback).
	Info []byte
	Cong string
	// MemInfo is SO_MEMINFO of the host socket behind it (nil: none).
	MemInfo []byte
}

// Diag lists the sandbox's TCP and UDP sockets for sock_diag. info asks for Info, Cong and
// MemInfo.
func (st *Stack) Diag(info bool) []DiagSock {
	st.mu.Lock()
	socks := make([]*Socket, 0, len(st.live))
	for s := range st.live {
		socks = append(socks, s)
	}
	st.mu.Unlock()
	var out []DiagSock
	for _, s := range socks {
		if s.Proto == netproto.ProtoICMP {
			continue
		}
		out = append(out, s.diag(info))
	}
	return out
}

func (s *Socket) diag(info bool) DiagSock {
	d := DiagSock{Conn: s.conn(), Family: s.Family, Proto: s.Proto}
	s.mu.Lock()
	fd, loop, inKernel, listening, backlog, pending := s.fd, s.loop, s.inKernel, s.listening, s.backlog, len(s.pending)
	d.V6Only, d.Bound = s.v6only, s.bound && s.local.Port() != 0
	s.mu.Unlock()
	switch {
	case d.Conn.State == "listen":
		d.State = TCPListen
	case d.Conn.State == "connecting":
		d.State = TCPSynSent
	case d.Conn.State == "established":
		d.State = TCPEstablished
	default:
		d.State = TCPClose
	}
	if info && fd >= 0 && !inKernel {
		if b, err := getsockoptBytes(fd, unix.SOL_SOCKET, unix.SO_MEMINFO, 4*unix.SK_MEMINFO_VARS); err == nil {
			d.MemInfo = b
		}
	}
	if s.Type != unix.SOCK_STREAM {
		return d
	}
	if listening {
		d.Rqueue, d.Wqueue = uint32(pending), uint32(backlog)
		if !inKernel && fd >= 0 {
			// The host's accept queue (tcp_info's unacked on a listener).
			if ti, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
				d.Rqueue = ti.Unacked
			}
		}
		return d
	}
	if fd < 0 || inKernel {
		return d
	}
	if n, err := unix.IoctlGetInt(fd, unix.SIOCINQ); err == nil {
		d.Rqueue = uint32(n)
	}
	if n, err := unix.IoctlGetInt(fd, unix.SIOCOUTQ); err == nil {
		d.Wqueue = uint32(n)
	}
	if info && !loop {
		if b, err := getsockoptBytes(fd, unix.IPPROTO_TCP, unix.TCP_INFO, 512); err == nil {
			d.Info = b
		}
		if c, err := getsockoptBytes(fd, unix.IPPROTO_TCP, unix.TCP_CONGESTION, 16); err == nil {
			d.Cong = string(bytes.TrimRight(c, "\x00"))
		}
	}
	return d
}
