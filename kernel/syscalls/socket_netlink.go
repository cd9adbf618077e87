package syscalls

import (
	"sort"
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/fs/sock"
	"github.com/sbx-dev/sbx/kernel/net/netlink"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// newNetlinkSocket creates a NETLINK_ROUTE or NETLINK_SOCK_DIAG socket (other netlink
// protocols are not offered).
func newNetlinkSocket(t *kernel.Task, family, typ, proto int) (vfs.File, error) {
	if typ != unix.SOCK_RAW && typ != unix.SOCK_DGRAM {
		return nil, unix.ESOCKTNOSUPPORT
	}
	switch proto {
	case unix.NETLINK_ROUTE:
		return netlink.New(typ, t.Group().NetStack()), nil
	case unix.NETLINK_SOCK_DIAG:
		k := t.Kernel()
		return netlink.NewDiag(typ, t.Group().NetStack(), func() []netlink.UnixSock { return unixSockets(k) }), nil
	}
	return nil, unix.EPROTONOSUPPORT
}

// unixSockets lists the sandbox's AF_UNIX sockets for unix_diag: those its processes hold
// (as /proc/net/unix), in inode order, each with its peer's inode when the peer is held too.
func unixSockets(k *kernel.Kernel) []netlink.UnixSock {
	ino := map[*sock.Socket]vfs.Attr{}
	var order []*sock.Socket
	for _, tg := range k.Groups() {
		fds := tg.FDs()
		if fds == nil {
			continue
		}
		for _, n := range fds.Numbers() {
			fd, _, err := fds.Get(n)
			if err != nil {
				continue
			}
			if s, ok := fd.Impl().(*sock.Socket); ok {
				if _, seen := ino[s]; !seen {
					if a, err := fd.StatAnon(); err == nil {
						ino[s] = a
						order = append(order, s)
					}
				}
			}
			fd.DecRef()
		}
	}
	out := make([]netlink.UnixSock, 0, len(order))
	for _, s := range order {
		a := ino[s]
		u := netlink.UnixSock{Ino: a.Ino, UID: a.UID, Cookie: s.Cookie(unixNames(k)), Info: s.Diag()}
		if u.Info.Peer != nil {
			u.PeerIno = ino[u.Info.Peer].Ino
		}
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ino < out[j].Ino })
	return out
}

// sockaddrNl is struct sockaddr_nl.
func sockaddrNl(pid, groups uint32) []byte {
	b := make([]byte, abi.SizeofSockaddrNl)
	sa := abi.SockaddrNl{Family: unix.AF_NETLINK, PID: pid, Groups: groups}
	sa.Encode(b)
	return b
}

func putSockaddr(t *kernel.Task, addr, lenAddr uint64, b []byte) error {
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
	full := len(b)
	if int(l) < len(b) {
		b = b[:l]
	}
	if _, err := t.CopyOut(addr, b); err != nil {
		return unix.EFAULT
	}
	return putU32(t, lenAddr, uint32(full))
}

// readSockaddrNl decodes a sockaddr_nl: its port ID and groups.
func readSockaddrNl(t *kernel.Task, addr, size uint64) (uint32, uint32, error) {
	if size < abi.SizeofSockaddrNl || size > 128 {
		return 0, 0, unix.EINVAL
	}
	b := make([]byte, abi.SizeofSockaddrNl)
	if _, err := t.CopyIn(addr, b); err != nil {
		return 0, 0, unix.EFAULT
	}
	var sa abi.SockaddrNl
	sa.Decode(b)
	if sa.Family != unix.AF_NETLINK {
		return 0, 0, unix.EINVAL
	}
	return sa.PID, sa.Groups, nil
}

func netlinkRecv(t *kernel.Task, fd *vfs.FileDescription, s *netlink.Socket, bufs [][]byte, flags int) (uint64, int, error) {
	nonblock := flags&unix.MSG_DONTWAIT != 0 || fd.StatusFlags()&unix.O_NONBLOCK != 0
	for {
		n, mf, err := s.Recv(bufs, flags)
		if err == unix.EAGAIN && !nonblock {
			if werr := t.WaitFile(fd, waiter.EventIn, time.Time{}); werr != nil {
				return 0, 0, werr
			}
			continue
		}
		return uint64(n), mf, err
	}
}

