package inet

import (
	"time"

	"github.com/sbx-dev/sbx/kernel/abi"
	"golang.org/x/sys/unix"
)

// tcpRmemMax is net.ipv4.tcp_rmem's maximum (Linux's default).
const tcpRmemMax = 6291456

// RcvLowat is SO_RCVLOWAT: how many bytes a blocking stream receive waits for.
func (s *Socket) RcvLowat() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(s.rcvLowat, 1)
}

// Option levels and names not in x/sys/unix under these names.
const (
	soRcvTimeoNew      = 66
	soSndTimeoNew      = 67
	tcpFastOpenConnect = 30
)

// passOpts are the options passed to a host TCP socket as they are: none of them changes
// where the socket connects or what it may bind. (TCP_FASTOPEN_CONNECT, TCP_REPAIR and the
// like are not here, and the kernel's seccomp filter refuses TCP_FASTOPEN_CONNECT too.)
var passOpts = map[[2]int]bool{
	{unix.SOL_SOCKET, unix.SO_KEEPALIVE}: true, {unix.SOL_SOCKET, unix.SO_REUSEADDR}: true,
	{unix.SOL_SOCKET, unix.SO_REUSEPORT}: true, {unix.SOL_SOCKET, unix.SO_SNDBUF}: true,
	{unix.SOL_SOCKET, unix.SO_RCVBUF}: true, {unix.SOL_SOCKET, unix.SO_LINGER}: true,
	{unix.SOL_SOCKET, unix.SO_RCVLOWAT}: true, {unix.SOL_SOCKET, unix.SO_OOBINLINE}: true,
	{unix.SOL_SOCKET, unix.SO_PRIORITY}: true, {unix.SOL_SOCKET, unix.SO_ERROR}: true,
	{unix.IPPROTO_TCP, unix.TCP_NODELAY}: true, {unix.IPPROTO_TCP, unix.TCP_MAXSEG}: true,
	{unix.IPPROTO_TCP, unix.TCP_CORK}: true, {unix.IPPROTO_TCP, unix.TCP_KEEPIDLE}: true,
	{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL}: true, {unix.IPPROTO_TCP, unix.TCP_KEEPCNT}: true,
	{unix.IPPROTO_TCP, unix.TCP_SYNCNT}: true, {unix.IPPROTO_TCP, unix.TCP_LINGER2}: true,
	{unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT}: true, {unix.IPPROTO_TCP, unix.TCP_WINDOW_CLAMP}: true,
	{unix.IPPROTO_TCP, unix.TCP_INFO}: true, {unix.IPPROTO_TCP, unix.TCP_QUICKACK}: true,
	{unix.IPPROTO_TCP, unix.TCP_CONGESTION}: true, {unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT}: true,
	{unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT}: true,
	{unix.IPPROTO_IP, unix.IP_TOS}:             true, {unix.IPPROTO_IP, unix.IP_TTL}: true,
	{unix.IPPROTO_IP, unix.IP_RECVERR}: true, {unix.IPPROTO_IP, unix.IP_MTU_DISCOVER}: true,
	{unix.IPPROTO_IP, unix.IP_MTU}:        true,
	{unix.IPPROTO_IPV6, unix.IPV6_V6ONLY}: true, {unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS}: true,
	{unix.IPPROTO_IPV6, unix.IPV6_TCLASS}: true, {unix.IPPROTO_IPV6, unix.IPV6_RECVERR}: true,
	{unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER}: true,
}

