package net

import (
	"fmt"
	gonet "net"
	"net/netip"
	"runtime"
	"sync"

	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/net/netproto"
	"golang.org/x/sys/unix"
)

// Denial is one refused request, for the event stream and sbx top.
type Denial struct {
	Op    string // connect, bind, listen, send
	Proto string // tcp, udp, icmp
	Addr  string // the destination or local address
	Why   string // the rule or reason that refused it
}

func (d Denial) String() string {
	return fmt.Sprintf("%s %s %s: %s", d.Op, d.Proto, d.Addr, d.Why)
}

// Broker serves one sandbox's kernel.
type Broker struct {
	pol      Policy
	onDenial func(Denial)

	mu sync.Mutex
	// relays are the live datagram relays, by the inode of the kernel's end. protected by mu
	relays map[uint64]*relay
	// pins maps addresses to the names the resolver answered them for; pinSeq orders
	// them for eviction. protected by mu
	pins   map[netip.Addr]*pin
	pinSeq uint64
	// lookups are the addresses names of listen and host rules resolved to (lookup.go).
	lookups lookupCache

	// ns, when set, is the network namespace the broker makes its sockets in (set before
	// Serve, then read only).
	ns *nsThread
}

// New returns a broker applying pol; onDenial (may be nil) hears every refusal.
func New(pol Policy, onDenial func(Denial)) *Broker {
	if onDenial == nil {
		onDenial = func(Denial) {}
	}
	b := &Broker{pol: pol, onDenial: onDenial, relays: map[uint64]*relay{}, pins: map[netip.Addr]*pin{}}
	b.pol.local = b.matchesLocal
	return b
}

