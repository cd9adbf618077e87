package net

import (
	"encoding/binary"
	"errors"
	gonet "net"
	"net/netip"
	"os"
	"sync"

	"github.com/sbx-dev/sbx/kernel/net/netproto"
	"golang.org/x/sys/unix"
)

// relay carries one datagram socket's traffic between the kernel's end of a SOCK_SEQPACKET
// socketpair and the host socket the broker keeps. Every datagram out names its destination
// (or the connected peer) and is checked here; the kernel never holds the host socket, so
// it cannot send anywhere the policy forbids.
type relay struct {
	proto  uint8
	family uint16
	hostFD int            // the host socket, for connect and bind
	host   *gonet.UDPConn // the same socket, for I/O
	kernel *gonet.UnixConn
	ino    uint64

	mu sync.Mutex
	// peer is the connected destination; allowed caches destinations already checked.
	// protected by mu
	peer    netip.AddrPort
	allowed map[netip.AddrPort]bool
	// toResolver: the peer is the sandbox's resolver, which the broker answers itself.
	// protected by mu
	toResolver bool
}

// newRelay makes a datagram relay. kernelEnd is the broker's end of a SOCK_SEQPACKET pair
// the kernel made (it keeps the other end, and may inject datagrams of its own private
// loopback into it); -1: the broker makes the pair and donates the kernel's end.
func (b *Broker) newRelay(req netproto.Request, kernelEnd int) (netproto.Reply, int) {
	proto := unix.IPPROTO_UDP
	if req.Proto == netproto.ProtoICMP {
		proto = unix.IPPROTO_ICMP
		if req.Family == unix.AF_INET6 {
			proto = unix.IPPROTO_ICMPV6
		}
	}
	hs, err := b.newSocket(int(req.Family), unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		if req.Proto == netproto.ProtoICMP && (err == unix.EACCES || err == unix.EPERM) {
			// ICMP echo sockets need the user in net.ipv4.ping_group_range on the host.
			return netproto.Reply{Errno: uint32(unix.EACCES)}, -1
		}
		return errReply(err), -1
	}
	var pair [2]int
	if kernelEnd >= 0 {
		typ, err1 := unix.GetsockoptInt(kernelEnd, unix.SOL_SOCKET, unix.SO_TYPE)
		dom, err2 := unix.GetsockoptInt(kernelEnd, unix.SOL_SOCKET, unix.SO_DOMAIN)
		if err1 != nil || err2 != nil || typ != unix.SOCK_SEQPACKET || dom != unix.AF_UNIX {
			unix.Close(hs)
			return netproto.Reply{Errno: uint32(unix.ENOTSOCK)}, -1
		}
		own, err := unix.FcntlInt(uintptr(kernelEnd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			unix.Close(hs)
			return errReply(err), -1
		}
		pair = [2]int{own, -1}
	} else {
		p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			unix.Close(hs)
			return errReply(err), -1
		}
		pair = [2]int{p[0], p[1]}
	}
	// Room for a burst of datagrams either way.
	for _, fd := range pair {
		if fd >= 0 {
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 1<<20)
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
		}
	}
	// The relay is known by the inode of the end the kernel attaches to later requests:
	// its own end when the broker made the pair, the broker's end when the kernel did.
	var st unix.Stat_t
	key := pair[1]
	if key < 0 {
		key = pair[0]
	}
	if err := unix.Fstat(key, &st); err != nil {
		unix.Close(hs)
		unix.Close(pair[0])
		if pair[1] >= 0 {
			unix.Close(pair[1])
		}
		return errReply(err), -1
	}
	// The TTL (hop limit) of each datagram travels with it, for IP_RECVTTL (ping shows it).
	if req.Family == unix.AF_INET6 {
		unix.SetsockoptInt(hs, unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1)
	} else {
		unix.SetsockoptInt(hs, unix.IPPROTO_IP, unix.IP_RECVTTL, 1)
	}
	hf := os.NewFile(uintptr(hs), "relay-host")
	pc, err := gonet.FilePacketConn(hf) // dups hs: hostFD stays ours for connect and bind
	kf := os.NewFile(uintptr(pair[0]), "relay")
	kc, err2 := gonet.FileConn(kf)
	kf.Close()
	udp, ok := pc.(*gonet.UDPConn)
	uc, ok2 := kc.(*gonet.UnixConn)
	if err != nil || err2 != nil || !ok || !ok2 {
		hf.Close()
		if pc != nil {
			pc.Close()
		}
		if kc != nil {
			kc.Close()
		}
		if pair[1] >= 0 {
			unix.Close(pair[1])
		}
		return netproto.Reply{Errno: uint32(unix.ENOBUFS)}, -1
	}
	r := &relay{proto: req.Proto, family: req.Family, hostFD: hs, host: udp, kernel: uc, ino: st.Ino,
		allowed: map[netip.AddrPort]bool{}}
	b.mu.Lock()
	b.relays[r.ino] = r
	b.mu.Unlock()
	go r.down()
	go func() {
		r.up(b)
		b.mu.Lock()
		delete(b.relays, r.ino)
		b.mu.Unlock()
		r.host.Close()
		r.kernel.Close()
		hf.Close()
	}()
	return netproto.Reply{}, pair[1]
}

// relayOf returns the relay whose kernel end fd is, if any.
func (b *Broker) relayOf(fd int) *relay {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.relays[st.Ino]
}