// emulated are options kept by the kernel for sockets without a host TCP socket (private
// loopback connections, datagram relays), with their defaults.
var emulated = map[[2]int]uint32{
	{unix.SOL_SOCKET, unix.SO_KEEPALIVE}: 0, {unix.SOL_SOCKET, unix.SO_REUSEADDR}: 0,
	{unix.SOL_SOCKET, unix.SO_REUSEPORT}: 0, {unix.SOL_SOCKET, unix.SO_SNDBUF}: 212992,
	{unix.SOL_SOCKET, unix.SO_RCVBUF}: 212992, {unix.SOL_SOCKET, unix.SO_BROADCAST}: 0,
	{unix.SOL_SOCKET, unix.SO_RCVLOWAT}: 1, {unix.SOL_SOCKET, unix.SO_PRIORITY}: 0,
	{unix.SOL_SOCKET, unix.SO_OOBINLINE}: 0, {unix.SOL_SOCKET, unix.SO_TIMESTAMP}: 0,
	{unix.IPPROTO_TCP, unix.TCP_NODELAY}: 0, {unix.IPPROTO_TCP, unix.TCP_CORK}: 0,
	{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE}: 7200, {unix.IPPROTO_TCP, unix.TCP_KEEPINTVL}: 75,
	{unix.IPPROTO_TCP, unix.TCP_KEEPCNT}: 9, {unix.IPPROTO_TCP, unix.TCP_QUICKACK}: 1,
	{unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT}: 0, {unix.IPPROTO_TCP, unix.TCP_MAXSEG}: 536,
	{unix.IPPROTO_IP, unix.IP_TOS}: 0, {unix.IPPROTO_IP, unix.IP_TTL}: 64,
	{unix.IPPROTO_IP, unix.IP_RECVERR}: 0, {unix.IPPROTO_IP, unix.IP_MTU_DISCOVER}: 1,
	{unix.IPPROTO_IP, unix.IP_RECVTTL}: 0, {unix.IPPROTO_IP, unix.IP_PKTINFO}: 0,
	{unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS}: 64, {unix.IPPROTO_IPV6, unix.IPV6_TCLASS}: 0,
	{unix.IPPROTO_IPV6, unix.IPV6_RECVERR}: 0, {unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER}: 1,
	{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO}: 0, {unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT}: 0,
	{unix.IPPROTO_IP, unix.IP_RETOPTS}: 0, {unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP}: 1,
	{unix.IPPROTO_IP, unix.IP_MULTICAST_TTL}: 1, {unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS}: 1,
}

func levelOK(s *Socket, level int) bool {
	switch level {
	case unix.SOL_SOCKET:
		return true
	case unix.IPPROTO_TCP:
		return s.Type == unix.SOCK_STREAM
	case unix.IPPROTO_UDP:
		return s.Proto == 17
	case unix.IPPROTO_IP:
		return true
	case unix.IPPROTO_IPV6:
		return s.Family == unix.AF_INET6
	}
	return false
}

// u32 is a 32-bit option value.
func u32(v uint32) []byte { return abi.AppendU32(nil, v) }

func timeval(d time.Duration) []byte {
	b := make([]byte, abi.SizeofTimeval)
	abi.Timeval{Sec: int64(d / time.Second), Usec: int64(d % time.Second / time.Microsecond)}.Encode(b)
	return b
}

// Getsockopt returns an option's value (the caller truncates it to the app's length).
func (s *Socket) Getsockopt(level, name int) ([]byte, error) {
	if !levelOK(s, level) {
		if s.Family == unix.AF_INET {
			return nil, unix.EOPNOTSUPP // ip_getsockopt; ipv6_getsockopt says ENOPROTOOPT
		}
		return nil, unix.ENOPROTOOPT
	}
	s.mu.Lock()
	fd, host := s.fd, s.fd >= 0 && !s.loop && !s.inKernel && s.Type == unix.SOCK_STREAM
	s.mu.Unlock()
	if level == unix.SOL_SOCKET {
		switch name {
		case unix.SO_TYPE:
			return u32(uint32(s.Type)), nil
		case unix.SO_DOMAIN:
			return u32(uint32(s.Family)), nil
		case unix.SO_PROTOCOL:
			p := uint32(s.Proto)
			if s.Proto == 1 && s.Family == unix.AF_INET6 {
				p = unix.IPPROTO_ICMPV6
			}
			return u32(p), nil
		case unix.SO_ACCEPTCONN:
			if s.Listening() {
				return u32(1), nil
			}
			return u32(0), nil
		case unix.SO_RCVTIMEO, soRcvTimeoNew:
			r, _ := s.Timeouts()
			return timeval(r), nil
		case unix.SO_SNDTIMEO, soSndTimeoNew:
			_, w := s.Timeouts()
			return timeval(w), nil
		case unix.SO_ERROR:
			s.mu.Lock()
			err := s.takeSoftErrLocked()
			s.mu.Unlock()
			if err != nil {
				return u32(uint32(err.(unix.Errno))), nil
			}
			if !host {
				return u32(0), nil
			}
		}
	}
	if level == unix.IPPROTO_IPV6 && name == unix.IPV6_V6ONLY {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.v6only {
			return u32(1), nil
		}
		return u32(0), nil
	}
	key := [2]int{level, name}
	if host && passOpts[key] {
		if level == unix.IPPROTO_TCP && name == unix.TCP_INFO {
			return getsockoptBytes(fd, level, name, 232)
		}
		if level == unix.IPPROTO_TCP && name == unix.TCP_CONGESTION {
			return getsockoptBytes(fd, level, name, 16)
		}
		if level == unix.SOL_SOCKET && name == unix.SO_LINGER {
			return getsockoptBytes(fd, level, name, 8)
		}
		v, err := unix.GetsockoptInt(fd, level, name)
		if err != nil {
			return nil, err
		}
		return u32(uint32(v)), nil
	}
	if level == unix.IPPROTO_TCP && name == unix.TCP_INFO && s.Type == unix.SOCK_STREAM {
		return s.loopTCPInfo(), nil
	}
	if level == unix.SOL_SOCKET && name == unix.SO_LINGER {
		s.mu.Lock()
		defer s.mu.Unlock()
		b := make([]byte, abi.SizeofLinger)
		s.linger.Encode(b)
		return b, nil
	}
	if def, ok := emulated[key]; ok {
		s.mu.Lock()
		defer s.mu.Unlock()
		if v, ok := s.opts[key]; ok {
			return v, nil
		}
		return u32(def), nil
	}
	return nil, unix.ENOPROTOOPT
}

