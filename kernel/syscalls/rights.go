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
	keep  int // the carrier pipe's read end
}

var rights = struct {
	mu sync.Mutex
	m  map[uint64]*rightsBatch
}{m: make(map[uint64]*rightsBatch)}

// collectLostRights releases batches whose carrier is gone without being received.
func collectLostRights() {
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
func newCarrier(files []*vfs.FileDescription) (int, error) {
	collectLostRights()
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
	rights.m[st.Ino] = &rightsBatch{files: files, keep: p[0]}
	rights.mu.Unlock()
	return p[1], nil
}

// takeCarrier turns a received carrier (closed here) back into its files.
func takeCarrier(fd int) []*vfs.FileDescription {
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil
	}
	rights.mu.Lock()
	b := rights.m[st.Ino]
	delete(rights.m, st.Ino)
	rights.mu.Unlock()
	if b == nil {
		return nil
	}
	unix.Close(b.keep)
	return b.files
}

// readRights parses sendmsg's control data: the files of its SCM_RIGHTS messages (with a
// reference each). SCM_CREDENTIALS is accepted and has no effect here.
func readRights(t *kernel.Task, addr, length uint64) ([]*vfs.FileDescription, error) {
	if length == 0 {
		return nil, nil
	}
	if length > 1<<16 {
		return nil, unix.ENOBUFS
	}
	b := make([]byte, length)
	if _, err := t.CopyIn(addr, b); err != nil {
		return nil, unix.EFAULT
	}
	var files []*vfs.FileDescription
	fail := func(err error) ([]*vfs.FileDescription, error) {
		for _, f := range files {
			f.DecRef()
		}
		return nil, err
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
		default:
			return fail(unix.EINVAL)
		}
		off += (clen + 7) &^ 7
	}
	return files, nil
}

// sendWithRights sends bufs carrying files on an in-sandbox socket.
func sendWithRights(t *kernel.Task, fd *vfs.FileDescription, s *sock.Socket, bufs [][]byte, flags int, files []*vfs.FileDescription) (uint64, error) {
	if !s.Internal() {
		for _, f := range files {
			f.DecRef()
		}
		return 0, unix.EOPNOTSUPP // a host peer could not use sandbox files
	}
	carrier, err := newCarrier(files)
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
func recvWithRights(t *kernel.Task, fd *vfs.FileDescription, s *sock.Socket, bufs [][]byte, flags int, room uint64) (uint64, []byte, int, error) {
	nonblock := flags&unix.MSG_DONTWAIT != 0 || fd.StatusFlags()&unix.O_NONBLOCK != 0
	var n int64
	var carriers []int
	w := newSockWaiter(s, false)
	for {
		var err error
		n, carriers, err = s.RecvCarriers(bufs, flags)
		if err == unix.EAGAIN && !nonblock {
			if werr := w.wait(t, fd, waiter.EventIn); werr != nil {
				return 0, nil, 0, werr
			}
			continue
		}
		if err != nil {
			return 0, nil, 0, err
		}
		break
	}
	var files []*vfs.FileDescription
	for _, c := range carriers {
		files = append(files, takeCarrier(c)...)
	}
	if len(files) == 0 {
		return uint64(n), nil, 0, nil
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
		return uint64(n), nil, msgFlags, nil
	}
	cm := make([]byte, 16+4*len(nums))
	le := binary.LittleEndian
	le.PutUint64(cm[0:], uint64(len(cm)))
	le.PutUint32(cm[8:], unix.SOL_SOCKET)
	le.PutUint32(cm[12:], unix.SCM_RIGHTS)
	for i, num := range nums {
		le.PutUint32(cm[16+4*i:], num)
	}
	return uint64(n), cm, msgFlags, nil
}