// Serve answers requests on fd (the broker's end of the kernel's SOCK_SEQPACKET channel)
// until the kernel closes it; it closes fd. It runs on a thread of its own, which follows
// the CPU each request names (see netproto.Request.CPU).
func (b *Broker) Serve(fd int) {
	defer unix.Close(fd)
	if b.ns != nil {
		defer b.ns.stop()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pin := newPinner()
	defer pin.restore()
	var buf [netproto.RequestSize + 1]byte
	var out [netproto.ReplySize]byte
	var cmsg [abi.SizeofCmsghdr + 4*4]byte
	var oob [abi.SizeofCmsghdr + 4*netproto.MaxBatch]byte
	for {
		n, oobn, _, _, err := unix.Recvmsg(fd, buf[:], cmsg[:], unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return
		}
		// At most two FDs per request (the socket, the loopback proof); extra ones are closed.
		fds := [2]int{-1, -1}
		netproto.GetRights(cmsg[:oobn], fds[:])
		attached, proof := fds[0], fds[1]
		var rep netproto.Reply
		var donate []int
		if req, ok := netproto.DecodeRequest(buf[:n]); ok {
			pin.to(req.CPU)
			rep, donate = b.Handle(req, attached, proof)
		} else {
			rep.Errno = uint32(unix.EINVAL)
		}
		for _, f := range fds {
			if f >= 0 {
				unix.Close(f)
			}
		}
		var o []byte
		if len(donate) > 0 {
			o = oob[:netproto.PutRights(oob[:], donate)]
		}
		rep.EncodeTo(out[:])
		err = unix.Sendmsg(fd, out[:], o, nil, 0)
		for _, f := range donate {
			unix.Close(f)
		}
		if err != nil {
			return
		}
	}
}

// pinner keeps the serving thread on the CPU the kernel's requesting thread waits on: the
// request's wake-up and the reply's then stay on one CPU (measured on a 2-CPU VM: a
// SOCK_SEQPACKET round trip with an FD takes about 4 µs on one CPU and 10-35 µs across two).
// Moving costs a migration, so the thread moves only once pinStreak requests in a row
// named the same other CPU (tasks on different CPUs taking turns leave it where it is). A
// CPU outside the thread's original affinity is ignored, so a kernel cannot move the
// broker anywhere the launcher may not run.
type pinner struct {
	allowed unix.CPUSet
	ok      bool
	// cur is the CPU the thread is pinned to (-1: none); want and streak count the
	// requests in a row that named want.
	cur, want, streak int
}

// pinStreak is how many requests in a row must name a CPU before the thread moves there.
const pinStreak = 3

func newPinner() *pinner {
	p := &pinner{cur: -1, want: -1}
	p.ok = unix.SchedGetaffinity(0, &p.allowed) == nil && p.allowed.Count() > 1
	return p
}

func (p *pinner) to(cpu int) {
	if !p.ok || cpu < 0 || cpu == p.cur || cpu >= len(p.allowed)*64 || !p.allowed.IsSet(cpu) {
		p.streak = 0
		return
	}
	if cpu != p.want {
		p.want, p.streak = cpu, 0
	}
	if p.streak++; p.streak < pinStreak {
		return
	}
	var set unix.CPUSet
	set.Set(cpu)
	if unix.SchedSetaffinity(0, &set) == nil {
		p.cur = cpu
	}
	p.streak = 0
}

// restore gives the thread back its original affinity before Go may reuse it.
func (p *pinner) restore() {
	if p.cur >= 0 {
		unix.SchedSetaffinity(0, &p.allowed)
	}
}

func errReply(err error) netproto.Reply {
	if e, ok := err.(unix.Errno); ok {
		return netproto.Reply{Errno: uint32(e)}
	}
	return netproto.Reply{Errno: uint32(unix.EINVAL)}
}

func protoName(p uint8) string {
	switch p {
	case netproto.ProtoTCP:
		return "tcp"
	case netproto.ProtoUDP:
		return "udp"
	case netproto.ProtoICMP:
		return "icmp"
	}
	return fmt.Sprint(p)
}

// Handle answers one request; fd is the socket the kernel attached and proof a listening
// socket of the sandbox's that a loopback connect names (-1: none; Handle closes neither).
// It returns the reply and the FDs to donate, which the caller closes once sent.
func (b *Broker) Handle(req netproto.Request, fd, proof int) (netproto.Reply, []int) {
	if req.Family != unix.AF_INET && req.Family != unix.AF_INET6 {
		return netproto.Reply{Errno: uint32(unix.EAFNOSUPPORT)}, nil
	}
	switch req.Op {
	case netproto.OpSocket:
		return b.socket(req, fd)
	case netproto.OpCheck:
		if v := b.checkConnect(req.Addr, -1); !v.Allowed {
			b.onDenial(Denial{Op: "send", Proto: protoName(req.Proto), Addr: req.Addr.String(), Why: v.Why})
			return netproto.Reply{Errno: uint32(unix.EACCES)}, nil
		}
		if req.Proto == netproto.ProtoICMP && !icmpAvailable(req.Family) {
			// The kernel asks for an echo socket it could not get a host socket for.
			b.onDenial(Denial{Op: "send", Proto: "icmp", Addr: req.Addr.String(),
				Why: "the host gives this user no ICMP echo sockets (add its group to net.ipv4.ping_group_range); only the sandbox's own loopback answers"})
			return netproto.Reply{Errno: uint32(unix.EACCES)}, nil
		}
		return netproto.Reply{}, nil
	case netproto.OpConnect, netproto.OpBind, netproto.OpListen:
		if fd < 0 {
			return netproto.Reply{Errno: uint32(unix.EBADF)}, nil
		}
		// A TCP request needs no relay lookup (an fstat): stream refuses anything but an
		// Internet stream socket, which a relay's end never is.
		if req.Proto != netproto.ProtoTCP {
			if r := b.relayOf(fd); r != nil {
				return r.handle(b, req), nil
			}
		}
		return b.stream(req, fd, proof), nil
	}
	return netproto.Reply{Errno: uint32(unix.EINVAL)}, nil
}

// icmpAvailable reports whether the host gives the broker's user an ICMP echo socket of
// family (net.ipv4.ping_group_range, which applies to IPv6 too).
func icmpAvailable(family uint16) bool {
	proto := unix.IPPROTO_ICMP
	if family == unix.AF_INET6 {
		proto = unix.IPPROTO_ICMPV6
	}
	fd, err := unix.Socket(int(family), unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// checkConnect applies the policy, letting the sandbox reach its own listeners through the
// host's loopback: proof (-1: none) must then be a listening TCP socket the kernel holds,
// bound to dst's port on dst's address or the unspecified one.
func (b *Broker) checkConnect(dst netip.AddrPort, proof int) Verdict {
	if IsLoopback(dst.Addr()) && proof >= 0 {
		on, err1 := unix.GetsockoptInt(proof, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
		typ, err2 := unix.GetsockoptInt(proof, unix.SOL_SOCKET, unix.SO_TYPE)
		sa, err3 := unix.Getsockname(proof)
		if err1 == nil && err2 == nil && err3 == nil && on == 1 && typ == unix.SOCK_STREAM {
			la := addrOf(sa)
			if la.Port() == dst.Port() && (la.Addr().IsUnspecified() || la.Addr().Unmap() == dst.Addr().Unmap()) {
				return Verdict{Allowed: true, Why: "the sandbox's own listener"}
			}
		}
	}
	dst = netip.AddrPortFrom(dst.Addr().WithZone(""), dst.Port()) // the policy names addresses, not links
	return b.pol.CheckConnect(dst, b.namesOf(dst.Addr())...)
}

// eth0Index is the host interface the sandbox's eth0 stands for, where a link-local address
// the app scoped to eth0 is reached: the first interface that is up, not a loopback, and has
// a global address (the first whose addresses eth0 shows, plan.HostAddrs).
func eth0Index() (int, error) {
	ifs, err := gonet.Interfaces()
	if err != nil {
		return 0, unix.ENETUNREACH
	}
	for _, ifc := range ifs {
		if ifc.Flags&gonet.FlagUp == 0 || ifc.Flags&gonet.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*gonet.IPNet); ok && ipn.IP.IsGlobalUnicast() {
				return ifc.Index, nil
			}
		}
	}
	return 0, unix.ENETUNREACH
}

// socket makes host sockets; for a datagram socket, kernelEnd (-1: none, the broker makes
// the pair) is the broker's end of the relay socketpair the kernel made.
func (b *Broker) socket(req netproto.Request, kernelEnd int) (netproto.Reply, []int) {
	switch req.Proto {
	case netproto.ProtoTCP:
		var out []int
		for range min(max(req.Arg, 1), netproto.MaxBatch) {
			s, err := b.newSocket(int(req.Family), unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
			if err != nil {
				if len(out) > 0 {
					break
				}
				return errReply(err), nil
			}
			out = append(out, s)
		}
		return netproto.Reply{}, out
	case netproto.ProtoUDP, netproto.ProtoICMP:
		rep, fd := b.newRelay(req, kernelEnd)
		if fd < 0 {
			return rep, nil
		}
		return rep, []int{fd}
	}
	return netproto.Reply{Errno: uint32(unix.EPROTONOSUPPORT)}, nil
}

func sockaddr(a netip.AddrPort, family uint16) (unix.Sockaddr, error) {
	ip := a.Addr()
	if family == unix.AF_INET {
		if !ip.Unmap().Is4() {
			return nil, unix.EAFNOSUPPORT
		}
		return &unix.SockaddrInet4{Port: int(a.Port()), Addr: ip.Unmap().As4()}, nil
	}
	sa := &unix.SockaddrInet6{Port: int(a.Port()), Addr: ip.As16()}
	switch ip.Zone() {
	case "":
	case netproto.ZoneEth0:
		idx, err := eth0Index()
		if err != nil {
			return nil, err
		}
		sa.ZoneId = uint32(idx)
	default:
		return nil, unix.EINVAL
	}
	return sa, nil
}

func addrOf(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
	}
	return netip.AddrPort{}
}

// stream handles connect, bind and listen on an attached TCP socket. The socket is checked
// to be what the broker hands out (an Internet stream socket) before anything is done to it.
func (b *Broker) stream(req netproto.Request, fd, proof int) netproto.Reply {
	typ, err1 := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	dom, err2 := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err1 != nil || err2 != nil || typ != unix.SOCK_STREAM || (dom != unix.AF_INET && dom != unix.AF_INET6) {
		return netproto.Reply{Errno: uint32(unix.ENOTSOCK)}
	}
	switch req.Op {
	case netproto.OpConnect:
		if !req.Addr.IsValid() {
			// AF_UNSPEC: disconnect (a connection is reset, a listener stops); reaches nothing.
			if err := connectUnspec(fd); err != nil {
				return errReply(err)
			}
			return netproto.Reply{}
		}
		if v := b.checkConnect(req.Addr, proof); !v.Allowed {
			b.onDenial(Denial{Op: "connect", Proto: "tcp", Addr: req.Addr.String(), Why: v.Why})
			if IsLoopback(req.Addr.Addr()) {
				// Nothing listens there on the sandbox's own loopback.
				return netproto.Reply{Errno: uint32(unix.ECONNREFUSED)}
			}
			return netproto.Reply{Errno: uint32(unix.EACCES)}
		}
		sa, err := sockaddr(req.Addr, uint16(dom))
		if err != nil {
			return errReply(err)
		}
		// The socket is non-blocking: the kernel waits for the outcome, the broker never does.
		// A connection that is already made (the loopback, a near host) is reported as made,
		// which spares the kernel waiting for it.
		if err := unix.Connect(fd, sa); err != nil {
			if err == unix.EINPROGRESS && connected(fd) {
				return netproto.Reply{}
			}
			return errReply(err)
		}
		return netproto.Reply{}
	case netproto.OpBind:
		if v := b.pol.CheckListen(req.Addr, false, b.namesOf(req.Addr.Addr())...); !v.Allowed {
			// A loopback address without a rule is no denial: the kernel binds it on the
			// sandbox's private loopback instead.
			if !IsLoopback(req.Addr.Addr()) {
				b.onDenial(Denial{Op: "bind", Proto: "tcp", Addr: req.Addr.String(), Why: v.Why})
			}
			return netproto.Reply{Errno: uint32(unix.EACCES)}
		}
		sa, err := sockaddr(req.Addr, uint16(dom))
		if err != nil {
			return errReply(err)
		}
		if err := unix.Bind(fd, sa); err != nil {
			return errReply(err)
		}
		local, _ := unix.Getsockname(fd)
		return netproto.Reply{Addr: addrOf(local)}
	case netproto.OpListen:
		local, err := unix.Getsockname(fd)
		if err != nil {
			return errReply(err)
		}
		la := addrOf(local)
		if v := b.pol.CheckListen(la, true, b.namesOf(la.Addr())...); !v.Allowed {
			b.onDenial(Denial{Op: "listen", Proto: "tcp", Addr: la.String(), Why: v.Why})
			return netproto.Reply{Errno: uint32(unix.EACCES)}
		}
		if err := unix.Listen(fd, int(min(req.Arg, 4096))); err != nil {
			return errReply(err)
		}
		return netproto.Reply{Addr: la}
	}
	return netproto.Reply{Errno: uint32(unix.EINVAL)}
}

// connected reports whether a non-blocking connect in progress on fd has already succeeded
// (without waiting: poll with a zero timeout). A TCP socket polls writable only once out
// of SYN_SENT (tcp_poll), and a failed connect also polls POLLERR.
func connected(fd int) bool {
	p := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	n, err := unix.Poll(p[:], 0)
	return err == nil && n == 1 && p[0].Revents&unix.POLLOUT != 0 && p[0].Revents&(unix.POLLERR|unix.POLLHUP) == 0
}
