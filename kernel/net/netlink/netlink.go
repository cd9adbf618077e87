// Package netlink implements NETLINK_ROUTE sockets for the app, enough for getifaddrs,
// if_nameindex, `ip addr`, `ip link`, `ip route` and glibc's AI_ADDRCONFIG: dumps of the
// sandbox's interfaces, addresses and routes (kernel/net/inet.Stack.Interfaces). Nothing
// reaches the host; changes (RTM_NEW*, RTM_DEL*) are refused with EPERM.
//
// NETLINK_SOCK_DIAG (diag.go) reports the sandbox's own TCP, UDP and AF_UNIX sockets, as
// inet_diag and unix_diag do, for `ss`.
package netlink

import (
	"net/netip"
	"sync"

	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/net/inet"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// Message types, flags and attributes (<linux/netlink.h>, <linux/rtnetlink.h>,
// <linux/if_link.h>, <linux/if_addr.h>).
const (
	nlmsgError = 2
	nlmsgDone  = 3

	rtmNewLink  = 16
	rtmGetLink  = 18
	rtmNewAddr  = 20
	rtmGetAddr  = 22
	rtmNewRoute = 24
	rtmGetRoute = 26

	flagRequest = 0x1
	flagMulti   = 0x2
	flagAck     = 0x4
	flagDump    = 0x300

	iflaAddress   = 1
	iflaBroadcast = 2
	iflaIfname    = 3
	iflaMTU       = 4
	iflaQdisc     = 6
	iflaTxqlen    = 13
	iflaOperstate = 16
	iflaGroup     = 27

	ifaAddress   = 1
	ifaLocal     = 2
	ifaLabel     = 3
	ifaBroadcast = 4
	ifaFlags     = 8

	rtaDst      = 1
	rtaOif      = 4
	rtaPriority = 6
	rtaPrefsrc  = 7
	rtaTable    = 15

	arphrdEther    = 1
	arphrdLoopback = 772

	scopeUniverse = 0
	scopeLink     = 253
	scopeHost     = 254

	ifaFPermanent = 0x80
	rtTableMain   = 254
	rtprotKernel  = 2
	rtprotBoot    = 3
	rtnUnicast    = 1

	hdrLen = 16
	// maxDatagram bounds one reply datagram; a dump spans several when larger.
	maxDatagram = 8192
)

// Socket is a NETLINK_ROUTE or NETLINK_SOCK_DIAG socket.
type Socket struct {
	Type  int // SOCK_RAW or SOCK_DGRAM
	Proto int // NETLINK_ROUTE or NETLINK_SOCK_DIAG
	stack *inet.Stack
	// unix lists the sandbox's AF_UNIX sockets (NETLINK_SOCK_DIAG).
	unix  func() []UnixSock
	queue waiter.Queue

	mu sync.Mutex
	// portid is the socket's address (0 until bound); pending are replies not read yet.
	// protected by mu
	portid  uint32
	groups  uint32
	pending [][]byte
	// opts are socket options kept for getsockopt. protected by mu
	opts map[[2]int]uint32
}

var (
	_ vfs.Stream   = (*Socket)(nil)
	_ vfs.Pollable = (*Socket)(nil)
)

// New returns a NETLINK_ROUTE socket describing stack's interfaces.
func New(typ int, stack *inet.Stack) *Socket {
	return &Socket{Type: typ, Proto: unix.NETLINK_ROUTE, stack: stack}
}

// NewDiag returns a NETLINK_SOCK_DIAG socket describing stack's Internet sockets and the
// AF_UNIX sockets unixSocks lists.
func NewDiag(typ int, stack *inet.Stack, unixSocks func() []UnixSock) *Socket {
	return &Socket{Type: typ, Proto: unix.NETLINK_SOCK_DIAG, stack: stack, unix: unixSocks}
}

// IsStream implements vfs.Stream.
func (*Socket) IsStream() bool { return true }

// Release implements vfs.File.
func (s *Socket) Release() {}

// Read implements vfs.File.
func (s *Socket) Read(fd *vfs.FileDescription, dst [][]byte, off int64) (int64, error) {
	n, _, err := s.Recv(dst, 0)
	return int64(n), err
}

// Write implements vfs.File.
func (s *Socket) Write(fd *vfs.FileDescription, src [][]byte, off int64) (int64, error) {
	var b []byte
	for _, x := range src {
		b = append(b, x...)
	}
	n, err := s.Send(b, 0)
	return int64(n), err
}

// Readiness implements vfs.Pollable.
func (s *Socket) Readiness(mask uint32) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := waiter.EventOut
	if len(s.pending) > 0 {
		r |= waiter.EventIn | waiter.EventRdNorm
	}
	return r & mask
}

