package syscalls

import (
	"sync"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/fs/host"
	"github.com/sbx-dev/sbx/kernel/fs/pipe"
	"github.com/sbx-dev/sbx/kernel/fs/sock"
	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// Passing files (SCM_RIGHTS) between sockets inside the sandbox, and to and from host
// peers reached through the socket broker (at the end of this file).
//
// Sandbox files are kernel objects, not host FDs, so the kernel sends a stand-in: the
// write end of a fresh host pipe (the carrier) rides with the message over the host
// socketpair, and the files it stands for wait in rights, keyed by the pipe's inode. The
// host kernel thus keeps them at exactly the right place in the stream. The receiving side
// turns a carrier back into its files. A carrier that is never received (the socket is
// closed with the message unread) is noticed when the pipe's read end, which the kernel
// keeps, sees no writer left; its files are then released.

// scmMaxFD is SCM_MAX_FD: the most files one message may carry.
const scmMaxFD = 253

type rightsBatch struct {
	files []*vfs.FileDescription
	// cred, when set, is the sender's SCM_CREDENTIALS for a receiver with SO_PASSCRED
	// (when it differs from the connection's peer credentials).
	cred *unix.Ucred
	keep int // the carrier pipe's read end
}

// rightsTable holds a kernel's SCM_RIGHTS batches in flight, by their carrier's inode.
type rightsTable struct {
	mu sync.Mutex
	m  map[uint64]*rightsBatch // protected by mu
}

func rightsOf(k *kernel.Kernel) *rightsTable {
	return kernel.StateOf(k, func(*kernel.Kernel) *rightsTable {
		return &rightsTable{m: make(map[uint64]*rightsBatch)}
	})
}

// collectLostRights releases batches whose carrier is gone without being received.
func (rights *rightsTable) collectLostRights() {
	rights.mu.Lock()
	var lost []*rightsBatch
	for ino, b := range rights.m {
		pfd := []unix.PollFd{{Fd: int32(b.keep), Events: unix.POLLIN}}
		if n, _ := unix.Poll(pfd, 0); n > 0 && pfd[0].Revents&unix.POLLHUP != 0 {
			lost = append(lost, b)
			delete(rights.m, ino)
		}
	}
	rights.mu.Unlock()
	for _, b := range lost {
		b.release()
	}
}

func (b *rightsBatch) release() {
	unix.Close(b.keep)
	for _, f := range b.files {
		f.DecRef()
	}
}

// newCarrier registers files (the caller's references pass to the batch) and returns the
// carrier's host FD, which the caller closes once sent.
func (rights *rightsTable) newCarrier(files []*vfs.FileDescription, cred *unix.Ucred) (int, error) {
	rights.collectLostRights()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return -1, unix.ENOMEM
	}
	var st unix.Stat_t
	if err := unix.Fstat(p[1], &st); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return -1, unix.ENOMEM
	}
	rights.mu.Lock()
	rights.m[st.Ino] = &rightsBatch{files: files, cred: cred, keep: p[0]}
	rights.mu.Unlock()
	return p[1], nil
}

// takeCarrier turns a received carrier (closed here) back into its files and credentials.
func (rights *rightsTable) takeCarrier(fd int) ([]*vfs.FileDescription, *unix.Ucred) {
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, nil
	}
	rights.mu.Lock()
	b := rights.m[st.Ino]
	delete(rights.m, st.Ino)
	rights.mu.Unlock()
	if b == nil {
		return nil, nil
	}
	unix.Close(b.keep)
	return b.files, b.cred
}

// peekCarrier is takeCarrier for a carrier received with MSG_PEEK (a host duplicate,
// closed here): the message stays queued with its files, and the peeker gets references
// of its own to them, as Linux's peek duplicates them (scm_fp_dup).
func (rights *rightsTable) peekCarrier(fd int) ([]*vfs.FileDescription, *unix.Ucred) {
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, nil
	}
	rights.mu.Lock()
	defer rights.mu.Unlock()
	b := rights.m[st.Ino]
	if b == nil {
		return nil, nil
	}
	files := make([]*vfs.FileDescription, len(b.files))
	for i, f := range b.files {
		f.IncRef()
		files[i] = f
	}
	return files, b.cred
}