// handle connects or binds the relay's host socket.
func (r *relay) handle(b *Broker, req netproto.Request) netproto.Reply {
	switch req.Op {
	case netproto.OpConnect:
		if !req.Addr.IsValid() { // AF_UNSPEC: dissolve the association
			connectUnspec(r.hostFD)
			r.mu.Lock()
			r.peer, r.toResolver = netip.AddrPort{}, false
			r.mu.Unlock()
			return netproto.Reply{}
		}
		if r.proto == netproto.ProtoUDP && b.isResolver(req.Addr) {
			connectUnspec(r.hostFD)
			r.mu.Lock()
			r.peer, r.toResolver = req.Addr, true
			r.mu.Unlock()
			return netproto.Reply{}
		}
		if v := b.checkConnect(req.Addr, -1); !v.Allowed {
			b.onDenial(Denial{Op: "connect", Proto: protoName(r.proto), Addr: req.Addr.String(), Why: v.Why})
			return netproto.Reply{Errno: uint32(unix.EACCES)}
		}
		sa, err := sockaddr(req.Addr, r.family)
		if err != nil {
			return errReply(err)
		}
		if err := unix.Connect(r.hostFD, sa); err != nil {
			return errReply(err)
		}
		r.mu.Lock()
		r.peer, r.toResolver = req.Addr, false
		r.allowed[req.Addr] = true
		r.mu.Unlock()
		local, _ := unix.Getsockname(r.hostFD)
		return netproto.Reply{Addr: addrOf(local)}
	case netproto.OpBind:
		if v := b.pol.CheckListen(req.Addr, req.Addr.Port() != 0, b.namesOf(req.Addr.Addr())...); !v.Allowed {
			b.onDenial(Denial{Op: "bind", Proto: protoName(r.proto), Addr: req.Addr.String(), Why: v.Why})
			return netproto.Reply{Errno: uint32(unix.EACCES)}
		}
		sa, err := sockaddr(req.Addr, r.family)
		if err != nil {
			return errReply(err)
		}
		if err := unix.Bind(r.hostFD, sa); err != nil {
			return errReply(err)
		}
		local, _ := unix.Getsockname(r.hostFD)
		return netproto.Reply{Addr: addrOf(local)}
	}
	return netproto.Reply{Errno: uint32(unix.EOPNOTSUPP)}
}

// up sends the kernel's datagrams, each to a destination the policy allows; it returns when
// the kernel closes its end.
func (r *relay) up(b *Broker) {
	buf := make([]byte, netproto.FrameSize+netproto.MaxDatagram)
	for {
		n, err := r.kernel.Read(buf)
		if err != nil || n == 0 {
			return
		}
		f, ok := netproto.GetFrame(buf[:n])
		if !ok {
			continue
		}
		payload := buf[netproto.FrameSize:n]
		r.mu.Lock()
		toResolver := r.toResolver
		r.mu.Unlock()
		if r.proto == netproto.ProtoUDP && (f.Addr.IsValid() && b.isResolver(f.Addr) || !f.Addr.IsValid() && toResolver) {
			go b.answer(r, append([]byte(nil), payload...))
			continue
		}
		if !f.Addr.IsValid() {
			r.host.Write(payload) // the connected peer, checked at connect
			continue
		}
		r.mu.Lock()
		ok = r.allowed[f.Addr]
		r.mu.Unlock()
		if !ok {
			v := b.checkConnect(f.Addr, -1)
			if !v.Allowed {
				b.onDenial(Denial{Op: "send", Proto: protoName(r.proto), Addr: f.Addr.String(), Why: v.Why})
				continue
			}
			r.mu.Lock()
			if len(r.allowed) > 1024 {
				clear(r.allowed)
			}
			r.allowed[f.Addr] = true
			r.mu.Unlock()
		}
		dst := f.Addr
		if r.family == unix.AF_INET6 && dst.Addr().Is4() {
			dst = netip.AddrPortFrom(netip.AddrFrom16(dst.Addr().As16()), dst.Port())
		}
		r.host.WriteToUDPAddrPort(payload, dst)
	}
}

// down passes the host socket's datagrams to the kernel, each with its source.
func (r *relay) down() {
	buf := make([]byte, netproto.FrameSize+netproto.MaxDatagram)
	oob := make([]byte, 128)
	for {
		n, oobn, _, from, err := r.host.ReadMsgUDPAddrPort(buf[netproto.FrameSize:], oob)
		if err != nil {
			var errno unix.Errno
			if errors.As(err, &errno) && errno != unix.EBADF {
				// An asynchronous error (ECONNREFUSED from an ICMP unreachable) for the app.
				netproto.PutFrame(buf, netproto.Frame{Errno: uint32(errno)})
				if _, err := r.kernel.Write(buf[:netproto.FrameSize]); err != nil {
					return
				}
				continue
			}
			return
		}
		netproto.PutFrame(buf, netproto.Frame{Addr: netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), TTL: ttlOf(oob[:oobn])})
		if _, err := r.kernel.Write(buf[:netproto.FrameSize+n]); err != nil {
			return
		}
	}
}

// ttlOf finds the IP_TTL or IPV6_HOPLIMIT control message (0: none).
func ttlOf(oob []byte) uint8 {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	for _, m := range msgs {
		if (m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_TTL ||
			m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_HOPLIMIT) && len(m.Data) >= 4 {
			return uint8(binary.LittleEndian.Uint32(m.Data))
		}
	}
	return 0
}
