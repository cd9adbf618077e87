package netlink

import (
	"encoding/binary"
	"net/netip"

	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/fs/sock"
	"github.com/sbx-dev/sbx/kernel/net/inet"
	"github.com/sbx-dev/sbx/kernel/net/netproto"
	"golang.org/x/sys/unix"
)

// NETLINK_SOCK_DIAG (<linux/sock_diag.h>, <linux/inet_diag.h>, <linux/unix_diag.h>).
const (
	tcpdiagGetsock   = 18
	dccpdiagGetsock  = 19
	sockDiagByFamily = 20
	sockDestroy      = 21

	afMax = 46

	inetDiagNoCookie = ^uint32(0)

	// Request attributes.
	inetDiagReqBytecode = 1
	inetDiagReqProtocol = 3

	// Reply attributes; a request asks for attribute n with bit n-1 of idiag_ext.
	inetDiagMeminfo   = 1
	inetDiagInfo      = 2
	inetDiagCong      = 4
	inetDiagTOS       = 5
	inetDiagTclass    = 6
	inetDiagSkmeminfo = 7
	inetDiagShutdown  = 8
	inetDiagSkv6only  = 11

	// Bytecode operations (INET_DIAG_BC_*).
	bcNop        = 0
	bcJmp        = 1
	bcSGE        = 2
	bcSLE        = 3
	bcDGE        = 4
	bcDLE        = 5
	bcAuto       = 6
	bcSCond      = 7
	bcDCond      = 8
	bcDevCond    = 9
	bcMarkCond   = 10
	bcSEQ        = 11
	bcDEQ        = 12
	bcCgroupCond = 13

	unixDiagName     = 0
	unixDiagVFS      = 1
	unixDiagPeer     = 2
	unixDiagRQlen    = 4
	unixDiagShutdown = 6
	unixDiagUID      = 7

	udiagShowName  = 0x01
	udiagShowVFS   = 0x02
	udiagShowPeer  = 0x04
	udiagShowRQlen = 0x10
	udiagShowUID   = 0x40

	ipprotoUDPLite = 136
	ipprotoRaw     = 255

	// sizeofTCPInfo is the struct tcp_info reported for a socket without a host one (the
	// fields up to tcpi_rcv_space; only tcpi_state is set).
	sizeofTCPInfo = 104
)

// UnixSock is one AF_UNIX socket of the sandbox for unix_diag: its inode number, owner,
// SO_COOKIE, what the socket says of itself, and the inode numbers of its peer (0: none
// known, e.g. a host peer).
type UnixSock struct {
	Ino     uint64
	UID     uint32
	Cookie  uint64
	Info    sock.DiagInfo
	PeerIno uint64
}

// handleDiag answers one NETLINK_SOCK_DIAG request, as sock_diag_rcv_msg.
func (s *Socket) handleDiag(req []byte, typ, flags uint16, seq, portid uint32) [][]byte {
	body := req[hdrLen:]
	switch typ {
	case tcpdiagGetsock, dccpdiagGetsock:
		// The old inet_diag_req requests: a kernel without inet_rcv_compat.
		return [][]byte{errMsg(req, unix.EOPNOTSUPP, portid)}
	case sockDiagByFamily, sockDestroy:
	default:
		return [][]byte{errMsg(req, unix.EINVAL, portid)}
	}
	if len(body) < abi.SizeofSockDiagReq {
		return [][]byte{errMsg(req, unix.EINVAL, portid)}
	}
	var head abi.SockDiagReq
	head.Decode(body)
	if head.Family >= afMax {
		return [][]byte{errMsg(req, unix.EINVAL, portid)}
	}
	dump := flags&flagDump == flagDump
	var msgs [][]byte
	var errno unix.Errno
	switch head.Family {
	case unix.AF_INET, unix.AF_INET6:
		if typ == sockDestroy {
			// Destroying a socket needs CAP_NET_ADMIN over the host's network.
			return [][]byte{errMsg(req, unix.EPERM, portid)}
		}
		msgs, errno = s.inetDiag(body, dump, seq, portid)
	case unix.AF_UNIX:
		if typ == sockDestroy {
			return [][]byte{errMsg(req, unix.EOPNOTSUPP, portid)}
		}
		msgs, errno = s.unixDiag(body, dump, seq, portid)
	default:
		// No diag handler for the family (netlink, packet, ...: none of the sandbox's).
		errno = unix.ENOENT
	}
	if errno != 0 {
		return [][]byte{errMsg(req, errno, portid)}
	}
	if dump && len(msgs) == 1 && binary.LittleEndian.Uint16(msgs[0][4:]) == nlmsgDone {
		return msgs // a dump that failed once started
	}
	if !dump {
		if flags&flagAck != 0 {
			msgs = append(msgs, errMsg(req, 0, portid))
		}
		return msgs
	}
	return dumpReply(msgs, seq, portid)
}