// readRights parses sendmsg's control data: the files of its SCM_RIGHTS messages (with a
// reference each) and the credentials an SCM_CREDENTIALS message claims (checked).
func readRights(t *kernel.Task, addr, length uint64) ([]*vfs.FileDescription, *unix.Ucred, error) {
	if length == 0 {
		return nil, nil, nil
	}
	if length > 1<<16 {
		return nil, nil, unix.ENOBUFS
	}
	b := make([]byte, length)
	if _, err := t.CopyIn(addr, b); err != nil {
		return nil, nil, unix.EFAULT
	}
	var files []*vfs.FileDescription
	var claimed *unix.Ucred
	fail := func(err error) ([]*vfs.FileDescription, *unix.Ucred, error) {
		for _, f := range files {
			f.DecRef()
		}
		return nil, nil, err
	}
	for off := 0; off+abi.SizeofCmsghdr <= len(b); {
		var h abi.Cmsghdr
		h.Decode(b[off:])
		clen, level, typ := int(h.Len), h.Level, h.Type
		if h.Len > uint64(len(b)) || clen < abi.SizeofCmsghdr || off+clen > len(b) {
			return fail(unix.EINVAL)
		}
		switch {
		case level == unix.SOL_SOCKET && typ == unix.SCM_RIGHTS:
			data := b[off+abi.SizeofCmsghdr : off+clen]
			if len(data)/4+len(files) > scmMaxFD {
				return fail(unix.EINVAL)
			}
			for i := 0; i+4 <= len(data); i += 4 {
				f, err := getFD(t, uint64(abi.U32(data[i:])))
				if err != nil {
					return fail(unix.EBADF)
				}
				files = append(files, f)
			}
		case level == unix.SOL_SOCKET && typ == unix.SCM_CREDENTIALS:
			// Only one's own credentials may be claimed, unless privileged (scm_check_creds).
			if clen != abi.CmsgLen(abi.SizeofUcred) {
				return fail(unix.EINVAL)
			}
			var uc abi.Ucred
			uc.Decode(b[off+abi.SizeofCmsghdr:])
			pid, uid, gid := uc.PID, uc.UID, uc.GID
			// The claim is in the sender's namespaces' numbers; sockets keep the root's.
			if pid == t.PIDOf(t.Group()) {
				pid = t.Group().PID
			} else if r := t.RootPID(pid); r != 0 {
				pid = r
			}
			u := t.Group().UserNS()
			if r, ok := u.UnmapUID(uid); ok {
				uid = r
			}
			if r, ok := u.UnmapGID(gid); ok {
				gid = r
			}
			c := t.Creds()
			if pid != t.Group().PID && !capable(t, capSysAdmin) ||
				uid != c.UID && uid != c.EUID && uid != c.SUID && !capable(t, capSetuid) ||
				gid != c.GID && gid != c.EGID && gid != c.SGID && !capable(t, capSetgid) {
				return fail(unix.EPERM)
			}
			claimed = &unix.Ucred{Pid: pid, Uid: uid, Gid: gid}
		case level != unix.SOL_SOCKET:
			// Another level's message means nothing to AF_UNIX: skipped (__scm_send).
		default:
			return fail(unix.EINVAL)
		}
		off += (clen + 7) &^ 7
	}
	return files, claimed, nil
}

// sendWithRights sends bufs carrying files (and the sender's credentials, when set) on an
// in-sandbox socket, or the files' host FDs to a host peer (hostRights).
func sendWithRights(t *kernel.Task, fd *vfs.FileDescription, s *sock.Socket, bufs [][]byte, flags int, files []*vfs.FileDescription, cred *unix.Ucred) (uint64, error) {
	if !s.Internal() {
		return sendHostRights(t, fd, s, bufs, flags, files)
	}
	if s.Type == unix.SOCK_STREAM && total(bufs) == 0 {
		// A stream sends files with data only: nothing to send, nothing sent
		// (unix_stream_sendmsg).
		for _, f := range files {
			f.DecRef()
		}
		return 0, nil
	}
	carrier, err := rightsOf(t.Kernel()).newCarrier(files, cred)
	if err != nil {
		for _, f := range files {
			f.DecRef()
		}
		return 0, err
	}
	defer unix.Close(carrier)
	n, err := sendWaiting(t, fd, s, flags, func() (int64, error) { return s.SendCarrying(bufs, flags, carrier) })
	return uint64(n), err
}