// EventRegister implements vfs.Pollable.
func (s *Socket) EventRegister(e *waiter.Entry) { s.queue.EventRegister(e) }

// EventUnregister implements vfs.Pollable.
func (s *Socket) EventUnregister(e *waiter.Entry) { s.queue.EventUnregister(e) }

// Attr is what fstat shows.
func (s *Socket) Attr() vfs.Attr {
	return vfs.Attr{Mode: unix.S_IFSOCK | 0o777, Nlink: 1, Blksize: 4096, Dev: 0x8}
}

// Bind sets the socket's port ID (0: pid, the process's, as Linux gives a process's first
// socket) and multicast groups (accepted; no notifications are ever sent).
func (s *Socket) Bind(portid, groups, pid uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.portid != 0 && portid != 0 && portid != s.portid {
		return unix.EINVAL
	}
	if portid == 0 {
		portid = pid
	}
	s.portid, s.groups = portid, groups
	return nil
}

// Name returns the port ID and groups (getsockname): port ID 0 until the socket is bound,
// explicitly or by its first send (netlink_getname does not bind).
func (s *Socket) Name() (uint32, uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.portid, s.groups
}

// autobind gives an unbound socket the port ID pid, as its first send does
// (netlink_autobind), and returns its port ID.
func (s *Socket) autobind(pid uint32) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.portid == 0 {
		s.portid = pid
	}
	return s.portid
}

// Send handles the requests in one datagram; replies queue for Recv.
func (s *Socket) Send(b []byte, pid uint32) (int, error) {
	portid := s.autobind(pid)
	var replies [][]byte
	for off := 0; off+hdrLen <= len(b); {
		l := int(abi.NlmsgLen(b[off:]))
		if l < hdrLen || off+l > len(b) {
			break
		}
		replies = append(replies, s.handle(b[off:off+l], portid)...)
		off += (l + 3) &^ 3
	}
	s.mu.Lock()
	s.pending = append(s.pending, replies...)
	s.mu.Unlock()
	if len(replies) > 0 {
		s.queue.Notify(waiter.EventIn | waiter.EventRdNorm)
	}
	return len(b), nil
}

// Deliver queues datagram b for Recv, as the kernel's own messages to a socket
// (mq_notify's SIGEV_THREAD cookies).
func (s *Socket) Deliver(b []byte) {
	s.mu.Lock()
	s.pending = append(s.pending, b)
	s.mu.Unlock()
	s.queue.Notify(waiter.EventIn | waiter.EventRdNorm)
}

// Recv takes one reply datagram: its length (the whole datagram's with MSG_TRUNC in flags)
// and MSG_TRUNC when it did not fit. EAGAIN when none waits.
func (s *Socket) Recv(dst [][]byte, flags int) (int, int, error) {
	s.mu.Lock()
	if len(s.pending) == 0 {
		s.mu.Unlock()
		return 0, 0, unix.EAGAIN
	}
	d := s.pending[0]
	if flags&unix.MSG_PEEK == 0 {
		s.pending = s.pending[1:]
	}
	s.mu.Unlock()
	done := 0
	for _, b := range dst {
		done += copy(b, d[done:])
	}
	mf := 0
	if done < len(d) {
		mf = unix.MSG_TRUNC
		if flags&unix.MSG_TRUNC != 0 {
			return len(d), mf, nil
		}
	}
	return done, mf, nil
}

