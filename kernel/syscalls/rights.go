package syscalls

import (
	"encoding/binary"
	"sync"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/fs/sock"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// Passing files (SCM_RIGHTS) between sockets inside the sandbox.
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
	le := binary.LittleEndian
	for off := 0; off+16 <= len(b); {
		clen := int(le.Uint64(b[off:]))
		level, typ := int32(le.Uint32(b[off+8:])), int32(le.Uint32(b[off+12:]))
		if clen < 16 || off+clen > len(b) {
			return fail(unix.EINVAL)
		}
		switch {
		case level == unix.SOL_SOCKET && typ == unix.SCM_RIGHTS:
			data := b[off+16 : off+clen]
			if len(data)/4+len(files) > scmMaxFD {
				return fail(unix.EINVAL)
			}
			for i := 0; i+4 <= len(data); i += 4 {
				f, err := getFD(t, uint64(le.Uint32(data[i:])))
				if err != nil {
					return fail(unix.EBADF)
				}
				files = append(files, f)
			}
		case level == unix.SOL_SOCKET && typ == unix.SCM_CREDENTIALS:
			// Only one's own credentials may be claimed, unless privileged (scm_check_creds).
			if clen != 28 {
				return fail(unix.EINVAL)
			}
			d := b[off+16:]
			pid, uid, gid := int32(le.Uint32(d)), le.Uint32(d[4:]), le.Uint32(d[8:])
			c := t.Creds()
			if pid != t.Group().PID && !capable(t, capSysAdmin) ||
				uid != c.UID && uid != c.EUID && uid != c.SUID && !capable(t, capSetuid) ||
				gid != c.GID && gid != c.EGID && gid != c.SGID && !capable(t, capSetgid) {
				return fail(unix.EPERM)
			}
			claimed = &unix.Ucred{Pid: pid, Uid: uid, Gid: gid}
		default:
			return fail(unix.EINVAL)
		}
		off += (clen + 7) &^ 7
	}
	return files, claimed, nil
}

// sendWithRights sends bufs carrying files (and the sender's credentials, when set) on an
// in-sandbox socket.
func sendWithRights(t *kernel.Task, fd *vfs.FileDescription, s *sock.Socket, bufs [][]byte, flags int, files []*vfs.FileDescription, cred *unix.Ucred) (uint64, error) {
	if !s.Internal() {
		for _, f := range files {
			f.DecRef()
		}
		return 0, unix.EOPNOTSUPP // a host peer could not use sandbox files
	}
	carrier, err := rightsOf(t.Kernel()).newCarrier(files, cred)
	if err != nil {
		for _, f := range files {
			f.DecRef()
		}
		return 0, err
	}
	defer unix.Close(carrier)
	nonblock := flags&unix.MSG_DONTWAIT != 0 || fd.StatusFlags()&unix.O_NONBLOCK != 0
	w := newSockWaiter(s, true)
	for {
		n, err := s.SendCarrying(bufs, flags, carrier)
		if err == unix.EAGAIN && !nonblock {
			if werr := w.wait(t, fd, waiter.EventOut); werr != nil {
				return 0, werr
			}
			continue
		}
		if err == unix.EPIPE && flags&unix.MSG_NOSIGNAL == 0 {
			t.Kernel().SendSignal(t, unix.SIGPIPE)
		}
		return uint64(n), err
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
	w := newSockWaiter(s, false)
	for {
		m, cs, err := s.RecvCarriers(bufs, flags)
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
		carriers = cs
		// Reading stops at data that brought descriptors (unix_stream_read_generic).
		if m == 0 || len(cs) > 0 || n >= target {
			break
		}
		bufs = advance(bufs, m)
	}
	var files []*vfs.FileDescription
	var cred *unix.Ucred
	for _, c := range carriers {
		fs, cr := rightsOf(t.Kernel()).takeCarrier(c)
		files = append(files, fs...)
		if cr != nil {
			cred = cr
		}
	}
	if len(files) == 0 {
		return uint64(n), nil, cred, 0, nil
	}
	fit := 0
	if room >= 16 {
		fit = min(len(files), int(room-16)/4)
	}
	msgFlags := 0
	if fit < len(files) {
		msgFlags = unix.MSG_CTRUNC
	}
	var nums []uint32
	for i, f := range files {
		if i < fit {
			if num, err := t.FDs().Install(f, 0, flags&unix.MSG_CMSG_CLOEXEC != 0, nofile(t)); err == nil {
				nums = append(nums, uint32(num))
			} else {
				msgFlags = unix.MSG_CTRUNC
			}
		}
		f.DecRef()
	}
	if len(nums) == 0 {
		return uint64(n), nil, cred, msgFlags, nil
	}
	cm := make([]byte, 16+4*len(nums))
	le := binary.LittleEndian
	le.PutUint64(cm[0:], uint64(len(cm)))
	le.PutUint32(cm[8:], unix.SOL_SOCKET)
	le.PutUint32(cm[12:], unix.SCM_RIGHTS)
	for i, num := range nums {
		le.PutUint32(cm[16+4*i:], num)
	}
	return uint64(n), cm, cred, msgFlags, nil
}