// sendWaiting runs send until it no longer says EAGAIN, waiting for room in between unless
// the send is non-blocking, and raises SIGPIPE for EPIPE unless MSG_NOSIGNAL.
func sendWaiting(t *kernel.Task, fd *vfs.FileDescription, s *sock.Socket, flags int, send func() (int64, error)) (int64, error) {
	nonblock := flags&unix.MSG_DONTWAIT != 0 || fd.StatusFlags()&unix.O_NONBLOCK != 0
	w := newSockWaiter(s, true)
	for {
		n, err := send()
		if err == unix.EAGAIN && !nonblock {
			if werr := w.wait(t, fd, waiter.EventOut); werr != nil {
				return 0, werr
			}
			continue
		}
		if err == unix.EPIPE && flags&unix.MSG_NOSIGNAL == 0 {
			t.Kernel().SendSignal(t, unix.SIGPIPE)
		}
		return n, err
	}
}

// recvWithRights receives into bufs and installs the files that came along; it returns
// the control data to hand back (SCM_RIGHTS, at most room bytes of it) and MSG_CTRUNC
// when not all of them fitted (those are closed, as on Linux).
func recvWithRights(t *kernel.Task, fd *vfs.FileDescription, s *sock.Socket, bufs [][]byte, flags int, room uint64) (uint64, []byte, *unix.Ucred, int, error) {
	nonblock := flags&unix.MSG_DONTWAIT != 0 || fd.StatusFlags()&unix.O_NONBLOCK != 0
	target := recvTarget(s, bufs, flags, nonblock)
	var n int64
	var carriers []int
	var msgFlags int
	internal := s.Internal()
	// A message from inside carries one carrier; one from a host peer up to as many
	// files as the app left room for (the host closes the rest and says MSG_CTRUNC).
	maxFDs := 8
	if !internal {
		maxFDs = 0
		if room >= 16 {
			maxFDs = min(scmMaxFD, int(room-16)/4)
		}
	}
	w := newSockWaiter(s, false)
	for {
		m, cs, mf, err := s.RecvCarriers(bufs, flags, maxFDs)
		if err == unix.EAGAIN && !nonblock {
			if werr := w.wait(t, fd, waiter.EventIn); werr != nil {
				if n > 0 {
					break // a signal or timeout after part of the target
				}
				return 0, nil, nil, 0, werr
			}
			continue
		}
		if err != nil {
			if n > 0 {
				break
			}
			return 0, nil, nil, 0, err
		}
		n += m
		carriers, msgFlags = cs, mf
		// Reading stops at data that brought descriptors (unix_stream_read_generic).
		if m == 0 || len(cs) > 0 || mf != 0 || n >= target {
			break
		}
		bufs = advance(bufs, m)
	}
	var files []*vfs.FileDescription
	var cred *unix.Ucred
	for _, c := range carriers {
		if !internal {
			files = append(files, receivedHostFile(c, t.MM().MemoryFile())) // a host peer's file, the app's now
			continue
		}
		take := rightsOf(t.Kernel()).takeCarrier
		if flags&unix.MSG_PEEK != 0 {
			take = rightsOf(t.Kernel()).peekCarrier
		}
		fs, cr := take(c)
		files = append(files, fs...)
		if cr != nil {
			cred = cr
		}
	}
	if len(files) == 0 {
		return uint64(n), nil, cred, msgFlags, nil
	}
	fit := 0
	if room >= 16 {
		fit = min(len(files), int(room-16)/4)
	}
	if fit < len(files) {
		msgFlags |= unix.MSG_CTRUNC
	}
	var nums []uint32
	for i, f := range files {
		if i < fit {
			if num, err := t.FDs().Install(f, 0, flags&unix.MSG_CMSG_CLOEXEC != 0, nofile(t)); err == nil {
				nums = append(nums, uint32(num))
			} else {
				msgFlags |= unix.MSG_CTRUNC
			}
		}
		f.DecRef()
	}
	if len(nums) == 0 {
		return uint64(n), nil, cred, msgFlags, nil
	}
	cm := make([]byte, abi.CmsgLen(4*len(nums)))
	(&abi.Cmsghdr{Len: uint64(len(cm)), Level: unix.SOL_SOCKET, Type: unix.SCM_RIGHTS}).Encode(cm)
	for i, num := range nums {
		abi.PutU32(cm[abi.SizeofCmsghdr+4*i:], num)
	}
	return uint64(n), cm, cred, msgFlags, nil
}