// Getsockopt returns an option kept for the socket (SO_RCVBUF and friends, SOL_NETLINK ones).
func (s *Socket) Getsockopt(level, name int) (uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.opts[[2]int{level, name}]; ok {
		return v, nil
	}
	switch {
	case level == unix.SOL_SOCKET && name == unix.SO_TYPE:
		return uint32(s.Type), nil
	case level == unix.SOL_SOCKET && name == unix.SO_DOMAIN:
		return unix.AF_NETLINK, nil
	case level == unix.SOL_SOCKET && name == unix.SO_PROTOCOL:
		return uint32(s.Proto), nil
	case level == unix.SOL_SOCKET && (name == unix.SO_RCVBUF || name == unix.SO_SNDBUF):
		return 212992, nil
	case level == unix.SOL_SOCKET && name == unix.SO_ERROR:
		return 0, nil
	case level == unix.SOL_NETLINK:
		return 0, nil
	}
	return 0, unix.ENOPROTOOPT
}

// MaxSend is the longest message a send may carry: the send buffer less 32 bytes, as
// netlink_sendmsg allows (EMSGSIZE beyond). The buffer is the default one (212992 bytes), or
// twice a larger SO_SNDBUF; a smaller SO_SNDBUF does not shrink it.
func (s *Socket) MaxSend() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf := 212992
	for _, o := range [][2]int{{unix.SOL_SOCKET, unix.SO_SNDBUF}, {unix.SOL_SOCKET, unix.SO_SNDBUFFORCE}} {
		if v, ok := s.opts[o]; ok {
			buf = max(buf, 2*int(min(v, 1<<30)))
		}
	}
	return buf - 32
}

