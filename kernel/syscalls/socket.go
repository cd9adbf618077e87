package syscalls

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/fs/sock"
	"github.com/sbx-dev/sbx/kernel/net/inet"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

func getSocket(t *kernel.Task, fdn uint64) (*vfs.FileDescription, *sock.Socket, error) {
	fd, err := getIOFD(t, fdn)
	if err != nil {
		return nil, nil, err
	}
	s, ok := fd.Impl().(*sock.Socket)
	if !ok {
		fd.DecRef()
		return nil, nil, unix.ENOTSOCK
	}
	return fd, s, nil
}

// Socket implements socket(2): AF_UNIX stream and seqpacket sockets; other families are not
// offered yet.
func Socket(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	family, typ, err := socketArgs(a[0], a[1])
	if err != nil {
		return 0, err
	}
	flags := uint64(uint32(a[1])) & (unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC)
	if newFamily, ok := socketFamilies[family]; ok {
		if typ > 10 || typ == 0 {
			return 0, unix.EINVAL
		}
		f, err := newFamily(t, int(family), int(typ), int(int32(a[2])))
		if err != nil {
			return 0, err
		}
		id := sockIdent(t)
		if s, ok := f.(*inet.Socket); ok {
			s.SetIdent(id.Ino, id.UID) // /proc/net/tcp names it as /proc/PID/fd does
		}
		fd := vfs.NewNumberedFileDescription(f, "socket", id, unix.O_RDWR|int(flags&unix.SOCK_NONBLOCK))
		defer fd.DecRef()
		n, err := t.FDs().Install(fd, 0, flags&unix.SOCK_CLOEXEC != 0, nofile(t))
		return uint64(n), err
	}
	if family != unix.AF_UNIX {
		return 0, unix.EAFNOSUPPORT
	}
	if typ, err = unixType(typ, a[2]); err != nil {
		return 0, err
	}
	s := sock.New(int(typ))
	if typ == unix.SOCK_DGRAM {
		var err error
		if s, err = sock.NewDgram(); err != nil {
			return 0, unix.ENOBUFS
		}
	}
	fd := vfs.NewNumberedFileDescription(s, "socket", sockIdent(t), unix.O_RDWR|int(flags&unix.SOCK_NONBLOCK))
	defer fd.DecRef()
	n, err := t.FDs().Install(fd, 0, flags&unix.SOCK_CLOEXEC != 0, nofile(t))
	return uint64(n), err
}

// socketArgs splits socket(2)'s type into the type proper and checks what Linux's
// __sys_socket and __sock_create check first: unknown flag bits and types past SOCK_MAX
// are EINVAL, families past AF_MAX EAFNOSUPPORT.
func socketArgs(family, typ uint64) (uint64, uint64, error) {
	ty := uint32(typ)
	if ty&^(0xf|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC) != 0 {
		return 0, 0, unix.EINVAL
	}
	if int32(family) < 0 || family >= unix.AF_MAX {
		return 0, 0, unix.EAFNOSUPPORT
	}
	if ty&0xf > 10 { // SOCK_MAX is 11
		return 0, 0, unix.EINVAL
	}
	return uint64(uint32(family)), uint64(ty & 0xf), nil
}

// unixType checks an AF_UNIX socket's type and protocol as unix_create does: protocol 0
// or PF_UNIX, SOCK_RAW taken as SOCK_DGRAM, other types ESOCKTNOSUPPORT.
func unixType(typ, protocol uint64) (uint64, error) {
	if protocol != 0 && protocol != unix.PF_UNIX {
		return 0, unix.EPROTONOSUPPORT
	}
	switch typ {
	case unix.SOCK_STREAM, unix.SOCK_SEQPACKET, unix.SOCK_DGRAM:
		return typ, nil
	case unix.SOCK_RAW:
		return unix.SOCK_DGRAM, nil
	}
	return 0, unix.ESOCKTNOSUPPORT
}