// inetDiag answers an inet_diag_req_v2: a dump of the matching sockets, or the one socket
// its id names.
func (s *Socket) inetDiag(body []byte, dump bool, seq, portid uint32) ([][]byte, unix.Errno) {
	if len(body) < abi.SizeofInetDiagReqV2 {
		return nil, unix.EINVAL
	}
	var r abi.InetDiagReqV2
	r.Decode(body)
	proto := uint32(r.Protocol)
	var bc []byte
	for a := body[abi.SizeofInetDiagReqV2:]; len(a) >= 4; {
		l := int(binary.LittleEndian.Uint16(a))
		if l < 4 || l > len(a) {
			break
		}
		switch binary.LittleEndian.Uint16(a[2:]) & 0x3fff {
		case inetDiagReqBytecode:
			bc = a[4:l]
		case inetDiagReqProtocol:
			if l >= 8 {
				proto = binary.LittleEndian.Uint32(a[4:])
			}
		}
		a = a[min((l+3)&^3, len(a)):]
	}
	switch proto {
	case unix.IPPROTO_TCP, unix.IPPROTO_UDP:
	case ipprotoUDPLite, ipprotoRaw:
		// Protocols Linux reports on, of which the sandbox has no sockets.
		if !dump {
			return nil, unix.ENOENT
		}
		return nil, 0
	default:
		if dump {
			// The dump starts, and its first part fails: NLMSG_DONE carries the error.
			return [][]byte{doneMsg(-int32(unix.ENOENT), seq, portid)}, 0
		}
		return nil, unix.ENOENT
	}
	if bc != nil && !dump {
		bc = nil // a single-socket request ignores a filter, as inet_diag_cmd_exact does
	}
	if bc != nil {
		if err := auditBytecode(bc); err != 0 {
			return nil, err
		}
	}
	info := r.Ext&(1<<(inetDiagInfo-1)) != 0 || r.Ext&(1<<(inetDiagCong-1)) != 0 || r.Ext&(1<<(inetDiagSkmeminfo-1)) != 0
	var msgs [][]byte
	for _, d := range s.stack.Diag(info) {
		if int(d.Family) != int(r.Family) || uint32(d.Proto) != proto {
			continue
		}
		id := sockID(d)
		if !dump {
			if id.Sport != r.ID.Sport || id.Dport != r.ID.Dport || id.Src != r.ID.Src || id.Dst != r.ID.Dst ||
				(r.ID.Cookie != [2]uint32{inetDiagNoCookie, inetDiagNoCookie} && r.ID.Cookie != id.Cookie) {
				continue
			}
			return [][]byte{inetMsg(d, id, r.Ext, 0, seq, portid)}, 0
		}
		if r.States&(1<<d.State) == 0 {
			continue
		}
		if (r.ID.Sport != 0 && r.ID.Sport != id.Sport) || (r.ID.Dport != 0 && r.ID.Dport != id.Dport) {
			continue
		}
		if bc != nil && !runBytecode(bc, d, id) {
			continue
		}
		msgs = append(msgs, inetMsg(d, id, r.Ext, flagMulti, seq, portid))
	}
	if !dump {
		return nil, unix.ENOENT
	}
	return msgs, 0
}

