package inet

import (
	"net/netip"

	"github.com/sbx-dev/sbx/kernel/net/netproto"
	"golang.org/x/sys/unix"
)

// newDgram gives a UDP or ICMP socket its relay: a SOCK_SEQPACKET pair the kernel makes,
// one end (fd) to read, the other handed to the broker, which relays what the app sends;
// the kernel keeps that end too (inject) to deliver datagrams of its private loopback.
func (st *Stack) newDgram(s *Socket) (*Socket, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, unix.ENOBUFS
	}
	for _, fd := range pair {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 1<<20)
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	}
	hostless := false
	if st.broker != nil {
		if _, _, err := st.ask(netproto.Request{Op: netproto.OpSocket, Proto: s.Proto, Family: uint16(s.Family)}, pair[1]); err != nil {
			if s.Proto != netproto.ProtoICMP || err != unix.EACCES {
				unix.Close(pair[0])
				unix.Close(pair[1])
				return nil, err
			}
			hostless = true // the host gives no ICMP socket: the private loopback still answers
		}
	} else if s.Proto != netproto.ProtoUDP {
		hostless = true
	}
	s.fd, s.dg = pair[0], &dgram{inject: pair[1], hostless: hostless}
	st.track(s)
	return s, nil
}

// relayFD is the FD that names the socket's relay to the broker.
func (s *Socket) relayFD() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dg.inject
}

// bindLocalDgram binds a datagram socket on the private loopback only.
func (s *Socket) bindLocalDgram(local netip.AddrPort) error {
	if s.Proto != netproto.ProtoUDP {
		return unix.EACCES
	}
	got, err := s.st.bindLocal(s, local)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.bound, s.local = true, s.shown(netip.AddrPortFrom(local.Addr(), got.Port()))
	s.mu.Unlock()
	return nil
}

// lookupUDP finds the datagram socket on the private loopback at dst.
func (st *Stack) lookupUDP(dst netip.AddrPort) *Socket {
	st.mu.Lock()
	defer st.mu.Unlock()
	return lookupIn(st.udp, dst)
}

