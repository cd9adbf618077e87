package syscalls

import (
	"net/netip"
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/net/inet"
	"github.com/sbx-dev/sbx/kernel/net/netproto"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// socketFamily creates a socket of one address family; the socket handlers dispatch on the
// implementation they find behind the descriptor.
type socketFamily func(t *kernel.Task, family, typ, proto int) (vfs.File, error)

// socketFamilies is the registry of address families offered to the app (AF_UNIX is the
// original code path in socket.go): Internet sockets (socket_inet.go), NETLINK_ROUTE
// (socket_netlink.go). It is never modified.
var socketFamilies = map[uint64]socketFamily{
	unix.AF_INET:    newInetSocket,
	unix.AF_INET6:   newInetSocket,
	unix.AF_NETLINK: newNetlinkSocket,
	unix.AF_PACKET:  func(*kernel.Task, int, int, int) (vfs.File, error) { return nil, unix.EPERM },
}

// newInetSocket creates a TCP, UDP or ICMP echo socket; raw sockets need CAP_NET_RAW, which
// the sandbox never has on the host: EPERM.
func newInetSocket(t *kernel.Task, family, typ, proto int) (vfs.File, error) {
	var p uint8
	icmp := unix.IPPROTO_ICMP
	if family == unix.AF_INET6 {
		icmp = unix.IPPROTO_ICMPV6
	}
	switch typ {
	case unix.SOCK_STREAM:
		if proto != 0 && proto != unix.IPPROTO_TCP {
			return nil, unix.EPROTONOSUPPORT
		}
		p = netproto.ProtoTCP
	case unix.SOCK_DGRAM:
		switch proto {
		case 0, unix.IPPROTO_UDP:
			p = netproto.ProtoUDP
		case icmp:
			p = netproto.ProtoICMP
		default:
			return nil, unix.EPROTONOSUPPORT
		}
	case unix.SOCK_RAW:
		return nil, unix.EPERM
	default:
		return nil, unix.ESOCKTNOSUPPORT
	}
	return t.Group().NetStack().New(family, typ, p)
}

// inetFD returns the Internet socket behind fdn, if that is what it is.
func inetFD(t *kernel.Task, fdn uint64) (*vfs.FileDescription, *inet.Socket) {
	fd, err := getIOFD(t, fdn)
	if err != nil {
		return nil, nil
	}
	if s, ok := fd.Impl().(*inet.Socket); ok {
		return fd, s
	}
	fd.DecRef()
	return nil, nil
}

// addrUse is what an address read from the app is for: scoped IPv6 addresses are checked
// differently by connect, bind and an unconnected send.
type addrUse int

const (
	forConnect addrUse = iota
	forBind
	forSend
)

// readSockaddrIn decodes a sockaddr_in or sockaddr_in6 for a socket of family, used for use.
// AF_UNSPEC comes back as an invalid address.
func readSockaddrIn(t *kernel.Task, family int, addr, size uint64, use addrUse) (netip.AddrPort, error) {
	if size < 2 || size > 128 {
		return netip.AddrPort{}, unix.EINVAL
	}
	b := make([]byte, size)
	if _, err := t.CopyIn(addr, b); err != nil {
		return netip.AddrPort{}, unix.EFAULT
	}
	f := abi.SockaddrFamily(b)
	if f == unix.AF_UNSPEC {
		return netip.AddrPort{}, nil
	}
	switch family {
	case unix.AF_INET:
		if size < 16 {
			return netip.AddrPort{}, unix.EINVAL
		}
		if f != unix.AF_INET {
			return netip.AddrPort{}, unix.EAFNOSUPPORT
		}
		var sin abi.SockaddrIn
		sin.Decode(b)
		return netip.AddrPortFrom(netip.AddrFrom4(sin.Addr), sin.Port), nil
	default:
		if size < 24 {
			return netip.AddrPort{}, unix.EINVAL
		}
		if f != unix.AF_INET6 {
			return netip.AddrPort{}, unix.EAFNOSUPPORT
		}
		var sin6 abi.SockaddrIn6
		full := make([]byte, abi.SizeofSockaddrIn6) // sin6_scope_id may be left out (24 bytes)
		copy(full, b)
		sin6.Decode(full)
		ip, err := scopedIn(t, netip.AddrFrom16(sin6.Addr), sin6.ScopeID, use)
		return netip.AddrPortFrom(ip, sin6.Port), err
	}
}

// scopedIn applies ipv6(7)'s sin6_scope_id: a link-local address needs one (connect and bind
// fail with EINVAL without; an unconnected send goes out the default interface) naming one of
// the sandbox's interfaces: lo has no link-local address and no route to one; eth0 stands for
// the host's interface, which the net broker picks (the address comes back with zone
// "eth0"). Any other address ignores its scope, as Linux does.
func scopedIn(t *kernel.Task, ip netip.Addr, scope uint32, use addrUse) (netip.Addr, error) {
	if !ip.IsLinkLocalUnicast() || ip.Is4In6() {
		return ip, nil
	}
	if scope == 0 {
		if use == forSend {
			return ip, nil
		}
		return ip, unix.EINVAL
	}
	name := ""
	for _, ifc := range t.Group().NetStack().Interfaces() {
		if uint32(ifc.Index) == scope {
			name = ifc.Name
		}
	}
	switch {
	case use == forBind && name == "":
		return ip, unix.ENODEV
	case use == forBind:
		return ip, unix.EADDRNOTAVAIL // neither lo nor eth0 has a link-local address
	case name != "eth0":
		return ip, unix.ENETUNREACH
	}
	return ip.WithZone(inet.ZoneEth0), nil
}

// sockaddrIn encodes a as family's sockaddr.
func sockaddrIn(family int, a netip.AddrPort) []byte {
	if family == unix.AF_INET {
		sin := abi.SockaddrIn{Family: unix.AF_INET, Port: a.Port()}
		if ip := a.Addr().Unmap(); ip.Is4() {
			sin.Addr = ip.As4()
		}
		b := make([]byte, abi.SizeofSockaddrIn)
		sin.Encode(b)
		return b
	}
	sin6 := abi.SockaddrIn6{Family: unix.AF_INET6, Port: a.Port()}
	if a.Addr().IsValid() {
		sin6.Addr = a.Addr().As16()
	}
	b := make([]byte, abi.SizeofSockaddrIn6)
	sin6.Encode(b)
	return b
}

// putSockaddrIn writes an address and its length (value-result) as accept, getsockname and
// recvfrom do: truncated to the app's buffer, the full length reported.
func putSockaddrIn(t *kernel.Task, family int, addr, lenAddr uint64, a netip.AddrPort) error {
	if addr == 0 || lenAddr == 0 {
		return nil
	}
	l, err := getU32(t, lenAddr)
	if err != nil {
		return err
	}
	if int32(l) < 0 {
		return unix.EINVAL
	}
	b := sockaddrIn(family, a)
	full := len(b)
	if int(l) < len(b) {
		b = b[:l]
	}
	if _, err := t.CopyOut(addr, b); err != nil {
		return unix.EFAULT
	}
	return putU32(t, lenAddr, uint32(full))
}

func deadline(d time.Duration) time.Time {
	if d == 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

func inetConnect(t *kernel.Task, fd *vfs.FileDescription, s *inet.Socket, a kernel.SyscallArgs) (uint64, error) {
	dst, err := readSockaddrIn(t, s.Family, a[1], a[2], forConnect)
	if err != nil {
		return 0, err
	}
	if !dst.IsValid() && s.Type == unix.SOCK_STREAM {
		return 0, s.Disconnect()
	}
	if s.Type == unix.SOCK_STREAM {
		if decided, err := s.TakeConnectOutcome(); decided {
			return 0, err
		}
	}
	if s.Type == unix.SOCK_STREAM && s.Connected() && !s.Listening() {
		if s.Pending() {
			return 0, unix.EALREADY
		}
		if err := s.ConnectResult(); err != nil {
			return 0, err
		}
		return 0, unix.EISCONN
	}
	if fd.StatusFlags()&unix.O_NONBLOCK != 0 {
		return 0, s.ConnectNonblock(dst)
	}
	err = s.Connect(dst)
	if err != unix.EINPROGRESS {
		return 0, err
	}
	_, snd := s.Timeouts()
	if werr := t.WaitFile(fd, waiter.EventOut, deadline(snd)); werr != nil {
		if werr == unix.ETIMEDOUT {
			return 0, unix.EINPROGRESS // SO_SNDTIMEO ran out: still connecting
		}
		return 0, werr
	}
	return 0, s.ConnectResult()
}

func total(bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
}

// inetSend sends on an Internet socket: a blocking stream send goes on until everything is
// written (or a signal or SO_SNDTIMEO ends it with part written); EPIPE raises SIGPIPE
// unless MSG_NOSIGNAL.
func inetSend(t *kernel.Task, fd *vfs.FileDescription, s *inet.Socket, bufs [][]byte, to netip.AddrPort, flags int) (uint64, error) {
	nonblock := flags&unix.MSG_DONTWAIT != 0 || fd.StatusFlags()&unix.O_NONBLOCK != 0
	_, snd := s.Timeouts()
	dl := deadline(snd)
	want := total(bufs)
	done := 0
	for {
		n, err := s.Send(bufs, to, flags)
		if err == nil {
			done += n
			if s.Type != unix.SOCK_STREAM || done >= want || nonblock {
				return uint64(done), nil
			}
			bufs = advance(bufs, int64(n))
			err = unix.EAGAIN
		}
		if err == unix.EAGAIN && !nonblock {
			if werr := t.WaitFile(fd, waiter.EventOut, dl); werr != nil {
				if done > 0 {
					return uint64(done), nil
				}
				if werr == unix.ETIMEDOUT {
					return 0, unix.EAGAIN
				}
				return 0, werr
			}
			continue
		}
		if done > 0 {
			return uint64(done), nil
		}
		if err == unix.EPIPE && flags&unix.MSG_NOSIGNAL == 0 {
			t.Kernel().SendSignal(t, unix.SIGPIPE)
		}
		return 0, err
	}
}

// inetRecv receives on an Internet socket, blocking unless non-blocking; MSG_WAITALL on a
// stream waits for the whole buffer (or the end, a signal, or SO_RCVTIMEO).
func inetRecv(t *kernel.Task, fd *vfs.FileDescription, s *inet.Socket, bufs [][]byte, flags int) (uint64, netip.AddrPort, int, error) {
	m, err := inetRecvMsg(t, fd, s, bufs, flags)
	return uint64(m.N), m.From, m.Flags, err
}

func inetRecvMsg(t *kernel.Task, fd *vfs.FileDescription, s *inet.Socket, bufs [][]byte, flags int) (inet.Msg, error) {
	nonblock := flags&unix.MSG_DONTWAIT != 0 || fd.StatusFlags()&unix.O_NONBLOCK != 0
	rcv, _ := s.Timeouts()
	dl := deadline(rcv)
	want := total(bufs)
	done := 0
	// A blocking stream receive goes on until SO_RCVLOWAT bytes, or the whole length with
	// MSG_WAITALL (tcp_recvmsg's target).
	target := 0
	if s.Type == unix.SOCK_STREAM && flags&unix.MSG_PEEK == 0 && !nonblock {
		if flags&unix.MSG_WAITALL != 0 {
			target = want
		} else if lw := s.RcvLowat(); lw > 1 {
			target = min(lw, want)
		}
	}
	var last inet.Msg
	for {
		m, err := s.RecvMsg(bufs, flags&^unix.MSG_WAITALL)
		if err == nil {
			n := m.N
			done += n
			m.N = done
			if n == 0 || done >= target || m.Flags&unix.MSG_OOB != 0 {
				return m, nil
			}
			last = m
			bufs = advance(bufs, int64(n))
			err = unix.EAGAIN
		}
		if err == unix.EAGAIN && !nonblock {
			if werr := t.WaitFile(fd, waiter.EventIn, dl); werr != nil {
				if done > 0 {
					return last, nil
				}
				if werr == unix.ETIMEDOUT {
					return inet.Msg{}, unix.EAGAIN
				}
				return inet.Msg{}, werr
			}
			continue
		}
		if done > 0 {
			return last, nil
		}
		return inet.Msg{}, err
	}
}

func inetSendto(t *kernel.Task, fd *vfs.FileDescription, s *inet.Socket, a kernel.SyscallArgs) (uint64, error) {
	var to netip.AddrPort
	if a[4] != 0 && s.Type != unix.SOCK_STREAM {
		var err error
		if to, err = readSockaddrIn(t, s.Family, a[4], a[5], forSend); err != nil {
			return 0, err
		}
	}
	bufs, err := ranges(t, []iovec{{a[1], a[2]}}, false)
	if err != nil {
		return 0, err
	}
	return inetSend(t, fd, s, bufs, to, int(a[3]))
}

func inetRecvfrom(t *kernel.Task, fd *vfs.FileDescription, s *inet.Socket, a kernel.SyscallArgs) (uint64, error) {
	bufs, err := ranges(t, []iovec{{a[1], a[2]}}, true)
	if err != nil {
		return 0, err
	}
	n, from, _, err := inetRecv(t, fd, s, bufs, int(a[3]))
	if err != nil {
		return 0, err
	}
	if s.Type != unix.SOCK_STREAM && a[4] != 0 {
		if err := putSockaddrIn(t, s.Family, a[4], a[5], from); err != nil {
			return 0, err
		}
	} else if a[5] != 0 && a[4] != 0 {
		putU32(t, a[5], 0)
	}
	return n, nil
}

func inetSendmsg(t *kernel.Task, fd *vfs.FileDescription, s *inet.Socket, h msghdr, flags int) (uint64, error) {
	var to netip.AddrPort
	if h.name != 0 && h.namelen != 0 && s.Type != unix.SOCK_STREAM {
		var err error
		if to, err = readSockaddrIn(t, s.Family, h.name, h.namelen, forSend); err != nil {
			return 0, err
		}
	}
	iovs, err := readIovecs(t, h.iov, h.iovlen)
	if err != nil {
		return 0, err
	}
	bufs, err := ranges(t, iovs, false)
	if err != nil {
		return 0, err
	}
	return inetSend(t, fd, s, bufs, to, flags)
}

func inetRecvmsg(t *kernel.Task, fd *vfs.FileDescription, s *inet.Socket, hdrAddr uint64, h msghdr, flags int) (uint64, error) {
	iovs, err := readIovecs(t, h.iov, h.iovlen)
	if err != nil {
		return 0, err
	}
	bufs, err := ranges(t, iovs, true)
	if err != nil {
		return 0, err
	}
	m, err := inetRecvMsg(t, fd, s, bufs, flags)
	if err != nil {
		return 0, err
	}
	if h.name != 0 && s.Type != unix.SOCK_STREAM {
		if at, err := fieldAddr(hdrAddr, abi.OffsetofMsghdrNamelen); err == nil {
			putSockaddrIn(t, s.Family, h.name, at, m.From)
		}
	} else if at, err := fieldAddr(hdrAddr, abi.OffsetofMsghdrNamelen); err == nil {
		putU32(t, at, 0)
	}
	// Control messages (IP_TTL, IPV6_HOPLIMIT), cut at the app's buffer with MSG_CTRUNC.
	used := uint64(0)
	if len(m.Control) > 0 && h.control != 0 {
		if uint64(len(m.Control)) > h.controllen {
			m.Flags |= unix.MSG_CTRUNC
		} else {
			if _, err := t.CopyOut(h.control, m.Control); err != nil {
				return 0, unix.EFAULT
			}
			used = uint64(len(m.Control))
		}
	} else if len(m.Control) > 0 {
		m.Flags |= unix.MSG_CTRUNC
	}
	b := make([]byte, 8)
	abi.PutU64(b, used)
	if at, err := fieldAddr(hdrAddr, abi.OffsetofMsghdrControllen); err == nil {
		t.CopyOut(at, b)
	}
	abi.PutU32(b, uint32(m.Flags))
	if at, err := fieldAddr(hdrAddr, abi.OffsetofMsghdrFlags); err == nil {
		t.CopyOut(at, b[:4])
	}
	return uint64(m.N), nil
}

func inetAccept(t *kernel.Task, fd *vfs.FileDescription, s *inet.Socket, addr, lenAddr, flags uint64) (uint64, error) {
	for {
		c, err := s.Accept()
		if err == unix.EAGAIN && fd.StatusFlags()&unix.O_NONBLOCK == 0 {
			rcv, _ := s.Timeouts()
			if werr := t.WaitFile(fd, waiter.EventIn, deadline(rcv)); werr != nil {
				if werr == unix.ETIMEDOUT {
					return 0, unix.EAGAIN
				}
				return 0, werr
			}
			continue
		}
		if err != nil {
			return 0, err
		}
		id := sockIdent(t)
		c.SetIdent(id.Ino, id.UID)
		nfd := vfs.NewNumberedFileDescription(c, "socket", id, unix.O_RDWR|int(flags&unix.SOCK_NONBLOCK))
		defer nfd.DecRef()
		n, err := t.FDs().Install(nfd, 0, flags&unix.SOCK_CLOEXEC != 0, nofile(t))
		if err != nil {
			return 0, err
		}
		_, peer, _ := c.Names()
		if err := putSockaddrIn(t, s.Family, addr, lenAddr, peer); err != nil {
			t.FDs().Remove(n)
			return 0, err
		}
		return uint64(n), nil
	}
}

func inetGetsockopt(t *kernel.Task, s *inet.Socket, a kernel.SyscallArgs) (uint64, error) {
	v, err := s.Getsockopt(int(a[1]), int(a[2]))
	if err != nil {
		return 0, err
	}
	l, err := getU32(t, a[4])
	if err != nil {
		return 0, err
	}
	if int32(l) < 0 {
		return 0, unix.EINVAL
	}
	if int(l) < len(v) {
		v = v[:l]
	}
	if _, err := t.CopyOut(a[3], v); err != nil {
		return 0, unix.EFAULT
	}
	return 0, putU32(t, a[4], uint32(len(v)))
}

func inetSetsockopt(t *kernel.Task, s *inet.Socket, a kernel.SyscallArgs) (uint64, error) {
	if int32(a[4]) < 0 {
		return 0, unix.EINVAL
	}
	v := make([]byte, min(a[4], 256))
	if _, err := t.CopyIn(a[3], v); err != nil {
		return 0, unix.EFAULT
	}
	return 0, s.Setsockopt(int(a[1]), int(a[2]), v)
}

// inetCall runs the Internet-socket side of a socket syscall when fdn is one; handled
// reports whether it was.
func inetCall(t *kernel.Task, nr string, a kernel.SyscallArgs) (r uint64, err error, handled bool) {
	fd, s := inetFD(t, a[0])
	if s == nil {
		return netlinkCall(t, nr, a)
	}
	defer fd.DecRef()
	switch nr {
	case "connect":
		r, err = inetConnect(t, fd, s, a)
	case "bind":
		var local netip.AddrPort
		if local, err = readSockaddrIn(t, s.Family, a[1], a[2], forBind); err == nil {
			if !local.IsValid() {
				if s.Family != unix.AF_INET {
					return 0, unix.EAFNOSUPPORT, true
				}
				local = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
			}
			err = s.Bind(local)
		}
	case "listen":
		err = s.Listen(int(int32(a[1])))
	case "sendto":
		r, err = inetSendto(t, fd, s, a)
	case "recvfrom":
		r, err = inetRecvfrom(t, fd, s, a)
	case "shutdown":
		if a[1] > 2 {
			return 0, unix.EINVAL, true
		}
		err = s.Shutdown(int(a[1]))
	case "getsockname":
		local, _, _ := s.Names()
		err = putSockaddrIn(t, s.Family, a[1], a[2], local)
	case "getpeername":
		_, peer, connected := s.Names()
		if !connected || !peer.IsValid() {
			return 0, unix.ENOTCONN, true
		}
		err = putSockaddrIn(t, s.Family, a[1], a[2], peer)
	case "getsockopt":
		r, err = inetGetsockopt(t, s, a)
	case "setsockopt":
		r, err = inetSetsockopt(t, s, a)
	case "accept":
		if a[3]&^(unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC) != 0 {
			return 0, unix.EINVAL, true
		}
		r, err = inetAccept(t, fd, s, a[1], a[2], a[3])
	case "sendmsg", "recvmsg":
		var h msghdr
		if h, err = readMsghdr(t, a[1]); err == nil {
			if nr == "sendmsg" {
				r, err = inetSendmsg(t, fd, s, h, int(a[2]))
			} else {
				r, err = inetRecvmsg(t, fd, s, a[1], h, int(a[2]))
			}
		}
	default:
		return 0, nil, false
	}
	return r, err, true
}