// sockID is the socket's inet_diag_sockid; the cookie is its inode number (unique in the
// sandbox, as a socket cookie is in a network namespace).
func sockID(d inet.DiagSock) abi.InetDiagSockID {
	id := abi.InetDiagSockID{Sport: d.Local.Port(), Cookie: [2]uint32{uint32(d.Inode), uint32(d.Inode >> 32)}}
	put := func(dst *[16]byte, a netip.Addr) {
		switch {
		case !a.IsValid():
		case d.Family == unix.AF_INET:
			b := a.Unmap().As4()
			copy(dst[:], b[:])
		default:
			*dst = a.As16()
		}
	}
	put(&id.Src, d.Local.Addr())
	if d.Remote.IsValid() {
		id.Dport = d.Remote.Port()
		put(&id.Dst, d.Remote.Addr())
	}
	return id
}

// inetMsg builds one inet_diag_msg with the attributes Linux always adds and those ext asks
// for.
func inetMsg(d inet.DiagSock, id abi.InetDiagSockID, ext uint8, flags uint16, seq, portid uint32) []byte {
	m := header(sockDiagByFamily, flags, seq, portid)
	dm := abi.InetDiagMsg{Family: uint8(d.Family), State: d.State, ID: id, Rqueue: d.Rqueue, Wqueue: d.Wqueue, UID: d.UID,
		Inode: uint32(d.Inode)}
	b := make([]byte, abi.SizeofInetDiagMsg)
	dm.Encode(b)
	m.b = append(m.b, b...)
	want := func(attr int) bool { return ext&(1<<(attr-1)) != 0 }
	// In inet_sk_diag_fill's order: the socket's own attributes, then memory, then TCP's.
	m.attr(inetDiagShutdown, []byte{0})
	if want(inetDiagTOS) {
		m.attr(inetDiagTOS, []byte{0})
	}
	if d.Family == unix.AF_INET6 {
		if want(inetDiagTclass) {
			m.attr(inetDiagTclass, []byte{0})
		}
		if d.State == inet.TCPListen || d.State == inet.TCPClose {
			v := byte(0)
			if d.V6Only {
				v = 1
			}
			m.attr(inetDiagSkv6only, []byte{v})
		}
	}
	if want(inetDiagMeminfo) {
		mi := abi.InetDiagMeminfo{Rmem: d.Rqueue, Wmem: d.Wqueue}
		b := make([]byte, abi.SizeofInetDiagMeminfo)
		mi.Encode(b)
		m.attr(inetDiagMeminfo, b)
	}
	if want(inetDiagSkmeminfo) && d.MemInfo != nil {
		m.attr(inetDiagSkmeminfo, d.MemInfo)
	}
	if d.Proto == netproto.ProtoTCP {
		if want(inetDiagInfo) {
			info := d.Info
			if info == nil {
				info = make([]byte, sizeofTCPInfo)
				info[0] = d.State // tcpi_state
			}
			m.attr(inetDiagInfo, info)
		}
		if want(inetDiagCong) && d.Cong != "" {
			m.attr(inetDiagCong, cstr(d.Cong))
		}
	}
	return m.finish()
}

// The bytecode filter (INET_DIAG_REQ_BYTECODE): a list of inet_diag_bc_op {code, yes, no},
// some followed by an operand; yes and no are the byte offsets to go on at. A filter
// accepts a socket when it runs exactly off its end.

