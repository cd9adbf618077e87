package inet

import (
	"net/netip"

	"github.com/sbx-dev/sbx/kernel/net/netproto"
	"golang.org/x/sys/unix"
)

// connectDgram sets (or, with an invalid address, dissolves) a datagram socket's peer.
func (s *Socket) connectDgram(dst netip.AddrPort) error {
	s.mu.Lock()
	fd := s.fd
	s.mu.Unlock()
	rep, _, err := s.st.ask(netproto.Request{Op: netproto.OpConnect, Proto: s.Proto, Family: uint16(s.Family), Addr: dst}, fd)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
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
	if to.IsValid() {
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
	s.bytesOut.Add(uint64(n - netproto.FrameSize))
	return n - netproto.FrameSize, nil
}

// recvDgram receives one datagram from the relay: its length (the whole datagram's with
// MSG_TRUNC in flags), its source and MSG_TRUNC when it did not fit.
func (s *Socket) recvDgram(bufs [][]byte, flags int) (int, netip.AddrPort, int, error) {
	s.mu.Lock()
	fd := s.fd
	s.mu.Unlock()
	if fd < 0 {
		return 0, netip.AddrPort{}, 0, unix.EAGAIN
	}
	hdr := make([]byte, netproto.FrameSize)
	in := append([][]byte{hdr}, bufs...)
	n, _, rflags, _, err := unix.RecvmsgBuffers(fd, in, nil, flags&(unix.MSG_PEEK|unix.MSG_TRUNC)|unix.MSG_DONTWAIT)
	if err != nil {
		return 0, netip.AddrPort{}, 0, err
	}
	if n == 0 {
		return 0, netip.AddrPort{}, 0, unix.EAGAIN // the broker went away: nothing will come
	}
	f, ok := netproto.GetFrame(hdr)
	if !ok || n < netproto.FrameSize {
		return 0, netip.AddrPort{}, 0, unix.EAGAIN
	}
	if f.Errno != 0 {
		return 0, netip.AddrPort{}, 0, unix.Errno(f.Errno)
	}
	if flags&unix.MSG_PEEK == 0 {
		s.bytesIn.Add(uint64(n - netproto.FrameSize))
	}
	return n - netproto.FrameSize, s.shown(f.Addr), rflags & unix.MSG_TRUNC, nil
}