// Bits of Socket.reuse.
const (
	reuseAddr = 1 << iota
	reusePort
)

// sizeofTCPInfo is sizeof(struct tcp_info) (include/uapi/linux/tcp.h).
const sizeofTCPInfo = 232

// TCP states (include/net/tcp_states.h).
const (
	tcpEstablished = 1
	tcpFinWait2    = 5
	tcpClose       = 7
	tcpListen      = 10
)

// loopTCPInfo is TCP_INFO of a socket the host has no TCP socket for (the private
// loopback: a socketpair end, an in-kernel listener, an unconnected socket): its state
// (tcpi_state), the only field with a meaning there; the counters of a TCP connection
// that does not exist are zero.
func (s *Socket) loopTCPInfo() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := make([]byte, sizeofTCPInfo)
	switch {
	case s.listening:
		b[0] = tcpListen
	case s.connected && s.shutWr:
		b[0] = tcpFinWait2
	case s.connected:
		b[0] = tcpEstablished
	default:
		b[0] = tcpClose
	}
	return b
}

// Setsockopt sets an option: passed to the host TCP socket when it is one the host may see,
// kept by the kernel otherwise.
func (s *Socket) Setsockopt(level, name int, val []byte) error {
	if !levelOK(s, level) {
		return unix.ENOPROTOOPT
	}
	if level == unix.SOL_SOCKET {
		switch name {
		case unix.SO_RCVTIMEO, unix.SO_SNDTIMEO, soRcvTimeoNew, soSndTimeoNew:
			if len(val) < 16 {
				return unix.EINVAL
			}
			tv := abi.DecodeTimeval(val)
			sec, usec := tv.Sec, tv.Usec
			if usec < 0 || usec >= 1e6 {
				return unix.EDOM
			}
			d := time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond
			if sec < 0 {
				d = 0
			}
			s.mu.Lock()
			if name == unix.SO_RCVTIMEO || name == soRcvTimeoNew {
				s.rcvTimeo = d
			} else {
				s.sndTimeo = d
			}
			s.mu.Unlock()
			return nil
		case unix.SO_ERROR, unix.SO_TYPE, unix.SO_DOMAIN, unix.SO_PROTOCOL, unix.SO_ACCEPTCONN:
			return unix.ENOPROTOOPT
		case unix.SO_RCVLOWAT:
			if len(val) < 4 {
				return unix.EINVAL
			}
			// sock_setsockopt: negative is INT_MAX, 0 is 1; TCP caps it at half the
			// largest receive buffer (tcp_rmem[2] / 2, Linux's default 6 MiB / 2).
			v := int64(int32(abi.U32(val)))
			if v < 0 {
				v = 1<<31 - 1
			}
			if s.Type == unix.SOCK_STREAM {
				v = min(v, tcpRmemMax/2)
			}
			v = max(v, 1)
			val = u32(uint32(v))
			s.mu.Lock()
			s.rcvLowat = int(v)
			s.mu.Unlock()
		}
	}
	if level == unix.IPPROTO_TCP && name == tcpFastOpenConnect {
		return unix.EOPNOTSUPP // it would let a send pick the destination
	}
	if len(val) < 4 && !(level == unix.IPPROTO_TCP && name == unix.TCP_CONGESTION) {
		return unix.EINVAL
	}
	key := [2]int{level, name}
	if level == unix.SOL_SOCKET && (name == unix.SO_REUSEADDR || name == unix.SO_REUSEPORT) {
		bit := uint32(reuseAddr)
		if name == unix.SO_REUSEPORT {
			bit = reusePort
		}
		if abi.U32(val) != 0 {
			s.reuse.Or(bit)
		} else {
			s.reuse.And(^bit)
		}
	}
	s.mu.Lock()
	fd, host := s.fd, s.fd >= 0 && !s.loop && !s.inKernel && s.Type == unix.SOCK_STREAM
	if level == unix.IPPROTO_IPV6 && name == unix.IPV6_V6ONLY {
		if s.bound || s.connected {
			s.mu.Unlock()
			return unix.EINVAL
		}
		s.v6only = abi.U32(val) != 0
	}
	s.mu.Unlock()
	if host && passOpts[key] {
		if level == unix.IPPROTO_TCP && name == unix.TCP_CONGESTION || level == unix.SOL_SOCKET && name == unix.SO_LINGER {
			return setsockoptBytes(fd, level, name, val)
		}
		return unix.SetsockoptInt(fd, level, name, int(int32(abi.U32(val))))
	}
	if level == unix.IPPROTO_IPV6 && name == unix.IPV6_V6ONLY {
		return nil
	}
	if level == unix.SOL_SOCKET && name == unix.SO_LINGER {
		return s.setLinger(val)
	}
	if level == unix.IPPROTO_IP && name == unix.IP_TTL || level == unix.IPPROTO_IPV6 && name == unix.IPV6_UNICAST_HOPS {
		// 1 to 255 (0 too for a hop limit); -1 restores the default.
		switch v := int32(abi.U32(val)); {
		case v == -1:
			s.mu.Lock()
			delete(s.opts, key)
			s.mu.Unlock()
			return nil
		case v < 0 || v > 255 || v == 0 && level == unix.IPPROTO_IP:
			return unix.EINVAL
		}
	}
	if _, ok := emulated[key]; ok {
		s.mu.Lock()
		if s.opts == nil {
			s.opts = map[[2]int][]byte{}
		}
		v := append([]byte(nil), val[:4]...)
		if level == unix.SOL_SOCKET && (name == unix.SO_SNDBUF || name == unix.SO_RCVBUF) {
			v = u32(min(max(abi.U32(val)*2, 4608), 212992*2)) // Linux doubles it
		}
		s.opts[key] = v
		s.mu.Unlock()
		return nil
	}
	return unix.ENOPROTOOPT
}