// Socketpair implements socketpair(2) for AF_UNIX stream sockets.
func Socketpair(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	family, typ, err := socketArgs(a[0], a[1])
	if err != nil {
		return 0, err
	}
	flags := uint64(uint32(a[1])) & (unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC)
	if family == unix.AF_INET || family == unix.AF_INET6 {
		return 0, unix.EOPNOTSUPP
	}
	if family != unix.AF_UNIX {
		return 0, unix.EAFNOSUPPORT
	}
	if typ, err = unixType(typ, a[2]); err != nil {
		return 0, err
	}
	x, y, err := sock.Pair(int(typ))
	if err != nil {
		return 0, err
	}
	x.SetCred(ucred(t), true)
	y.SetCred(ucred(t), true)
	st := unix.O_RDWR | int(flags&unix.SOCK_NONBLOCK)
	fx := vfs.NewNumberedFileDescription(x, "socket", sockIdent(t), st)
	fy := vfs.NewNumberedFileDescription(y, "socket", sockIdent(t), st)
	defer fx.DecRef()
	defer fy.DecRef()
	cloexec := flags&unix.SOCK_CLOEXEC != 0
	nx, err := t.FDs().Install(fx, 0, cloexec, nofile(t))
	if err != nil {
		return 0, err
	}
	ny, err := t.FDs().Install(fy, 0, cloexec, nofile(t))
	if err != nil {
		t.FDs().Remove(nx)
		return 0, err
	}
	b := make([]byte, 8)
	abi.PutU32(b[0*4:], uint32(nx)) // int sv[2]
	abi.PutU32(b[1*4:], uint32(ny))
	if _, err := t.CopyOut(a[3], b); err != nil {
		t.FDs().Remove(nx)
		t.FDs().Remove(ny)
		return 0, unix.EFAULT
	}
	return 0, nil
}

// readSockaddrUn decodes a sockaddr_un path.
func readSockaddrUn(t *kernel.Task, addr, size uint64) (string, error) {
	if size < 2 || size > 110 {
		return "", unix.EINVAL
	}
	b := make([]byte, size)
	if _, err := t.CopyIn(addr, b); err != nil {
		return "", unix.EFAULT
	}
	if abi.SockaddrFamily(b) != unix.AF_UNIX {
		return "", unix.EINVAL // unix_validate_addr
	}
	p := b[2:]
	if len(p) > 0 && p[0] == 0 {
		return string(p), nil // abstract: the whole length is the name, NULs included
	}
	if i := strings.IndexByte(string(p), 0); i >= 0 {
		p = p[:i]
	}
	return string(p), nil
}

