package syscalls

import (
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/fs/pipe"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// doRead performs a read, blocking (interruptibly) while the file has no data and the
// description is blocking.
func doRead(t *kernel.Task, fd *vfs.FileDescription, dst [][]byte, read func() (int64, error)) (uint64, error) {
	return doReadNowait(t, fd, dst, read, false)
}

// doReadNowait is doRead that, with nowait (preadv2's RWF_NOWAIT), never blocks: a read that
// would wait fails with EAGAIN, as on a non-blocking description.
func doReadNowait(t *kernel.Task, fd *vfs.FileDescription, dst [][]byte, read func() (int64, error), nowait bool) (uint64, error) {
	if !fd.Readable() {
		return 0, unix.EBADF
	}
	if err := ttyReadCheck(t, fd); err != nil {
		return 0, err
	}
	w := fileWaiter(fd, false)
	_, timed := fd.Impl().(timedReader)
	start := time.Now()
	for {
		n, err := read()
		if err == unix.EAGAIN && nowait {
			return 0, unix.EAGAIN
		}
		if err == unix.EAGAIN && fd.StatusFlags()&unix.O_NONBLOCK == 0 && timed {
			expired, werr := ttyWait(t, fd, dst, start)
			if werr != nil {
				return 0, werr
			}
			if expired {
				n, err := fd.Impl().(timedReader).ReadExpired(fd, dst)
				return uint64(n), err
			}
			continue
		}
		if err == unix.EAGAIN && fd.StatusFlags()&unix.O_NONBLOCK == 0 {
			if werr := w.wait(t, fd, waiter.EventIn); werr != nil {
				if werr == unix.EINTR {
					return 0, unix.EINTR
				}
				return 0, werr
			}
			continue
		}
		if err != nil {
			return 0, err
		}
		return uint64(n), nil
	}
}

// doWrite performs a write, blocking while a blocking pipe is full and writing all of a
// blocking stream write, as Linux does for pipes.
func doWrite(t *kernel.Task, fd *vfs.FileDescription, src [][]byte, write func([][]byte) (int64, error)) (uint64, error) {
	return doWriteNowait(t, fd, src, write, false)
}

// doWriteNowait is doWrite that, with nowait (pwritev2's RWF_NOWAIT), never blocks: it
// returns what it wrote, or EAGAIN when it could write nothing.
func doWriteNowait(t *kernel.Task, fd *vfs.FileDescription, src [][]byte, write func([][]byte) (int64, error), nowait bool) (uint64, error) {
	if !fd.Writable() {
		return 0, unix.EBADF
	}
	if err := ttyWriteCheck(t, fd); err != nil {
		return 0, err
	}
	var done int64
	w := fileWaiter(fd, true)
	for {
		n, err := write(src)
		done += n
		if n > 0 {
			src = advance(src, n)
		}
		if err == unix.EPIPE {
			t.Kernel().SendSignal(t, unix.SIGPIPE)
			if done > 0 {
				return uint64(done), nil
			}
			return 0, unix.EPIPE
		}
		if err == unix.EAGAIN && fd.StatusFlags()&unix.O_NONBLOCK == 0 && !nowait {
			if werr := w.wait(t, fd, waiter.EventOut); werr != nil {
				if done > 0 {
					return uint64(done), nil
				}
				return 0, werr
			}
			continue
		}
		if err != nil {
			if done > 0 && err == unix.EAGAIN {
				return uint64(done), nil
			}
			if done > 0 {
				return uint64(done), nil
			}
			return 0, err
		}
		if len(src) == 0 || !fd.IsStream() || fd.StatusFlags()&unix.O_NONBLOCK != 0 || nowait {
			return uint64(done), nil
		}
		if _, isPipe := fd.Impl().(*pipe.End); !isPipe && !isTerminalFile(fd) {
			return uint64(done), nil
		}
	}
}

func advance(bufs [][]byte, n int64) [][]byte {
	for len(bufs) > 0 && n >= int64(len(bufs[0])) {
		n -= int64(len(bufs[0]))
		bufs = bufs[1:]
	}
	if len(bufs) > 0 && n > 0 {
		bufs = append([][]byte{bufs[0][n:]}, bufs[1:]...)
	}
	return bufs
}

func checkFileType(fd *vfs.FileDescription) error {
	if _, ok := fd.Impl().(*vfs.DirFile); ok {
		return unix.EISDIR
	}
	return nil
}

// Read implements read(2).
func Read(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, err := getIOFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if !fd.Readable() {
		return 0, unix.EBADF
	}
	if err := checkFileType(fd); err != nil {
		return 0, err
	}
	if int64(a[2]) < 0 {
		return 0, unix.EINVAL
	}
	dst, err := ranges(t, []iovec{{a[1], a[2]}}, true)
	if err != nil {
		return 0, err
	}
	return doRead(t, fd, dst, func() (int64, error) { return fd.Read(dst) })
}

// Write implements write(2).
func Write(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, err := getIOFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if !fd.Writable() {
		return 0, unix.EBADF
	}
	if int64(a[2]) < 0 {
		return 0, unix.EINVAL
	}
	src, err := ranges(t, []iovec{{a[1], a[2]}}, false)
	if err != nil {
		return 0, err
	}
	if src, err = fsizeCut(t, fd, src, -1, false); err != nil {
		return 0, err
	}
	if total(src) > 0 {
		killPrivs(t, fd)
	}
	if tw, ok := fd.Impl().(kernel.TaskWriter); ok {
		return writeBy(t, tw, fd.Offset(), src)
	}
	return doWrite(t, fd, src, fd.Write)
}

// writeBy writes to a file whose writes depend on the writer (/proc/PID/uid_map).
func writeBy(t *kernel.Task, tw kernel.TaskWriter, off int64, src [][]byte) (uint64, error) {
	var b []byte
	for _, s := range src {
		b = append(b, s...)
	}
	n, err := tw.WriteBy(t, off, b)
	return uint64(n), err
}

// Pread64 implements pread64(2).
func Pread64(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, err := getIOFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if !fd.Readable() {
		return 0, unix.EBADF
	}
	if err := checkFileType(fd); err != nil {
		return 0, err
	}
	off := int64(a[3])
	if off < 0 || int64(a[2]) < 0 {
		return 0, unix.EINVAL
	}
	if fd.IsStream() {
		return 0, unix.ESPIPE
	}
	dst, err := ranges(t, []iovec{{a[1], a[2]}}, true)
	if err != nil {
		return 0, err
	}
	return doRead(t, fd, dst, func() (int64, error) { return fd.PRead(dst, off) })
}

// Pwrite64 implements pwrite64(2).
func Pwrite64(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, err := getIOFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if !fd.Writable() {
		return 0, unix.EBADF
	}
	off := int64(a[3])
	if off < 0 || int64(a[2]) < 0 {
		return 0, unix.EINVAL
	}
	if fd.IsStream() {
		return 0, unix.ESPIPE
	}
	src, err := ranges(t, []iovec{{a[1], a[2]}}, false)
	if err != nil {
		return 0, err
	}
	if src, err = fsizeCut(t, fd, src, off, false); err != nil {
		return 0, err
	}
	if total(src) > 0 {
		killPrivs(t, fd)
	}
	return doWrite(t, fd, src, func(s [][]byte) (int64, error) { return fd.PWrite(s, off) })
}

func vectorIO(t *kernel.Task, a kernel.SyscallArgs, write, positional bool, offArg uint64) (uint64, error) {
	return vectorIOFlags(t, a, write, positional, offArg, 0)
}

// vectorIOFlags is readv/writev and their positional forms, with preadv2/pwritev2's RWF_*
// flags (already checked to be known).
func vectorIOFlags(t *kernel.Task, a kernel.SyscallArgs, write, positional bool, offArg uint64, rwf uint64) (uint64, error) {
	fd, err := getIOFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if write && !fd.Writable() || !write && !fd.Readable() {
		return 0, unix.EBADF
	}
	if !write {
		if err := checkFileType(fd); err != nil {
			return 0, err
		}
	}
	iovs, err := readIovecs(t, a[1], a[2])
	if err != nil {
		return 0, err
	}
	off := int64(offArg)
	if positional && off == -1 {
		positional = false // preadv2/pwritev2 with offset -1 use the file offset
	}
	if positional {
		if off < 0 {
			return 0, unix.EINVAL
		}
		if fd.IsStream() {
			return 0, unix.ESPIPE
		}
	}
	bufs, err := ranges(t, iovs, !write)
	if err != nil {
		return 0, err
	}
	if len(bufs) == 0 {
		return 0, nil
	}
	nowait := rwf&unix.RWF_NOWAIT != 0
	if write {
		mode := vfs.AppendAsOpened
		switch {
		case rwf&unix.RWF_APPEND != 0:
			mode = vfs.AppendAlways
		case rwf&rwfNoAppend != 0:
			mode = vfs.AppendNever
		}
		at := int64(-1)
		if positional {
			at = off
		}
		if bufs, err = fsizeCut(t, fd, bufs, at, mode == vfs.AppendAlways); err != nil {
			return 0, err
		}
		if total(bufs) > 0 {
			killPrivs(t, fd)
		}
		if mode != vfs.AppendAsOpened {
			if !positional {
				off = -1
			}
			return doWriteNowait(t, fd, bufs, func(s [][]byte) (int64, error) { return fd.WriteMode(s, off, mode) }, nowait)
		}
		if positional {
			return doWriteNowait(t, fd, bufs, func(s [][]byte) (int64, error) { return fd.PWrite(s, off) }, nowait)
		}
		return doWriteNowait(t, fd, bufs, fd.Write, nowait)
	}
	if positional {
		return doReadNowait(t, fd, bufs, func() (int64, error) { return fd.PRead(bufs, off) }, nowait)
	}
	return doReadNowait(t, fd, bufs, func() (int64, error) { return fd.Read(bufs) }, nowait)
}

// Readv implements readv(2).
func Readv(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return vectorIO(t, a, false, false, 0)
}

// Writev implements writev(2).
func Writev(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return vectorIO(t, a, true, false, 0)
}

// Preadv implements preadv(2).
func Preadv(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return vectorIO(t, a, false, true, a[3])
}

// Pwritev implements pwritev(2).
func Pwritev(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return vectorIO(t, a, true, true, a[3])
}

// rwfNoAppend is RWF_NOAPPEND (Linux 6.9): a pwritev2 at its offset even with O_APPEND.
const rwfNoAppend = 0x20

// rwfSupported are the preadv2/pwritev2 flags: RWF_HIPRI, RWF_DSYNC and RWF_SYNC are hints
// (every write here is as durable as it gets), RWF_NOWAIT makes the call non-blocking,
// RWF_APPEND and RWF_NOAPPEND choose where a write goes.
const rwfSupported = unix.RWF_HIPRI | unix.RWF_DSYNC | unix.RWF_SYNC | unix.RWF_NOWAIT | unix.RWF_APPEND | rwfNoAppend

// Preadv2 implements preadv2(2).
func Preadv2(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if a[5]&^rwfSupported != 0 {
		return 0, unix.EOPNOTSUPP
	}
	return vectorIOFlags(t, a, false, true, a[3], a[5])
}

// Pwritev2 implements pwritev2(2).
func Pwritev2(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if a[5]&^rwfSupported != 0 {
		return 0, unix.EOPNOTSUPP
	}
	return vectorIOFlags(t, a, true, true, a[3], a[5])
}

// Lseek implements lseek(2).
func Lseek(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, err := getIOFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if a[2] > unix.SEEK_HOLE {
		return 0, unix.EINVAL
	}
	n, err := fd.Seek(int64(a[1]), int(a[2]))
	return uint64(n), err
}

// Close implements close(2).
func Close(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if fd, err := getFD(t, a[0]); err == nil {
		// Closing any descriptor of a file drops the process's record locks on it.
		if in := fd.Inode(); in != nil {
			locksOf(t.Kernel()).release(t.Group(), in)
		}
		fd.DecRef()
	}
	return 0, t.FDs().Remove(int32(a[0]))
}

// CloseRange implements close_range(2).
func CloseRange(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	lo, hi, flags := uint32(a[0]), uint32(a[1]), a[2]
	if flags&^(unix.CLOSE_RANGE_CLOEXEC|unix.CLOSE_RANGE_UNSHARE) != 0 || lo > hi {
		return 0, unix.EINVAL
	}
	t.FDs().RemoveRange(lo, hi, flags&unix.CLOSE_RANGE_CLOEXEC != 0)
	return 0, nil
}

func nofile(t *kernel.Task) int32 {
	soft, _ := t.Limit(unix.RLIMIT_NOFILE)
	if soft > 1<<20 {
		soft = 1 << 20
	}
	return int32(soft)
}

// Dup implements dup(2).
func Dup(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	n, err := t.FDs().Install(fd, 0, false, nofile(t))
	return uint64(n), err
}

// Dup2 implements dup2(2).
func Dup2(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if a[0] == a[1] {
		return a[1], nil
	}
	if int64(int32(a[1])) != int64(a[1]) || int32(a[1]) < 0 || int32(a[1]) >= nofile(t) {
		return 0, unix.EBADF
	}
	t.FDs().InstallAt(int32(a[1]), fd, false)
	return a[1], nil
}

// Dup3 implements dup3(2).
func Dup3(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if a[2]&^unix.O_CLOEXEC != 0 {
		return 0, unix.EINVAL
	}
	if a[0] == a[1] {
		return 0, unix.EINVAL
	}
	fd, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if int32(a[1]) < 0 || int32(a[1]) >= nofile(t) {
		return 0, unix.EBADF
	}
	t.FDs().InstallAt(int32(a[1]), fd, a[2]&unix.O_CLOEXEC != 0)
	return a[1], nil
}

// Pipe implements pipe(2).
func Pipe(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) { return pipe2(t, a[0], 0) }

// Pipe2 implements pipe2(2).
func Pipe2(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) { return pipe2(t, a[0], a[1]) }

func pipe2(t *kernel.Task, addr, flags uint64) (uint64, error) {
	if flags&^(unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_DIRECT) != 0 {
		return 0, unix.EINVAL
	}
	p := pipe.New()
	id := newAnonIdent(t)
	// O_DIRECT (packet mode) is the writer's: Linux leaves it off the read end.
	st := int(flags & unix.O_NONBLOCK)
	r := vfs.NewNumberedFileDescription(p.Open(unix.O_RDONLY), "pipe", id, unix.O_RDONLY|st)
	w := vfs.NewNumberedFileDescription(p.Open(unix.O_WRONLY), "pipe", id, unix.O_WRONLY|st|int(flags&unix.O_DIRECT))
	defer r.DecRef()
	defer w.DecRef()
	cloexec := flags&unix.O_CLOEXEC != 0
	fds := t.FDs()
	rn, err := fds.Install(r, 0, cloexec, nofile(t))
	if err != nil {
		return 0, err
	}
	wn, err := fds.Install(w, 0, cloexec, nofile(t))
	if err != nil {
		fds.Remove(rn)
		return 0, err
	}
	// Both descriptors in one copy, as Linux's copy_to_user of int fd[2].
	b := abi.AppendU32(abi.AppendU32(make([]byte, 0, 8), uint32(rn)), uint32(wn))
	if _, err := t.CopyOut(addr, b); err != nil {
		fds.Remove(rn)
		fds.Remove(wn)
		return 0, unix.EFAULT
	}
	return 0, nil
}

// Fsync implements fsync(2) and fdatasync(2).
func Fsync(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, err := getIOFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if s, ok := fd.Impl().(vfs.Syncer); ok {
		return 0, s.Sync()
	}
	if fd.IsStream() {
		return 0, unix.EINVAL
	}
	return 0, nil
}

// Sync implements sync(2): the gofer's files are the host's, flushed by the host.
func Sync(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) { return 0, nil }

// Syncfs implements syncfs(2).
func Syncfs(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	fd.DecRef()
	return 0, nil
}

// Fallocate implements fallocate(2).
func Fallocate(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, err := getIOFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	mode, off, length := uint32(a[1]), int64(a[2]), int64(a[3])
	if off < 0 || length <= 0 {
		return 0, unix.EINVAL
	}
	if !fd.Writable() {
		return 0, unix.EBADF
	}
	if fd.IsStream() {
		return 0, unix.ESPIPE
	}
	if in := fd.Inode(); in != nil {
		if at, err := in.Stat(); err == nil && at.IsDir() {
			return 0, unix.EISDIR
		}
	}
	if fd.VirtualDentry().Ok() && fd.VirtualDentry().Mount.ReadOnly() {
		return 0, unix.EROFS
	}
	al, ok := fd.Impl().(vfs.Allocator)
	if !ok {
		return 0, unix.EOPNOTSUPP
	}
	if off+length > 0 {
		// Reaching past the file's end and RLIMIT_FSIZE (shmem_fallocate asks
		// inode_newsize_ok even with FALLOC_FL_KEEP_SIZE).
		if lim, _ := t.Limit(unix.RLIMIT_FSIZE); uint64(off+length) > lim {
			if at, err := fd.Inode().Stat(); err == nil && off+length > at.Size {
				t.Kernel().SendSignal(t, unix.SIGXFSZ)
				return 0, unix.EFBIG
			}
		}
	}
	killPrivs(t, fd)
	return 0, al.Allocate(mode, off, length)
}

// killPrivs clears the set-ID bits of the file fd names before an unprivileged task
// modifies it (write, truncate, fallocate: Linux's file_remove_privs), where the kernel
// keeps the file's mode itself (vfs.PrivKiller).
func killPrivs(t *kernel.Task, fd *vfs.FileDescription) {
	if in := fd.Inode(); in != nil {
		killInodePrivs(t, in)
	}
}

func killInodePrivs(t *kernel.Task, in vfs.Inode) {
	if pk, ok := in.(vfs.PrivKiller); ok && t.Creds().FSUID != 0 {
		pk.KillPrivs(t.Creds())
	}
}

// fsizeCut applies RLIMIT_FSIZE to a write of src to a regular file at off (-1: at the
// file offset, or at the end when appending or with O_APPEND), as Linux's
// generic_write_check_limits: a write starting at or past the limit raises SIGXFSZ and
// fails with EFBIG, one crossing it is cut short there.
func fsizeCut(t *kernel.Task, fd *vfs.FileDescription, src [][]byte, off int64, appending bool) ([][]byte, error) {
	n := int64(total(src))
	if n == 0 {
		return src, nil
	}
	if off < 0 {
		if appending || fd.StatusFlags()&unix.O_APPEND != 0 {
			off = -2 // the end, which fsizeRoom stats for only when there is a limit
		} else {
			off = -1
		}
	}
	room, err := fsizeRoom(t, fd, off, n)
	if err != nil || room == n {
		return src, err
	}
	var out [][]byte
	for _, b := range src {
		if room <= 0 {
			break
		}
		if int64(len(b)) > room {
			b = b[:room]
		}
		out = append(out, b)
		room -= int64(len(b))
	}
	return out, nil
}

// fsizeRoom is Linux's generic_write_check_limits for a write of n bytes to the regular
// file fd at off (-1: its offset; -2: its end): how many of them RLIMIT_FSIZE lets through,
// or, when off is at or past the limit, SIGXFSZ and EFBIG (even for n == 0, as
// copy_file_range asks). Files that are not regular ones have no limit.
func fsizeRoom(t *kernel.Task, fd *vfs.FileDescription, off, n int64) (int64, error) {
	return fsizeRoomLoop(t, fd, off, n, false)
}

// fsizeRoomLoop is fsizeRoom for the splice paths (sendfile, splice), whose write loop
// (iter_file_splice_write) tries again after a write the limit cut short and gets the
// signal then: with looping, a cut write raises SIGXFSZ too.
func fsizeRoomLoop(t *kernel.Task, fd *vfs.FileDescription, off, n int64, looping bool) (int64, error) {
	lim, _ := t.Limit(unix.RLIMIT_FSIZE)
	if lim >= 1<<63 || fd.IsStream() {
		return n, nil
	}
	in := fd.Inode()
	if in == nil {
		return n, nil
	}
	a, err := in.Stat()
	if err != nil || a.Type() != unix.S_IFREG {
		return n, nil
	}
	switch off {
	case -1:
		off = fd.Offset()
	case -2:
		off = a.Size
	}
	if uint64(off) >= lim {
		t.Kernel().SendSignal(t, unix.SIGXFSZ)
		return 0, unix.EFBIG
	}
	room := min(n, int64(lim)-off)
	if looping && room < n {
		t.Kernel().SendSignal(t, unix.SIGXFSZ)
	}
	return room, nil
}