// netlinkCall runs the netlink side of a socket syscall when fdn is a netlink socket.
func netlinkCall(t *kernel.Task, nr string, a kernel.SyscallArgs) (r uint64, err error, handled bool) {
	fd, ferr := getIOFD(t, a[0])
	if ferr != nil {
		return 0, nil, false
	}
	defer fd.DecRef()
	s, ok := fd.Impl().(*netlink.Socket)
	if !ok {
		return 0, nil, false
	}
	pid := uint32(t.Group().PID)
	switch nr {
	case "bind":
		var portid, groups uint32
		if portid, groups, err = readSockaddrNl(t, a[1], a[2]); err == nil {
			err = s.Bind(portid, groups, pid)
		}
	case "connect":
		_, _, err = readSockaddrNl(t, a[1], a[2]) // the kernel (port 0) is the only peer
	case "getsockname":
		p, g := s.Name()
		err = putSockaddr(t, a[1], a[2], sockaddrNl(p, g))
	case "getpeername":
		err = putSockaddr(t, a[1], a[2], sockaddrNl(0, 0))
	case "sendto", "sendmsg":
		var bufs [][]byte
		if nr == "sendto" {
			if a[4] != 0 {
				if _, _, err = readSockaddrNl(t, a[4], a[5]); err != nil {
					return 0, err, true
				}
			}
			bufs, err = ranges(t, []iovec{{a[1], a[2]}}, false)
		} else {
			var h msghdr
			if h, err = readMsghdr(t, a[1]); err == nil {
				var iovs []iovec
				if iovs, err = readIovecs(t, h.iov, h.iovlen); err == nil {
					bufs, err = ranges(t, iovs, false)
				}
			}
		}
		if err == nil && total(bufs) > s.MaxSend() {
			err = unix.EMSGSIZE
		}
		if err == nil {
			b := make([]byte, 0, total(bufs))
			for _, x := range bufs {
				b = append(b, x...)
			}
			var n int
			n, err = s.Send(b, pid)
			r = uint64(n)
		}
	case "recvfrom":
		var bufs [][]byte
		if bufs, err = ranges(t, []iovec{{a[1], a[2]}}, true); err == nil {
			if r, _, err = netlinkRecv(t, fd, s, bufs, int(a[3])); err == nil && a[4] != 0 {
				err = putSockaddr(t, a[4], a[5], sockaddrNl(0, 0))
			}
		}
	case "recvmsg":
		var h msghdr
		if h, err = readMsghdr(t, a[1]); err != nil {
			return 0, err, true
		}
		var iovs []iovec
		if iovs, err = readIovecs(t, h.iov, h.iovlen); err != nil {
			return 0, err, true
		}
		var bufs [][]byte
		if bufs, err = ranges(t, iovs, true); err != nil {
			return 0, err, true
		}
		var mf int
		if r, mf, err = netlinkRecv(t, fd, s, bufs, int(a[2])); err == nil {
			if h.name != 0 {
				putSockaddr(t, h.name, a[1]+abi.OffsetofMsghdrNamelen, sockaddrNl(0, 0))
			}
			b := make([]byte, 8)
			t.CopyOut(a[1]+abi.OffsetofMsghdrControllen, b) // no control data
			abi.PutU32(b, uint32(mf))
			t.CopyOut(a[1]+abi.OffsetofMsghdrFlags, b[:4])
		}
	case "getsockopt":
		var v uint32
		if v, err = s.Getsockopt(int(int32(a[1])), int(int32(a[2]))); err == nil {
			var l uint32
			if l, err = getU32(t, a[4]); err == nil {
				b := abi.AppendU32(nil, v)[:min(l, 4)]
				if _, cerr := t.CopyOut(a[3], b); cerr != nil {
					return 0, unix.EFAULT, true
				}
				err = putU32(t, a[4], uint32(len(b)))
			}
		}
	case "setsockopt":
		if a[4] < 4 {
			return 0, unix.EINVAL, true
		}
		var v uint32
		if v, err = getU32(t, a[3]); err == nil {
			err = s.Setsockopt(int(int32(a[1])), int(int32(a[2])), v)
		}
	case "shutdown":
		if a[1] > 2 {
			err = unix.EINVAL
		}
	case "listen", "accept":
		err = unix.EOPNOTSUPP
	default:
		return 0, nil, false
	}
	return r, err, true
}