// Setsockopt keeps an option: none changes what this socket reports.
func (s *Socket) Setsockopt(level, name int, v uint32) error {
	switch level {
	case unix.SOL_SOCKET:
		switch name {
		case unix.SO_RCVBUF, unix.SO_SNDBUF, unix.SO_RCVBUFFORCE, unix.SO_SNDBUFFORCE, unix.SO_PASSCRED, unix.SO_TIMESTAMP:
		default:
			return unix.ENOPROTOOPT
		}
	case unix.SOL_NETLINK:
	default:
		return unix.ENOPROTOOPT
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts == nil {
		s.opts = map[[2]int]uint32{}
	}
	s.opts[[2]int{level, name}] = v
	return nil
}

// msg builds netlink messages.
type msg struct{ b []byte }

// encoder is a kernel/abi structure.
type encoder interface{ Encode(b []byte) }

// add appends structure v, of size n.
func (m *msg) add(v encoder, n int) {
	m.b = append(m.b, make([]byte, n)...)
	v.Encode(m.b[len(m.b)-n:])
}

func (m *msg) attr(typ uint16, data []byte) {
	m.add(&abi.Rtattr{Len: uint16(abi.SizeofRtattr + len(data)), Type: typ}, abi.SizeofRtattr)
	m.b = append(m.b, data...)
	for len(m.b)%4 != 0 {
		m.b = append(m.b, 0)
	}
}

// u32b is a 32-bit attribute value.
func u32b(v uint32) []byte {
	var b [4]byte
	abi.PutU32(b[:], v)
	return b[:]
}

// header starts a message of type typ; finish sets its length.
func header(typ, flags uint16, seq, portid uint32) *msg {
	m := &msg{}
	m.add(&abi.Nlmsghdr{Type: typ, Flags: flags, Seq: seq, PID: portid}, abi.SizeofNlmsghdr)
	return m
}

func (m *msg) finish() []byte {
	abi.SetNlmsgLen(m.b, uint32(len(m.b)))
	return m.b
}

func errMsg(req []byte, errno unix.Errno, portid uint32) []byte {
	var e abi.Nlmsgerr
	e.Msg.Decode(req)
	e.Error = -int32(errno)
	m := header(nlmsgError, 0, e.Msg.Seq, portid)
	m.add(&e, abi.SizeofNlmsgerr)
	return m.finish()
}

// handle answers one request with the datagrams to queue.
func (s *Socket) handle(req []byte, portid uint32) [][]byte {
	var h abi.Nlmsghdr
	h.Decode(req)
	typ, flags, seq := h.Type, h.Flags, h.Seq
	if flags&flagRequest == 0 {
		return nil
	}
	if s.Proto == unix.NETLINK_SOCK_DIAG {
		return s.handleDiag(req, typ, flags, seq, portid)
	}
	body := req[hdrLen:]
	var msgs [][]byte
	switch typ {
	case rtmGetLink:
		var index int32
		name := ""
		if len(body) >= abi.SizeofIfinfomsg {
			var ifi abi.Ifinfomsg
			ifi.Decode(body)
			index = ifi.Index
			name = attrString(body[abi.SizeofIfinfomsg:], iflaIfname)
		}
		for _, ifc := range s.stack.Interfaces() {
			if flags&flagDump != flagDump && (index != 0 && int32(ifc.Index) != index || index == 0 && name != ifc.Name) {
				continue
			}
			msgs = append(msgs, linkMsg(ifc, seq, portid, flags&flagDump == flagDump))
		}
		if len(msgs) == 0 && flags&flagDump != flagDump {
			return [][]byte{errMsg(req, unix.ENODEV, portid)}
		}
	case rtmGetAddr:
		family := uint8(0)
		if len(body) >= 1 {
			family = body[0]
		}
		for _, ifc := range s.stack.Interfaces() {
			for _, p := range ifc.Addrs {
				if family != 0 && family != famOf(p.Addr()) {
					continue
				}
				msgs = append(msgs, addrMsg(ifc, p, seq, portid))
			}
		}
	case rtmGetRoute:
		if flags&flagDump != flagDump {
			return [][]byte{errMsg(req, unix.EOPNOTSUPP, portid)}
		}
		family := uint8(0)
		if len(body) >= 1 {
			family = body[0]
		}
		for _, ifc := range s.stack.Interfaces() {
			if ifc.Name == "lo" {
				continue
			}
			for _, f := range []uint8{unix.AF_INET, unix.AF_INET6} {
				if family != 0 && family != f {
					continue
				}
				msgs = append(msgs, routeMsgs(ifc, f, seq, portid)...)
			}
		}
	default:
		if typ >= rtmNewLink && typ < 100 {
			if typ%4 == 0 || typ%4 == 1 { // RTM_NEW* and RTM_DEL*: changing the network
				return [][]byte{errMsg(req, unix.EPERM, portid)}
			}
		}
		return [][]byte{errMsg(req, unix.EOPNOTSUPP, portid)}
	}
	if flags&flagDump != flagDump {
		out := msgs
		if flags&flagAck != 0 {
			ack := errMsg(req, 0, portid)
			out = append(out, ack)
		}
		return out
	}
	return dumpReply(msgs, seq, portid)
}

// dumpReply ends a dump's messages with NLMSG_DONE and packs them into datagrams of up to
// maxDatagram bytes.
func dumpReply(msgs [][]byte, seq, portid uint32) [][]byte {
	done := header(nlmsgDone, flagMulti, seq, portid)
	done.b = append(done.b, u32b(0)...) // NLMSG_DONE's int: 0, no error
	msgs = append(msgs, done.finish())
	var out [][]byte
	var cur []byte
	for _, m := range msgs {
		if len(cur) > 0 && len(cur)+len(m) > maxDatagram {
			out = append(out, cur)
			cur = nil
		}
		cur = append(cur, m...)
	}
	return append(out, cur)
}

func famOf(a netip.Addr) uint8 {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// attrString finds a string attribute in a list of rtattrs.
func attrString(b []byte, typ uint16) string {
	for len(b) >= abi.SizeofRtattr {
		var a abi.Rtattr
		a.Decode(b)
		l := int(a.Len)
		if l < abi.SizeofRtattr || l > len(b) {
			return ""
		}
		if a.Type == typ {
			v := b[abi.SizeofRtattr:l]
			for i, c := range v {
				if c == 0 {
					v = v[:i]
					break
				}
			}
			return string(v)
		}
		b = b[min((l+3)&^3, len(b)):]
	}
	return ""
}

func cstr(s string) []byte { return append([]byte(s), 0) }

func linkMsg(ifc inet.Iface, seq, portid uint32, multi bool) []byte {
	var f uint16
	if multi {
		f = flagMulti
	}
	m := header(rtmNewLink, f, seq, portid)
	ifi := abi.Ifinfomsg{Family: unix.AF_UNSPEC, Type: arphrdEther, Index: int32(ifc.Index), Flags: ifc.Flags}
	if ifc.Flags&inet.IffLoopback != 0 {
		ifi.Type = arphrdLoopback
	}
	m.add(&ifi, abi.SizeofIfinfomsg)
	m.attr(iflaIfname, cstr(ifc.Name))
	m.attr(iflaMTU, u32b(ifc.MTU))
	m.attr(iflaTxqlen, u32b(1000))
	m.attr(iflaGroup, u32b(0))
	oper := byte(6) // IF_OPER_UP
	qdisc := "fq_codel"
	bcast := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if ifc.Flags&inet.IffLoopback != 0 {
		oper, qdisc, bcast = 0, "noqueue", make([]byte, 6) // IF_OPER_UNKNOWN, as Linux shows lo
	}
	m.attr(iflaOperstate, []byte{oper})
	m.attr(iflaQdisc, cstr(qdisc))
	m.attr(iflaAddress, ifc.HW[:])
	m.attr(iflaBroadcast, bcast)
	return m.finish()
}

func addrMsg(ifc inet.Iface, p netip.Prefix, seq, portid uint32) []byte {
	m := header(rtmNewAddr, flagMulti, seq, portid)
	a := p.Addr()
	scope := uint8(scopeUniverse)
	switch {
	case a.IsLoopback():
		scope = scopeHost
	case a.IsLinkLocalUnicast():
		scope = scopeLink
	}
	m.add(&abi.Ifaddrmsg{Family: famOf(a), Prefixlen: uint8(p.Bits()), Flags: ifaFPermanent, Scope: scope, Index: uint32(ifc.Index)}, abi.SizeofIfaddrmsg)
	raw := a.AsSlice()
	m.attr(ifaAddress, raw)
	if a.Is4() {
		m.attr(ifaLocal, raw)
		if ifc.Flags&inet.IffBroadcast != 0 && p.Bits() < 31 {
			bc := p.Masked().Addr().As4()
			for i := p.Bits(); i < 32; i++ { // the host bits set
				bc[i/8] |= 0x80 >> (i % 8)
			}
			m.attr(ifaBroadcast, bc[:])
		}
		m.attr(ifaLabel, cstr(ifc.Name))
	}
	m.attr(ifaFlags, u32b(ifaFPermanent))
	return m.finish()
}

func routeMsgs(ifc inet.Iface, family uint8, seq, portid uint32) [][]byte {
	var out [][]byte
	var src netip.Addr
	for _, p := range ifc.Addrs {
		if famOf(p.Addr()) != family || p.Addr().IsLinkLocalUnicast() {
			continue
		}
		if !src.IsValid() {
			src = p.Addr()
		}
		out = append(out, routeMsg(ifc, family, p.Masked(), p.Addr(), scopeLink, rtprotKernel, seq, portid))
	}
	if src.IsValid() {
		def := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if family == unix.AF_INET6 {
			def = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		out = append([][]byte{routeMsg(ifc, family, def, src, scopeUniverse, rtprotBoot, seq, portid)}, out...)
	}
	return out
}

func routeMsg(ifc inet.Iface, family uint8, dst netip.Prefix, src netip.Addr, scope, proto uint8, seq, portid uint32) []byte {
	m := header(rtmNewRoute, flagMulti, seq, portid)
	m.add(&abi.Rtmsg{Family: family, DstLen: uint8(dst.Bits()), Table: rtTableMain, Protocol: proto, Scope: scope, Type: rtnUnicast}, abi.SizeofRtmsg)
	m.attr(rtaTable, u32b(rtTableMain))
	if dst.Bits() > 0 {
		m.attr(rtaDst, dst.Addr().AsSlice())
	}
	if family == unix.AF_INET && dst.Bits() > 0 {
		m.attr(rtaPrefsrc, src.AsSlice())
	}
	if family == unix.AF_INET6 {
		m.attr(rtaPriority, u32b(256))
	}
	m.attr(rtaOif, u32b(uint32(ifc.Index)))
	return m.finish()
}