// Passing files to and from host peers (a Wayland compositor, a sound server) on brokered
// sockets. A host peer gets host FDs: the file's own for files backed by one
// (vfs.HostBacked: host-backed memfds and /dev/shm files, files received from host peers,
// brokered sockets, host files opened read-only), a pumped host pipe for a pipe end
// (pipe.Export), and nothing else: a kernel object with no host form (a tmpfs file, an
// eventfd, a socket whose peer is inside) fails the whole sendmsg with EOPNOTSUPP and
// nothing is sent. Files received from host peers become host files (host.Received):
// pipes and sockets read, write and poll; memfds and regular files map (shared mappings
// map the host file itself, private ones are copies).

// hostRights returns the host FDs that stand for files to a host peer, and those of them
// that are the caller's to close once sent.
func hostRights(files []*vfs.FileDescription) (fds, owned []int, err error) {
	for _, f := range files {
		if f.IsPath() {
			err = unix.EOPNOTSUPP // an O_PATH file would give the peer a handle on a path
			break
		}
		if hb, ok := f.Impl().(vfs.HostBacked); ok {
			if hfd, ok := hb.HostBackingFD(); ok {
				fds = append(fds, hfd)
				continue
			}
		}
		if e, ok := f.Impl().(*pipe.End); ok {
			var hfd int
			if hfd, err = pipe.Export(f, e); err == nil {
				fds, owned = append(fds, hfd), append(owned, hfd)
				continue
			}
			break
		}
		err = unix.EOPNOTSUPP
		break
	}
	if err != nil {
		for _, hfd := range owned {
			unix.Close(hfd)
		}
		return nil, nil, err
	}
	return fds, owned, nil
}

// sendHostRights sends bufs with files to a host peer: the files go with the first bytes
// sent; a blocking send then sends the rest as usual. The files' references are dropped.
func sendHostRights(t *kernel.Task, fd *vfs.FileDescription, s *sock.Socket, bufs [][]byte, flags int, files []*vfs.FileDescription) (uint64, error) {
	defer func() {
		for _, f := range files {
			f.DecRef()
		}
	}()
	fds, owned, err := hostRights(files)
	if err != nil {
		return 0, err
	}
	defer func() {
		for _, hfd := range owned {
			unix.Close(hfd)
		}
	}()
	n, err := sendWaiting(t, fd, s, flags, func() (int64, error) { return s.SendRights(bufs, flags, fds) })
	if err != nil {
		return 0, err
	}
	nonblock := flags&unix.MSG_DONTWAIT != 0 || fd.StatusFlags()&unix.O_NONBLOCK != 0
	if rest := advance(bufs, n); len(rest) > 0 && !nonblock {
		m, _ := sockIO(t, fd, s, rest, flags, true)
		return uint64(n) + m, nil
	}
	return uint64(n), nil
}

// receivedHostFile wraps a host FD a host peer passed: an AF_UNIX stream socket that is
// not listening becomes a socket the app can send and receive on (with files, as on a
// brokered one), anything else a host file.
func receivedHostFile(fd int, mf *mm.MemoryFile) *vfs.FileDescription {
	dom, err1 := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	typ, err2 := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	listening, err3 := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	if err1 == nil && err2 == nil && err3 == nil && dom == unix.AF_UNIX && typ == unix.SOCK_STREAM && listening == 0 {
		flags := unix.O_RDWR
		if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err == nil {
			flags |= fl & unix.O_NONBLOCK
		}
		return vfs.NewAnonFileDescription(sock.Received(fd), "socket:[0]", flags)
	}
	return host.Received(fd, mf)
}