// putCmsg writes one control message carrying a 32-bit value into b (CmsgSpace(4) bytes).
func putCmsg(b []byte, level, typ int, v uint32) {
	h := abi.Cmsghdr{Len: uint64(abi.CmsgLen(4)), Level: int32(level), Type: int32(typ)}
	h.Encode(b)
	abi.PutU32(b[abi.SizeofCmsghdr:], v)
}

// setLinger sets an emulated SO_LINGER (struct linger). Turning it off keeps the time, as
// sock_setsockopt does.
func (s *Socket) setLinger(val []byte) error {
	if len(val) < abi.SizeofLinger {
		return unix.EINVAL
	}
	var l abi.Linger
	l.Decode(val)
	s.mu.Lock()
	defer s.mu.Unlock()
	if l.Onoff == 0 {
		s.linger.Onoff = 0
		return nil
	}
	s.linger = abi.Linger{Onoff: 1, Linger: l.Linger}
	return nil
}

// resetsOnCloseLocked reports whether SO_LINGER is on with a zero time: close resets the
// connection instead of ending it. Preconditions: s.mu held.
func (s *Socket) resetsOnCloseLocked() bool {
	return s.linger.Onoff != 0 && s.linger.Linger == 0
}

// adopted are the options a socket keeps when it moves from its host TCP socket onto the
// private loopback (bound or connected there), where they are emulated.
var adopted = [][2]int{
	{unix.SOL_SOCKET, unix.SO_REUSEADDR}, {unix.SOL_SOCKET, unix.SO_REUSEPORT},
	{unix.SOL_SOCKET, unix.SO_KEEPALIVE}, {unix.SOL_SOCKET, unix.SO_OOBINLINE},
	{unix.IPPROTO_TCP, unix.TCP_NODELAY}, {unix.IPPROTO_TCP, unix.TCP_CORK},
}

// adoptHostOptsLocked copies the options set on the host TCP socket fd, about to be
// closed, into the emulated ones. Preconditions: s.mu held.
func (s *Socket) adoptHostOptsLocked(fd int) {
	for _, key := range adopted {
		v, err := unix.GetsockoptInt(fd, key[0], key[1])
		if err != nil || v == 0 {
			continue
		}
		if s.opts == nil {
			s.opts = map[[2]int][]byte{}
		}
		s.opts[key] = u32(uint32(v))
	}
	if b, err := getsockoptBytes(fd, unix.SOL_SOCKET, unix.SO_LINGER, abi.SizeofLinger); err == nil {
		var l abi.Linger
		l.Decode(b)
		if l.Onoff != 0 {
			s.linger = l
		}
	}
}