// auditBytecode checks a filter as inet_diag_bc_audit does: every operation known and
// complete, every jump forward, 4-aligned, to the start of an operation or just past the
// end.
func auditBytecode(bc []byte) unix.Errno {
	for off := 0; off < len(bc); {
		rest := len(bc) - off
		if rest < 4 {
			return unix.EINVAL
		}
		code, yes, no := bc[off], int(bc[off+1]), int(binary.LittleEndian.Uint16(bc[off+2:]))
		need := 4
		switch code {
		case bcSCond, bcDCond:
			if rest < 12 {
				return unix.EINVAL
			}
			fam, plen := bc[off+4], int(bc[off+5])
			alen := 0
			switch fam {
			case unix.AF_UNSPEC:
			case unix.AF_INET:
				alen = 4
			case unix.AF_INET6:
				alen = 16
			default:
				return unix.EINVAL
			}
			if plen > alen*8 {
				return unix.EINVAL
			}
			need = 12 + alen
		case bcDevCond:
			need = 8
		case bcMarkCond:
			return unix.EPERM // needs CAP_NET_ADMIN over the host's network
		case bcCgroupCond:
			need = 12
		case bcSGE, bcSLE, bcDGE, bcDLE, bcSEQ, bcDEQ:
			need = 8
		case bcAuto, bcJmp, bcNop:
		default:
			return unix.EINVAL
		}
		if need > rest {
			return unix.EINVAL
		}
		if code != bcNop {
			if no < need || no > rest+4 || no&3 != 0 {
				return unix.EINVAL
			}
			if no < rest && !opBoundary(bc, rest-no) {
				return unix.EINVAL
			}
		}
		if yes < need || yes > rest || yes&3 != 0 {
			return unix.EINVAL
		}
		off += yes
	}
	return 0
}

// opBoundary reports whether the point left bytes before the end of bc starts an
// operation, following each operation's yes from the start (valid_cc).
func opBoundary(bc []byte, left int) bool {
	for l, off := len(bc), 0; l >= 0 && off+4 <= len(bc); {
		if left > l {
			return false
		}
		if left == l {
			return true
		}
		yes := int(bc[off+1])
		if yes < 4 || yes&3 != 0 {
			return false
		}
		l -= yes
		off += yes
	}
	return false
}

// runBytecode runs an audited filter on one socket.
func runBytecode(bc []byte, d inet.DiagSock, id abi.InetDiagSockID) bool {
	n := len(bc)
	for off := 0; off < n; {
		code, yes, no := bc[off], int(bc[off+1]), int(binary.LittleEndian.Uint16(bc[off+2:]))
		operand := func() uint16 { return binary.LittleEndian.Uint16(bc[off+6:]) } // op[1].no
		ok := true
		switch code {
		case bcJmp:
			ok = false
		case bcSEQ:
			ok = id.Sport == operand()
		case bcSGE:
			ok = id.Sport >= operand()
		case bcSLE:
			ok = id.Sport <= operand()
		case bcDEQ:
			ok = id.Dport == operand()
		case bcDGE:
			ok = id.Dport >= operand()
		case bcDLE:
			ok = id.Dport <= operand()
		case bcAuto:
			ok = !d.Bound
		case bcSCond, bcDCond:
			ok = hostCond(bc[off+4:off+yes], code == bcSCond, d, id)
		case bcDevCond:
			ok = binary.LittleEndian.Uint32(bc[off+4:]) == 0 // no socket is bound to a device
		case bcCgroupCond:
			ok = binary.LittleEndian.Uint64(bc[off+4:]) == 0
		}
		if ok {
			off += yes
		} else {
			off += no
		}
		if off > n {
			return false
		}
	}
	return true
}

// hostCond matches an inet_diag_hostcond {family, prefix_len, port, addr} against the
// socket's source (src) or destination.
func hostCond(c []byte, src bool, d inet.DiagSock, id abi.InetDiagSockID) bool {
	fam, plen, port := c[0], int(c[1]), int32(binary.LittleEndian.Uint32(c[4:]))
	addr := c[8:]
	p, a := id.Dport, id.Dst
	if src {
		p, a = id.Sport, id.Src
	}
	if port != -1 && port != int32(p) {
		return false
	}
	if fam != unix.AF_UNSPEC && int(fam) != d.Family {
		// An IPv4 condition matches an IPv4-mapped address of an IPv6 socket.
		if d.Family == unix.AF_INET6 && fam == unix.AF_INET {
			mapped := netip.AddrFrom16(a)
			if mapped.Is4In6() {
				v4 := mapped.Unmap().As4()
				return prefixMatch(v4[:], addr, plen)
			}
		}
		return false
	}
	if plen == 0 {
		return true
	}
	return prefixMatch(a[:], addr, plen)
}