// Connect implements connect(2): allowed host sockets come through the socket broker.
func Connect(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if r, err, ok := inetCall(t, "connect", a); ok {
		return r, err
	}
	fd, s, err := getSocket(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	p, err := readSockaddrUn(t, a[1], a[2])
	if err != nil {
		return 0, err
	}
	nonblock := fd.StatusFlags()&unix.O_NONBLOCK != 0
	if p == "" {
		return 0, unix.EINVAL
	}
	if s.Type == unix.SOCK_DGRAM {
		target, err := lookupBound(t, s.Type, p)
		if err != nil {
			return 0, err
		}
		if err := passcredAutobind(t, s); err != nil {
			return 0, err
		}
		return 0, s.ConnectDgram(target, p)
	}
	if p[0] == 0 {
		l := unixNames(t.Kernel()).Lookup(abstractKey(t, s.Type, p))
		if l == nil {
			return 0, unix.ECONNREFUSED
		}
		return 0, connectListener(t, s, l, nonblock)
	}
	if !strings.HasPrefix(p, "/") {
		_, cwd := t.FSContext()
		p = path.Join(cwd.Path(), p)
	}
	// The path must exist in the sandbox (as Linux requires) and name a socket.
	vd, err := t.Lookup(kernel.AtFDCWD, p, true)
	if err != nil {
		return 0, err
	}
	at, err := vd.Dentry.Inode().Stat()
	if err != nil || at.Type() != unix.S_IFSOCK {
		return 0, unix.ECONNREFUSED
	}
	if l := unixNames(t.Kernel()).Lookup(sock.PathKey{Dev: at.Dev, Ino: at.Ino}); l != nil {
		return 0, connectListener(t, s, l, nonblock)
	}
	if s.Type != unix.SOCK_STREAM {
		return 0, unix.ECONNREFUSED // brokered host sockets are stream sockets
	}
	if err := s.Connect(t.Kernel().Sockets, path.Clean(p)); err != nil {
		if err == unix.ENOENT {
			return 0, unix.ECONNREFUSED
		}
		return 0, err
	}
	return 0, nil
}

// connectListener connects s to the listener l inside the sandbox. A full backlog is
// EAGAIN at once for a non-blocking socket; a blocking one waits for an accept to make
// room, up to SO_SNDTIMEO (then EAGAIN), as unix_stream_connect does.
func connectListener(t *kernel.Task, s, l *sock.Socket, nonblock bool) error {
	if err := passcredAutobind(t, s); err != nil {
		return err
	}
	w := newSockWaiter(s, true)
	var until time.Time
	if w.timed {
		until = w.deadline
	}
	e := &waiter.Entry{Mask: waiter.EventOut | waiter.EventHUp, Callback: func(uint32) { t.Wake() }}
	l.EventRegister(e)
	defer l.EventUnregister(e)
	for {
		err := s.ConnectTo(l, ucred(t))
		if err != unix.EAGAIN || nonblock {
			return err
		}
		if err := w.block(t, until); err != nil {
			return err
		}
	}
}

// passcredAutobind gives an unbound socket with SO_PASSCRED an autobound name before it
// connects or sends, so that its peer can tell who sent (unix_stream_connect,
// unix_dgram_connect, unix_dgram_sendmsg).
func passcredAutobind(t *kernel.Task, s *sock.Socket) error {
	if !s.PassCred() || s.Bound() {
		return nil
	}
	return autobind(t, s)
}

// sockIO moves data on a socket, blocking (interruptibly, within SO_RCVTIMEO/SO_SNDTIMEO)
// unless the call or the description is non-blocking; a blocking stream send sends
// everything unless a timeout or a signal ends it early (then it reports what was sent).
// A broken connection raises SIGPIPE unless MSG_NOSIGNAL.
func sockIO(t *kernel.Task, fd *vfs.FileDescription, s *sock.Socket, bufs [][]byte, flags int, write bool) (uint64, error) {
	if write && s.Internal() {
		if c := ucred(t); s.PeerNeedsCred(c) {
			return sendWithRights(t, fd, s, bufs, flags, nil, &c)
		}
	}
	nonblock := flags&unix.MSG_DONTWAIT != 0 || fd.StatusFlags()&unix.O_NONBLOCK != 0
	w := newSockWaiter(s, write)
	// A blocking stream receive waits for SO_RCVLOWAT bytes, or with MSG_WAITALL for the
	// whole length (until end of file, an error, a timeout or a signal): Linux's
	// sock_rcvlowat target.
	var target int64
	if !write {
		target = recvTarget(s, bufs, flags, nonblock)
	}
	var done int64
	for {
		var n int64
		var err error
		if write {
			n, err = s.Send(bufs, flags)
		} else {
			n, err = s.Recv(bufs, flags)
		}
		// A blocking stream send sends everything; a receive goes on to its target.
		if n > 0 && (write && s.Type == unix.SOCK_STREAM && !nonblock || target > 0) {
			done += n
			if bufs = advance(bufs, n); len(bufs) > 0 && (write || done < target) {
				continue
			}
			return uint64(done), nil
		}
		if n == 0 && err == nil && done > 0 {
			return uint64(done), nil // end of file after part of a MSG_WAITALL receive
		}
		if err == unix.EAGAIN && !nonblock {
			mask := waiter.EventIn
			if write {
				mask = waiter.EventOut
			}
			if werr := w.wait(t, fd, mask); werr != nil {
				if done > 0 {
					return uint64(done), nil
				}
				return 0, werr
			}
			continue
		}
		if done > 0 {
			return uint64(done), nil
		}
		if err == unix.EPIPE && write && flags&unix.MSG_NOSIGNAL == 0 {
			t.Kernel().SendSignal(t, unix.SIGPIPE)
		}
		return uint64(n), err
	}
}

// recvTarget is how many bytes a stream receive reads before it returns: SO_RCVLOWAT, or
// with MSG_WAITALL the whole length, when blocking and not peeking (0: one read).
func recvTarget(s *sock.Socket, bufs [][]byte, flags int, nonblock bool) int64 {
	if s.Type != unix.SOCK_STREAM || nonblock || flags&unix.MSG_PEEK != 0 {
		return 0
	}
	want := int64(total(bufs))
	if flags&unix.MSG_WAITALL != 0 {
		return want
	}
	if lw := int64(s.RcvLowat()); lw > 1 {
		return min(lw, want)
	}
	return 0
}

// msghdr is struct msghdr (56 bytes on x86-64).
type msghdr struct {
	name, namelen, iov, iovlen, control, controllen uint64
}

func readMsghdr(t *kernel.Task, addr uint64) (msghdr, error) {
	b := make([]byte, abi.SizeofMsghdr)
	if _, err := t.CopyIn(addr, b); err != nil {
		return msghdr{}, unix.EFAULT
	}
	var m abi.Msghdr
	m.Decode(b)
	return msghdr{m.Name, uint64(m.Namelen), m.Iov, m.Iovlen, m.Control, m.Controllen}, nil
}

// Sendmsg implements sendmsg(2); SCM_RIGHTS passes files to sockets inside the sandbox
// and, as host FDs, to host peers (rights.go).
func Sendmsg(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if r, err, ok := inetCall(t, "sendmsg", a); ok {
		return r, err
	}
	h, err := readMsghdr(t, a[1])
	if err != nil {
		return 0, err
	}
	fd, s, err := getSocket(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	files, claimed, err := readRights(t, h.control, h.controllen)
	if err != nil {
		return 0, err
	}
	// The credentials a receiver with SO_PASSCRED gets: the ones claimed, else the
	// sender's own.
	cred := ucred(t)
	if claimed != nil {
		cred = *claimed
	}
	iovs, err := readIovecs(t, h.iov, h.iovlen)
	if err == nil {
		var bufs [][]byte
		if bufs, err = ranges(t, iovs, false); err == nil {
			if s.Type == unix.SOCK_DGRAM && !s.Internal() {
				for _, f := range files {
					f.DecRef() // file passing on unpaired datagram sockets is not offered
				}
				if len(files) > 0 {
					return 0, unix.EOPNOTSUPP
				}
				name := ""
				if h.name != 0 {
					if name, err = readSockaddrUn(t, h.name, h.namelen); err != nil {
						return 0, err
					}
				}
				return dgramSendAs(t, fd, s, bufs, name, int(a[2]), cred)
			}
			if len(files) > 0 || s.Internal() && s.PeerNeedsCred(cred) {
				return sendWithRights(t, fd, s, bufs, int(a[2]), files, &cred)
			}
			return sockIO(t, fd, s, bufs, int(a[2]), true)
		}
	}
	for _, f := range files {
		f.DecRef()
	}
	return 0, err
}

// Recvmsg implements recvmsg(2): files passed inside the sandbox or by a host peer arrive
// as SCM_RIGHTS.
func Recvmsg(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if r, err, ok := inetCall(t, "recvmsg", a); ok {
		return r, err
	}
	h, err := readMsghdr(t, a[1])
	if err != nil {
		return 0, err
	}
	fd, s, err := getSocket(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	iovs, err := readIovecs(t, h.iov, h.iovlen)
	if err != nil {
		return 0, err
	}
	bufs, err := ranges(t, iovs, true)
	if err != nil {
		return 0, err
	}
	var n uint64
	var control []byte
	msgFlags := 0
	from := ""
	// With SO_PASSCRED every message comes with its sender's credentials first
	// (CMSG_SPACE(sizeof(struct ucred)) of the control buffer).
	passcred := s.PassCred()
	room := h.controllen
	if passcred {
		room -= min(room, credCmsgSpace)
	}
	var cred *unix.Ucred
	switch {
	case s.Internal():
		n, control, cred, msgFlags, err = recvWithRights(t, fd, s, bufs, int(a[2]), room)
		if cred == nil {
			cred, _ = s.PeerCred()
		}
	case s.Type == unix.SOCK_STREAM && room > 0:
		// A host peer's connection, read with room for control data: files it passes
		// arrive as host files.
		n, control, _, msgFlags, err = recvWithRights(t, fd, s, bufs, int(a[2]), room)
		cred, _ = s.PeerCred()
	case s.Type == unix.SOCK_DGRAM:
		var dc unix.Ucred
		n, from, dc, msgFlags, err = dgramRecv(t, fd, s, bufs, int(a[2]))
		cred = &dc
	default:
		n, err = sockIO(t, fd, s, bufs, int(a[2]), false)
		cred, _ = s.PeerCred()
	}
	if err != nil {
		return 0, err
	}
	if passcred && cred != nil {
		control = append(credCmsg(seenCred(t, *cred)), control...)
	}
	if uint64(len(control)) > h.controllen {
		msgFlags |= unix.MSG_CTRUNC
	}
	used := uint64(0)
	if len(control) > 0 {
		w := min(uint64(len(control)), h.controllen)
		if _, err := t.CopyOut(h.control, control[:w]); err != nil {
			return 0, unix.EFAULT
		}
		used = min((uint64(len(control))+7)&^7, h.controllen)
	}
	// The sender's address (datagrams; none on connected sockets), the control length
	// used and the flags.
	b := make([]byte, 8)
	if from != "" && h.name != 0 {
		putSockaddrUn(t, h.name, a[1]+8, from)
	} else {
		t.CopyOut(a[1]+abi.OffsetofMsghdrNamelen, b[:4])
	}
	abi.PutU64(b, used)
	t.CopyOut(a[1]+abi.OffsetofMsghdrControllen, b)
	abi.PutU32(b, uint32(msgFlags|int(a[2])&unix.MSG_CMSG_CLOEXEC))
	t.CopyOut(a[1]+abi.OffsetofMsghdrFlags, b[:4])
	return n, nil
}

// Sendto implements sendto(2): datagram sockets take an address; stream sockets must be
// connected.
func Sendto(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if r, err, ok := inetCall(t, "sendto", a); ok {
		return r, err
	}
	fd, s, err := getSocket(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if s.Type == unix.SOCK_DGRAM && !s.Internal() {
		name := ""
		if a[4] != 0 {
			if name, err = readSockaddrUn(t, a[4], a[5]); err != nil {
				return 0, err
			}
		}
		bufs, err := ranges(t, []iovec{{a[1], a[2]}}, false)
		if err != nil {
			return 0, err
		}
		return dgramSend(t, fd, s, bufs, name, int(a[3]))
	}
	if a[4] != 0 {
		return 0, unix.EISCONN
	}
	return bufIO(t, a, true)
}

// Recvfrom implements recvfrom(2).
func Recvfrom(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if r, err, ok := inetCall(t, "recvfrom", a); ok {
		return r, err
	}
	fd, s, err := getSocket(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	bufs, err := ranges(t, []iovec{{a[1], a[2]}}, true)
	if err != nil {
		return 0, err
	}
	if s.Type == unix.SOCK_DGRAM && !s.Internal() {
		n, from, _, _, err := dgramRecv(t, fd, s, bufs, int(a[3]))
		if err != nil {
			return 0, err
		}
		if from == "" { // an unbound sender has no address
			if a[5] != 0 {
				putU32(t, a[5], 0)
			}
			return n, nil
		}
		return n, putSockaddrUn(t, a[4], a[5], from)
	}
	n, err := sockIO(t, fd, s, bufs, int(a[3]), false)
	if err == nil && a[5] != 0 {
		putU32(t, a[5], 0)
	}
	return n, err
}

func bufIO(t *kernel.Task, a kernel.SyscallArgs, write bool) (uint64, error) {
	fd, s, err := getSocket(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	bufs, err := ranges(t, []iovec{{a[1], a[2]}}, !write)
	if err != nil {
		return 0, err
	}
	return sockIO(t, fd, s, bufs, int(a[3]), write)
}

// Shutdown implements shutdown(2).
func Shutdown(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if r, err, ok := inetCall(t, "shutdown", a); ok {
		return r, err
	}
	fd, s, err := getSocket(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if a[1] > 2 {
		return 0, unix.EINVAL
	}
	return 0, s.Shutdown(int(a[1]))
}

// putSockaddrUn writes the address p and its full length as move_addr_to_user does: the
// length is read first (EFAULT), a negative one is EINVAL, and the address is cut to it. A
// NULL addr writes nothing (accept, recvfrom: no address wanted).
func putSockaddrUn(t *kernel.Task, addr, lenAddr uint64, p string) error {
	if addr == 0 {
		return nil
	}
	return putName(t, addr, lenAddr, p)
}

// putName is putSockaddrUn for getsockname and getpeername, which write through whatever
// addr is (a NULL one with room is EFAULT).
func putName(t *kernel.Task, addr, lenAddr uint64, p string) error {
	l, err := getU32(t, lenAddr)
	if err != nil {
		return err
	}
	if int32(l) < 0 {
		return unix.EINVAL
	}
	b := sockaddrUn(p)
	full := len(b)
	if int(l) < len(b) {
		b = b[:l]
	}
	if len(b) > 0 {
		if _, err := t.CopyOut(addr, b); err != nil {
			return unix.EFAULT
		}
	}
	return putU32(t, lenAddr, uint32(full))
}

// Getsockname implements getsockname(2).
func Getsockname(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if r, err, ok := inetCall(t, "getsockname", a); ok {
		return r, err
	}
	fd, s, err := getSocket(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	local, _ := s.Names()
	return 0, putName(t, a[1], a[2], local)
}

// Getpeername implements getpeername(2).
func Getpeername(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if r, err, ok := inetCall(t, "getpeername", a); ok {
		return r, err
	}
	fd, s, err := getSocket(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	_, peer := s.Names()
	if !s.Connected() {
		return 0, unix.ENOTCONN
	}
	return 0, putName(t, a[1], a[2], peer)
}

// Getsockopt implements getsockopt(2).
func Getsockopt(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if r, err, ok := inetCall(t, "getsockopt", a); ok {
		return r, err
	}
	fd, s, err := getSocket(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if int32(a[1]) != unix.SOL_SOCKET {
		return 0, unix.EOPNOTSUPP // AF_UNIX has no options of its own
	}
	return 0, unixGetsockopt(t, s, int(int32(a[2])), a[3], a[4])
}

// Setsockopt implements setsockopt(2).
func Setsockopt(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if r, err, ok := inetCall(t, "setsockopt", a); ok {
		return r, err
	}
	fd, s, err := getSocket(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if int32(a[1]) != unix.SOL_SOCKET {
		return 0, unix.EOPNOTSUPP // AF_UNIX has no options of its own
	}
	return 0, unixSetsockopt(t, s, int(int32(a[2])), a[3], uint64(uint32(a[4])))
}

// unixNames returns the kernel's AF_UNIX names (bound sockets, autobind and cookie
// counters).
func unixNames(k *kernel.Kernel) *sock.Names {
	return kernel.StateOf(k, func(*kernel.Kernel) *sock.Names { return sock.NewNames() })
}

// abstractKey is where an abstract name ("\x00...") of a socket of type typ lives:
// abstract names are per network namespace, so one in a nested namespace is keyed with its
// inode number in front ("net:", never a digit, so never one of the root namespace's
// keys), and per socket type, as Linux hashes them (a stream and a datagram socket may
// hold one name; a socket of one type does not find the other's).
func abstractKey(t *kernel.Task, typ int, name string) sock.AbstractKey {
	if n := t.Group().Namespaces()[kernel.NSNet]; !t.Kernel().IsRootNS(n) {
		return sock.AbstractKey(fmt.Sprintf("net:%d:%d", n.Ino, typ) + name)
	}
	return sock.AbstractKey(fmt.Sprintf("%d", typ) + name)
}

// autobind gives an unbound socket a unique abstract name, as Linux does for bind with an
// empty address.
func autobind(t *kernel.Task, s *sock.Socket) error {
	ns := unixNames(t.Kernel())
	for {
		name := fmt.Sprintf("\x00%05x", ns.NextAutobind()&0xfffff)
		if err := s.Bind(ns, abstractKey(t, s.Type, name), name); err != unix.EADDRINUSE {
			return err
		}
	}
}

// Bind implements bind(2) for AF_UNIX: a path creates a socket file in the sandbox (it
// never reaches a host socket), an abstract name lives in the sandbox's own namespace.
func Bind(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if r, err, ok := inetCall(t, "bind", a); ok {
		return r, err
	}
	fd, s, err := getSocket(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if a[2] == 2 {
		// Just a family: autobind, which leaves a bound socket as it is (unix_autobind).
		var b [2]byte
		if _, err := t.CopyIn(a[1], b[:]); err != nil {
			return 0, unix.EFAULT
		}
		if abi.SockaddrFamily(b[:]) != unix.AF_UNIX {
			return 0, unix.EINVAL
		}
		if s.Bound() {
			return 0, nil
		}
		return 0, autobind(t, s)
	}
	p, err := readSockaddrUn(t, a[1], a[2])
	if err != nil {
		return 0, err
	}
	if p == "" || p[0] == 0 {
		if s.Bound() {
			return 0, unix.EINVAL
		}
		if p == "" {
			return 0, autobind(t, s)
		}
		return 0, s.Bind(unixNames(t.Kernel()), abstractKey(t, s.Type, p), p)
	}
	// A path is checked before the socket's own state, as Linux does.
	parent, name, trailing, _, err := t.LookupParent(kernel.AtFDCWD, p)
	if err != nil {
		return 0, err
	}
	if name == "" || name == "." || name == ".." || trailing {
		return 0, unix.EADDRINUSE
	}
	if _, err := parent.Dentry.Child(name); err == nil {
		return 0, unix.EADDRINUSE
	}
	if s.Bound() {
		return 0, unix.EINVAL
	}
	if err := checkWritableDir(t, parent); err != nil {
		return 0, err
	}
	c := t.Creds()
	if err := parent.Dentry.Inode().Mknod(name, unix.S_IFSOCK|0o777&^c.Umask, 0, c); err != nil {
		if err == unix.EEXIST {
			return 0, unix.EADDRINUSE
		}
		return 0, err
	}
	child, err := parent.Dentry.Child(name)
	if err != nil {
		return 0, err
	}
	at, err := child.Inode().Stat()
	if err != nil {
		return 0, err
	}
	return 0, s.Bind(unixNames(t.Kernel()), sock.PathKey{Dev: at.Dev, Ino: at.Ino}, p)
}

// Listen implements listen(2).
func Listen(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if r, err, ok := inetCall(t, "listen", a); ok {
		return r, err
	}
	fd, s, err := getSocket(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	s.SetCred(ucred(t), false)
	return 0, s.Listen(int(int32(a[1]))) // an unbound socket cannot listen: EINVAL
}

// Accept implements accept(2).
func Accept(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return accept(t, a[0], a[1], a[2], 0)
}

// Accept4 implements accept4(2).
func Accept4(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return accept(t, a[0], a[1], a[2], a[3])
}

func accept(t *kernel.Task, fdn, addr, lenAddr, flags uint64) (uint64, error) {
	if r, err, ok := inetCall(t, "accept", kernel.SyscallArgs{fdn, addr, lenAddr, flags}); ok {
		return r, err
	}
	if flags&^(unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC) != 0 {
		return 0, unix.EINVAL
	}
	fd, s, err := getSocket(t, fdn)
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	w := newSockWaiter(s, false)
	for {
		c, err := s.Accept()
		if err == unix.EAGAIN && fd.StatusFlags()&unix.O_NONBLOCK == 0 {
			if werr := w.wait(t, fd, waiter.EventIn); werr != nil {
				return 0, werr
			}
			continue
		}
		if err != nil {
			return 0, err
		}
		nfd := vfs.NewNumberedFileDescription(c, "socket", sockIdent(t), unix.O_RDWR|int(flags&unix.SOCK_NONBLOCK))
		defer nfd.DecRef()
		n, err := t.FDs().Install(nfd, 0, flags&unix.SOCK_CLOEXEC != 0, nofile(t))
		if err != nil {
			return 0, err
		}
		_, peer := c.Names()
		if err := putSockaddrUn(t, addr, lenAddr, peer); err != nil {
			t.FDs().Remove(n)
			return 0, err
		}
		return uint64(n), nil
	}
}

// mmsghdrSize is sizeof(struct mmsghdr): a msghdr and the length transferred.
const mmsghdrSize = 64

// putMmsgLen writes msg_len of the struct mmsghdr at hdr.
func putMmsgLen(t *kernel.Task, hdr uint64, n uint32) error {
	at, err := fieldAddr(hdr, abi.OffsetofMmsghdrLen)
	if err != nil {
		return err
	}
	return putU32(t, at, n)
}

// uioMaxIOV bounds sendmmsg/recvmmsg's vector (UIO_MAXIOV).
const uioMaxIOV = 1024

// Sendmmsg implements sendmmsg(2): sendmsg for each entry; it stops at the first error,
// which is reported only if nothing was sent.
func Sendmmsg(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	vlen := min(a[2], uioMaxIOV)
	var n uint64
	for ; n < vlen; n++ {
		hdr, err := elemAddr(a[1], n, mmsghdrSize)
		var sent uint64
		if err == nil {
			sent, err = Sendmsg(t, kernel.SyscallArgs{a[0], hdr, a[3]})
		}
		if err != nil {
			if n == 0 {
				return 0, err
			}
			break
		}
		if err := putMmsgLen(t, hdr, uint32(sent)); err != nil {
			return n, nil
		}
	}
	return n, nil
}

// Recvmmsg implements recvmmsg(2): recvmsg for each entry. MSG_WAITFORONE makes every
// receive after the first non-blocking; a timeout ends the batch once it has passed.
func Recvmmsg(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	vlen := min(a[2], uioMaxIOV)
	flags := a[3]
	var deadline time.Time
	if a[4] != 0 {
		ts, err := getTimespec(t, a[4])
		if err != nil {
			return 0, err
		}
		if ts.Sec < 0 || ts.Nsec < 0 || ts.Nsec >= 1e9 {
			return 0, unix.EINVAL
		}
		deadline = time.Now().Add(time.Duration(ts.Nano()))
	}
	var n uint64
	for ; n < vlen; n++ {
		f := flags &^ unix.MSG_WAITFORONE
		if n > 0 && flags&unix.MSG_WAITFORONE != 0 {
			f |= unix.MSG_DONTWAIT
		}
		hdr, err := elemAddr(a[1], n, mmsghdrSize)
		var got uint64
		if err == nil {
			got, err = Recvmsg(t, kernel.SyscallArgs{a[0], hdr, f})
		}
		if err != nil {
			if n == 0 {
				return 0, err
			}
			break
		}
		if err := putMmsgLen(t, hdr, uint32(got)); err != nil {
			return n, nil
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			n++
			break
		}
	}
	return n, nil
}

// lookupBound finds the socket bound inside the sandbox to name (a path or "\x00abstract",
// which only a socket of type typ can hold for it): ENOENT when a path does not exist,
// ECONNREFUSED when nothing is bound there.
func lookupBound(t *kernel.Task, typ int, name string) (*sock.Socket, error) {
	if name[0] == 0 {
		if s := unixNames(t.Kernel()).Lookup(abstractKey(t, typ, name)); s != nil {
			return s, nil
		}
		return nil, unix.ECONNREFUSED
	}
	vd, err := t.Lookup(kernel.AtFDCWD, name, true)
	if err != nil {
		return nil, err
	}
	at, err := vd.Dentry.Inode().Stat()
	if err != nil || at.Type() != unix.S_IFSOCK {
		return nil, unix.ECONNREFUSED
	}
	if s := unixNames(t.Kernel()).Lookup(sock.PathKey{Dev: at.Dev, Ino: at.Ino}); s != nil {
		return s, nil
	}
	return nil, unix.ECONNREFUSED
}

// dgramSend sends bufs on datagram socket s to the named address (none: its peer).
func dgramSend(t *kernel.Task, fd *vfs.FileDescription, s *sock.Socket, bufs [][]byte, name string, flags int) (uint64, error) {
	return dgramSendAs(t, fd, s, bufs, name, flags, ucred(t))
}

// dgramSendAs is dgramSend with the credentials the datagram carries.
func dgramSendAs(t *kernel.Task, fd *vfs.FileDescription, s *sock.Socket, bufs [][]byte, name string, flags int, cred unix.Ucred) (uint64, error) {
	if err := passcredAutobind(t, s); err != nil {
		return 0, err
	}
	var target *sock.Socket
	if name != "" {
		var err error
		if target, err = lookupBound(t, s.Type, name); err != nil {
			return 0, err
		}
	}
	nonblock := flags&unix.MSG_DONTWAIT != 0 || fd.StatusFlags()&unix.O_NONBLOCK != 0
	w := newSockWaiter(s, true)
	for {
		n, err := s.SendToAs(target, bufs, cred)
		if err == unix.EAGAIN && !nonblock {
			// The receiver's queue is full: retry as it drains.
			if err := w.block(t, time.Now().Add(time.Millisecond)); err != nil {
				return 0, err
			}
			continue
		}
		return uint64(n), err
	}
}

// dgramRecv receives one datagram, returning its length, sender, the sender's
// credentials and MSG_TRUNC.
func dgramRecv(t *kernel.Task, fd *vfs.FileDescription, s *sock.Socket, bufs [][]byte, flags int) (uint64, string, unix.Ucred, int, error) {
	nonblock := flags&unix.MSG_DONTWAIT != 0 || fd.StatusFlags()&unix.O_NONBLOCK != 0
	w := newSockWaiter(s, false)
	for {
		n, from, cred, trunc, err := s.RecvFromCred(bufs, flags)
		if err == unix.EAGAIN && !nonblock {
			if s.Shut()&1 != 0 {
				return 0, "", cred, 0, nil // receiving shut down: end of file, not a wait
			}
			if werr := w.wait(t, fd, waiter.EventIn); werr != nil {
				return 0, "", cred, 0, werr
			}
			continue
		}
		msgFlags := 0
		if trunc {
			msgFlags = unix.MSG_TRUNC
		}
		return uint64(n), from, cred, msgFlags, err
	}
}

// credCmsgSpace is CMSG_SPACE(sizeof(struct ucred)).
const credCmsgSpace = abi.SizeofCmsghdr + (abi.SizeofUcred+7)&^7 // CMSG_SPACE(sizeof(struct ucred)): 32

// credCmsg is an SCM_CREDENTIALS control message, padded to its CMSG_SPACE.
func credCmsg(c unix.Ucred) []byte {
	b := make([]byte, credCmsgSpace)
	(&abi.Cmsghdr{Len: uint64(abi.CmsgLen(abi.SizeofUcred)), Level: unix.SOL_SOCKET, Type: unix.SCM_CREDENTIALS}).Encode(b)
	(&abi.Ucred{PID: c.Pid, UID: c.Uid, GID: c.Gid}).Encode(b[abi.SizeofCmsghdr:])
	return b
}

// ucred is the caller's SO_PEERCRED as its peers see it.
func ucred(t *kernel.Task) unix.Ucred {
	c := t.Creds()
	return unix.Ucred{Pid: t.Group().PID, Uid: c.EUID, Gid: c.EGID}
}

// seenCred translates credentials a socket keeps (root namespace numbers) into those of
// the receiving task's PID and user namespaces (a sender outside them shows as 0 and
// the overflow IDs, as Linux's scm_recv does).
func seenCred(t *kernel.Task, c unix.Ucred) unix.Ucred {
	u := t.Group().UserNS()
	return unix.Ucred{Pid: t.VisiblePID(c.Pid), Uid: u.MapUID(c.Uid), Gid: u.MapGID(c.Gid)}
}

// sockIdent numbers a new socket (socket:[N]) owned by the caller, as sockfs does.
func sockIdent(t *kernel.Task) vfs.AnonIdent {
	return newAnonIdent(t)
}

// newAnonIdent numbers a new pipe or socket in t's kernel, owned by t's filesystem IDs.
func newAnonIdent(t *kernel.Task) vfs.AnonIdent {
	return kernel.StateOf(t.Kernel(), func(*kernel.Kernel) *vfs.AnonInodes { return &vfs.AnonInodes{} }).New(t.Creds())
}