// connectDgram sets (or, with an invalid address, dissolves) a datagram socket's peer. A
// peer on the private loopback is the sandbox's own unless the broker lets it reach a
// host service (the profile's host rules, the resolver).
func (s *Socket) connectDgram(dst netip.AddrPort) error {
	if s.Proto == netproto.ProtoICMP && ((dst.IsValid() && isLoopback(dst.Addr())) || s.icmpHostless()) {
		if dst.IsValid() && !isLoopback(dst.Addr()) {
			return unix.EACCES // no host ICMP socket (see icmp.go)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.connected, s.peer, s.dg.localPeer = dst.IsValid(), s.shown(dst), dst.IsValid()
		if !dst.IsValid() {
			s.peer = netip.AddrPort{}
		}
		s.pingIdentLocked()
		return nil
	}
	if dst.IsValid() && isLoopback(dst.Addr()) && s.Proto == netproto.ProtoUDP {
		local := s.st.lookupUDP(dst) != nil
		if !local {
			err := s.connectRelay(dst)
			if err == nil {
				return nil
			}
			if err != unix.EACCES && err != unix.ENETUNREACH {
				return err
			}
		}
		if _, err := s.ensureLocal(dst); err != nil {
			return err
		}
		s.mu.Lock()
		s.connected, s.peer, s.dg.localPeer = true, s.shown(dst), true
		s.mu.Unlock()
		return nil
	}
	return s.connectRelay(dst)
}

func (s *Socket) connectRelay(dst netip.AddrPort) error {
	if s.st.broker == nil {
		return unix.ENETUNREACH
	}
	rep, _, err := s.st.ask(netproto.Request{Op: netproto.OpConnect, Proto: s.Proto, Family: uint16(s.Family), Addr: dst}, s.relayFD())
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dg.localPeer = false
	if !dst.IsValid() {
		s.connected, s.peer = false, netip.AddrPort{}
		return nil
	}
	s.connected, s.peer = true, s.shown(dst)
	if !s.bound {
		s.local = s.shown(rep.Addr)
	}
	return nil
}

// ensureLocal returns the socket's address on the private loopback for sending to dst,
// binding it to the loopback address of dst's family and a free port if it has none.
func (s *Socket) ensureLocal(dst netip.AddrPort) (netip.AddrPort, error) {
	lo := netip.AddrFrom4([4]byte{127, 0, 0, 1})
	if dst.Addr().Unmap().Is6() {
		lo = netip.IPv6Loopback()
	}
	s.mu.Lock()
	bound, local := s.bound, s.local
	s.mu.Unlock()
	if bound {
		if a := local.Addr().Unmap(); a.IsUnspecified() || !a.IsLoopback() {
			return netip.AddrPortFrom(lo, local.Port()), nil
		}
		return norm(local), nil
	}
	if err := s.bindLocalDgram(netip.AddrPortFrom(lo, 0)); err != nil {
		return netip.AddrPort{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return norm(s.local), nil
}

// sendLocal delivers one datagram to a socket on the private loopback. Like UDP, it is
// dropped when the receiver's queue is full or the receiver is connected elsewhere.
func (s *Socket) sendLocal(dst netip.AddrPort, bufs [][]byte) (int, error) {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	src, err := s.ensureLocal(dst)
	if err != nil {
		return 0, err
	}
	target := s.st.lookupUDP(dst)
	inject := -1
	if target != nil {
		target.mu.Lock()
		if !target.connected || norm(target.peer) == src {
			inject = target.dg.inject
		}
		target.mu.Unlock()
	}
	if inject < 0 {
		// Nothing hears there: the datagram is lost and, as Linux's ICMP port unreachable
		// does, a connected sender's next receive fails with ECONNREFUSED.
		s.mu.Lock()
		own, connected := s.dg.inject, s.connected
		s.mu.Unlock()
		if connected && own >= 0 {
			hdr := make([]byte, netproto.FrameSize)
			netproto.PutFrame(hdr, netproto.Frame{Errno: uint32(unix.ECONNREFUSED)})
			unix.SendmsgBuffers(own, [][]byte{hdr}, nil, nil, ioFlags)
		}
		s.addOut(n)
		return n, nil
	}
	hdr := make([]byte, netproto.FrameSize)
	netproto.PutFrame(hdr, netproto.Frame{Addr: src, TTL: 64})
	unix.SendmsgBuffers(inject, append([][]byte{hdr}, bufs...), nil, nil, ioFlags)
	s.addOut(n)
	return n, nil
}

// shown is a as the socket's family shows it (IPv4 mapped on an AF_INET6 socket).
func (s *Socket) shown(a netip.AddrPort) netip.AddrPort {
	if s.Family == unix.AF_INET6 && a.Addr().Is4() {
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr().As16()), a.Port())
	}
	return a
}

// sendDgram sends one datagram through the relay. A destination is first checked with the
// broker so a refusal is the app's EACCES (the relay checks every datagram again).
func (s *Socket) sendDgram(bufs [][]byte, to netip.AddrPort, flags int) (int, error) {
	s.mu.Lock()
	fd, connected := s.fd, s.connected
	s.mu.Unlock()
	if fd < 0 {
		return 0, unix.ENETUNREACH
	}
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	if total > netproto.MaxDatagram-8 {
		return 0, unix.EMSGSIZE
	}
	s.mu.Lock()
	localPeer, peer := s.dg.localPeer, s.peer
	s.mu.Unlock()
	if s.Proto == netproto.ProtoICMP {
		dst := to
		if !dst.IsValid() && connected {
			dst = peer
		}
		switch {
		case !dst.IsValid():
			return 0, unix.EDESTADDRREQ
		case isLoopback(dst.Addr()):
			return s.echoLocal(dst, bufs)
		case s.icmpHostless():
			return 0, s.icmpRefused(dst)
		}
	}
	if !to.IsValid() && connected && localPeer {
		return s.sendLocal(norm(peer), bufs)
	}
	if to.IsValid() && isLoopback(to.Addr()) && s.Proto == netproto.ProtoUDP {
		if s.st.lookupUDP(to) != nil {
			return s.sendLocal(norm(to), bufs)
		}
		if s.st.broker == nil {
			return s.sendLocal(norm(to), bufs)
		}
		if _, _, err := s.st.ask(netproto.Request{Op: netproto.OpCheck, Proto: s.Proto, Family: uint16(s.Family), Addr: to}); err != nil {
			return s.sendLocal(norm(to), bufs) // the sandbox's own loopback, where nothing listens
		}
	} else if to.IsValid() {
		if s.st.broker == nil {
			return 0, unix.ENETUNREACH
		}
		if _, _, err := s.st.ask(netproto.Request{Op: netproto.OpCheck, Proto: s.Proto, Family: uint16(s.Family), Addr: to}); err != nil {
			return 0, err
		}
	} else if !connected {
		return 0, unix.EDESTADDRREQ
	}
	hdr := make([]byte, netproto.FrameSize)
	netproto.PutFrame(hdr, netproto.Frame{Addr: norm(to)})
	if !to.IsValid() {
		clear(hdr)
	}
	out := append([][]byte{hdr}, bufs...)
	n, err := unix.SendmsgBuffers(fd, out, nil, nil, ioFlags)
	if err != nil {
		if err == unix.EPIPE {
			err = unix.ENETDOWN
		}
		return 0, err
	}
	s.mu.Lock()
	if !s.local.IsValid() {
		s.local = netip.AddrPortFrom(s.unspecified(), 0) // the broker's socket is bound now
	}
	s.mu.Unlock()
	s.addOut(n - netproto.FrameSize)
	return n - netproto.FrameSize, nil
}

// recvDgram receives one datagram from the relay: its length (the whole datagram's with
// MSG_TRUNC in flags), its source, MSG_TRUNC when it did not fit, and its TTL.
func (s *Socket) recvDgram(bufs [][]byte, flags int) (int, netip.AddrPort, int, uint8, error) {
	s.mu.Lock()
	fd := s.fd
	s.mu.Unlock()
	if fd < 0 {
		return 0, netip.AddrPort{}, 0, 0, unix.EAGAIN
	}
	hdr := make([]byte, netproto.FrameSize)
	in := append([][]byte{hdr}, bufs...)
	n, _, rflags, _, err := unix.RecvmsgBuffers(fd, in, nil, flags&(unix.MSG_PEEK|unix.MSG_TRUNC)|unix.MSG_DONTWAIT)
	if err != nil {
		return 0, netip.AddrPort{}, 0, 0, err
	}
	if n == 0 {
		return 0, netip.AddrPort{}, 0, 0, unix.EAGAIN // the broker went away: nothing will come
	}
	f, ok := netproto.GetFrame(hdr)
	if !ok || n < netproto.FrameSize {
		return 0, netip.AddrPort{}, 0, 0, unix.EAGAIN
	}
	if f.Errno != 0 {
		return 0, netip.AddrPort{}, 0, 0, unix.Errno(f.Errno)
	}
	if flags&unix.MSG_PEEK == 0 {
		s.addIn(n - netproto.FrameSize)
	}
	return n - netproto.FrameSize, s.shown(f.Addr), rflags & unix.MSG_TRUNC, f.TTL, nil
}