func prefixMatch(a, p []byte, bits int) bool {
	for i := 0; bits > 0; i++ {
		if i >= len(a) || i >= len(p) {
			return false
		}
		mask := byte(0xff)
		if bits < 8 {
			mask = byte(0xff) << (8 - bits)
		}
		if (a[i]^p[i])&mask != 0 {
			return false
		}
		bits -= 8
	}
	return true
}

// unixDiag answers a unix_diag_req: a dump of the sockets in the requested states, or the
// one udiag_ino names.
func (s *Socket) unixDiag(body []byte, dump bool, seq, portid uint32) ([][]byte, unix.Errno) {
	if len(body) < abi.SizeofUnixDiagReq {
		return nil, unix.EINVAL
	}
	var r abi.UnixDiagReq
	r.Decode(body)
	var socks []UnixSock
	if s.unix != nil {
		socks = s.unix()
	}
	if !dump {
		if r.Ino == 0 {
			return nil, unix.EINVAL
		}
		for _, u := range socks {
			if uint32(u.Ino) != r.Ino {
				continue
			}
			cookie := [2]uint32{uint32(u.Cookie), uint32(u.Cookie >> 32)}
			if r.Cookie != [2]uint32{inetDiagNoCookie, inetDiagNoCookie} && r.Cookie != cookie {
				return nil, unix.ESTALE
			}
			return [][]byte{unixMsg(u, r.Show, 0, seq, portid)}, 0
		}
		return nil, unix.ENOENT
	}
	var msgs [][]byte
	for _, u := range socks {
		if r.States&(1<<u.Info.State) == 0 {
			continue
		}
		msgs = append(msgs, unixMsg(u, r.Show, flagMulti, seq, portid))
	}
	return msgs, 0
}

func unixMsg(u UnixSock, show uint32, flags uint16, seq, portid uint32) []byte {
	m := header(sockDiagByFamily, flags, seq, portid)
	dm := abi.UnixDiagMsg{Family: unix.AF_UNIX, Type: uint8(u.Info.Type), State: u.Info.State, Ino: uint32(u.Ino),
		Cookie: [2]uint32{uint32(u.Cookie), uint32(u.Cookie >> 32)}}
	b := make([]byte, abi.SizeofUnixDiagMsg)
	dm.Encode(b)
	m.b = append(m.b, b...)
	if show&udiagShowName != 0 && u.Info.Name != "" {
		name := []byte(u.Info.Name)
		if name[0] != 0 {
			name = append(name, 0) // a path name's length counts its terminating NUL
		}
		m.attr(unixDiagName, name)
	}
	if show&udiagShowVFS != 0 && u.Info.Path != nil {
		dev := u.Info.Path.Dev
		major, minor := unix.Major(dev), unix.Minor(dev)
		v := abi.UnixDiagVFS{Ino: uint32(u.Info.Path.Ino), Dev: major<<20 | minor} // the kernel's MKDEV
		b := make([]byte, abi.SizeofUnixDiagVFS)
		v.Encode(b)
		m.attr(unixDiagVFS, b)
	}
	if show&udiagShowPeer != 0 && u.PeerIno != 0 {
		m.attr(unixDiagPeer, u32b(uint32(u.PeerIno)))
	}
	if show&udiagShowRQlen != 0 {
		rq := abi.UnixDiagRQlen{Rqueue: u.Info.Rqueue, Wqueue: u.Info.Wqueue}
		b := make([]byte, abi.SizeofUnixDiagRQlen)
		rq.Encode(b)
		m.attr(unixDiagRQlen, b)
	}
	m.attr(unixDiagShutdown, []byte{0})
	if show&udiagShowUID != 0 {
		m.attr(unixDiagUID, u32b(u.UID))
	}
	return m.finish()
}

// doneMsg is an NLMSG_DONE whose payload is errno (negative) or 0.
func doneMsg(errno int32, seq, portid uint32) []byte {
	m := header(nlmsgDone, flagMulti, seq, portid)
	m.u32(uint32(errno))
	return m.finish()
}
