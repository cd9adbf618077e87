package syscalls

import (
	"github.com/sbx-dev/sbx/kernel/waiter"
	"sync"
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/fs/pipe"
	"github.com/sbx-dev/sbx/kernel/fs/tmpfs"
	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// Fcntl implements fcntl(2).
func Fcntl(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fds := t.FDs()
	fd, cloexec, err := fds.Get(int32(a[0]))
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	cmd := int(a[1])
	if fd.IsPath() {
		switch cmd {
		case unix.F_DUPFD, unix.F_DUPFD_CLOEXEC, unix.F_GETFD, unix.F_SETFD, unix.F_GETFL:
		default:
			return 0, unix.EBADF
		}
	}
	switch cmd {
	case unix.F_DUPFD, unix.F_DUPFD_CLOEXEC:
		min := int32(a[2])
		if min < 0 || min >= nofile(t) {
			return 0, unix.EINVAL
		}
		n, err := fds.Install(fd, min, cmd == unix.F_DUPFD_CLOEXEC, nofile(t))
		return uint64(n), err
	case unix.F_GETFD:
		if cloexec {
			return unix.FD_CLOEXEC, nil
		}
		return 0, nil
	case unix.F_SETFD:
		return 0, fds.SetCloexec(int32(a[0]), a[2]&unix.FD_CLOEXEC != 0)
	case unix.F_GETFL:
		return uint64(fd.StatusFlags()), nil
	case unix.F_SETFL:
		// setfl: O_NOATIME is the owner's (or a privileged task's) to ask for.
		if uint32(a[2])&unix.O_NOATIME != 0 && fd.StatusFlags()&unix.O_NOATIME == 0 {
			if in := fd.Inode(); in != nil {
				if at, err := in.Stat(); err == nil && t.Creds().FSUID != 0 && t.Creds().FSUID != at.UID {
					return 0, unix.EPERM
				}
			}
		}
		async := fd.StatusFlags() & unix.O_ASYNC
		fd.SetStatusFlags(uint32(a[2]))
		if fd.StatusFlags()&unix.O_ASYNC != async {
			asyncUpdate(t, fd, int32(a[0]))
		}
		return 0, nil
	case unix.F_GETLK, unix.F_SETLK, unix.F_SETLKW, unix.F_OFD_GETLK, unix.F_OFD_SETLK, unix.F_OFD_SETLKW:
		return posixLock(t, fd, cmd, a[2])
	case unix.F_GETPIPE_SZ:
		if e, ok := fd.Impl().(*pipe.End); ok {
			return uint64(e.PipeOf().Size()), nil
		}
		return 0, unix.EBADF
	case unix.F_SETPIPE_SZ:
		if e, ok := fd.Impl().(*pipe.End); ok {
			n, err := e.PipeOf().SetSize(uint64(uint32(a[2])), capable(t, capSysResource))
			return uint64(n), err
		}
		return 0, unix.EBADF
	case unix.F_GETOWN, unix.F_SETOWN, unix.F_GETSIG, unix.F_SETSIG, fGetownEx, fSetownEx:
		return fcntlOwner(t, fd, int(cmd), a[2])
	case unix.F_ADD_SEALS, unix.F_GET_SEALS:
		return fcntlSeals(t, fd, int(a[1]), uint32(a[2]))
	case unix.F_SETLEASE, unix.F_GETLEASE, unix.F_NOTIFY:
		return 0, unix.EINVAL
	}
	return 0, unix.EINVAL
}

// sealer is a file with F_SEAL_* seals (tmpfs and memfd files).
type sealer interface {
	Seals() (uint32, error)
	AddSeals(uint32) error
}

// fcntlSeals implements F_ADD_SEALS and F_GET_SEALS: EINVAL for files without seals,
// EPERM to add seals through a descriptor not open for writing, EBUSY for F_SEAL_WRITE
// while a process maps the file shared and writable (memfd_create(2)).
func fcntlSeals(t *kernel.Task, fd *vfs.FileDescription, cmd int, seals uint32) (uint64, error) {
	s, ok := fd.Inode().(sealer)
	if !ok {
		s, ok = fd.Impl().(sealer) // a memfd received from a host peer
	}
	if !ok || fd.IsPath() {
		return 0, unix.EINVAL
	}
	if cmd == unix.F_GET_SEALS {
		v, err := s.Seals()
		return uint64(v), err
	}
	if !fd.Writable() {
		return 0, unix.EPERM
	}
	if seals&tmpfs.SealWrite != 0 {
		if cur, err := s.Seals(); err == nil && cur&tmpfs.SealSeal == 0 {
			if mp, ok := fd.Impl().(interface{ MapSource() mm.Source }); ok && t.Kernel().WritableSharedMapped(mp.MapSource()) {
				return 0, unix.EBUSY
			}
		}
	}
	return 0, s.AddSeals(seals)
}

// Record locks live in the kernel and only conflict within the sandbox. They are keyed by
// inode; POSIX locks belong to the process, OFD locks to the open file description.
type lockRange struct {
	owner      any
	start, end int64 // end exclusive; -1 = to EOF
	write      bool
	pid        int32
}

// lockTable is one kernel's record locks and flocks (kernel.StateOf), so two sandboxes in
// one process never see each other's locks.
type lockTable struct {
	mu sync.Mutex
	// records are the fcntl record locks by inode. Protected by mu.
	records map[vfs.Inode][]lockRange
	// flocks are the flock(2) locks by inode. Protected by mu.
	flocks map[vfs.Inode][]flockHolder
	// queue wakes waiters (F_SETLKW, blocking flock) whenever locks are released.
	queue waiter.Queue
}

// locksOf returns k's lock table; the first use registers the exit hook that drops an
// exited process's record locks.
func locksOf(k *kernel.Kernel) *lockTable {
	return kernel.StateOf(k, func(k *kernel.Kernel) *lockTable {
		lt := &lockTable{records: map[vfs.Inode][]lockRange{}, flocks: map[vfs.Inode][]flockHolder{}}
		k.OnProcessExit(func(tg *kernel.ThreadGroup) { lt.release(tg, nil) })
		return lt
	})
}

// liveOwner reports whether a lock's owner still exists: a file description that was
// released drops its OFD locks and flocks with it. Preconditions: lockTable.mu is held.
func liveOwner(owner any) bool {
	if fd, ok := owner.(*vfs.FileDescription); ok {
		return !fd.Released()
	}
	if tg, ok := owner.(*kernel.ThreadGroup); ok {
		return !tg.Zombie()
	}
	return true
}

// release drops the POSIX locks of process tg: on every inode at exit (in nil), or on in
// when the process closes a descriptor of it, as POSIX wants.
func (lt *lockTable) release(tg *kernel.ThreadGroup, in vfs.Inode) {
	lt.mu.Lock()
	changed := false
	for i, held := range lt.records {
		if in != nil && i != in {
			continue
		}
		out := held[:0]
		for _, h := range held {
			if h.owner == any(tg) {
				changed = true
				continue
			}
			out = append(out, h)
		}
		if len(out) == 0 {
			delete(lt.records, i)
		} else {
			lt.records[i] = out
		}
	}
	lt.mu.Unlock()
	if changed {
		lt.queue.Notify(waiter.EventIn)
	}
}

// wait sleeps until some lock is released (or the task is interrupted).
//
// Preconditions: lt.mu is held; it is held again on return.
func (lt *lockTable) wait(t *kernel.Task) error {
	e := &waiter.Entry{Mask: waiter.EventIn, Callback: func(uint32) { t.Wake() }}
	lt.queue.EventRegister(e)
	lt.mu.Unlock()
	// Owners can also vanish without a release call (a description's last close): look
	// again now and then.
	err := t.Block(time.Now().Add(50 * time.Millisecond))
	lt.queue.EventUnregister(e)
	lt.mu.Lock()
	if err == unix.ETIMEDOUT {
		return nil
	}
	return err
}

func overlaps(a, b lockRange) bool {
	aEnd, bEnd := a.end, b.end
	if aEnd < 0 {
		aEnd = 1<<63 - 1
	}
	if bEnd < 0 {
		bEnd = 1<<63 - 1
	}
	return a.start < bEnd && b.start < aEnd
}

func posixLock(t *kernel.Task, fd *vfs.FileDescription, cmd int, addr uint64) (uint64, error) {
	b := make([]byte, abi.SizeofFlock)
	if _, err := t.CopyIn(addr, b); err != nil {
		return 0, unix.EFAULT
	}
	var fl abi.Flock
	fl.Decode(b)
	typ, whence := fl.Type, fl.Whence
	start, length := fl.Start, fl.Len
	in := fd.Inode()
	if in == nil {
		return 0, unix.EBADF
	}
	switch whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		start += fd.Offset()
	case unix.SEEK_END:
		at, err := in.Stat()
		if err != nil {
			return 0, err
		}
		start += at.Size
	default:
		return 0, unix.EINVAL
	}
	end := int64(-1)
	if length > 0 {
		end = start + length
	} else if length < 0 {
		end = start
		start += length
	}
	if start < 0 {
		return 0, unix.EINVAL
	}
	ofd := cmd == unix.F_OFD_GETLK || cmd == unix.F_OFD_SETLK || cmd == unix.F_OFD_SETLKW
	var owner any = t.Group()
	if ofd {
		owner = fd
		if fl.PID != 0 {
			return 0, unix.EINVAL
		}
	}
	req := lockRange{owner: owner, start: start, end: end, write: typ == unix.F_WRLCK, pid: t.Group().PID}
	switch typ {
	case unix.F_RDLCK:
		if !fd.Readable() && cmd != unix.F_GETLK && cmd != unix.F_OFD_GETLK {
			return 0, unix.EBADF
		}
	case unix.F_WRLCK:
		if !fd.Writable() && cmd != unix.F_GETLK && cmd != unix.F_OFD_GETLK {
			return 0, unix.EBADF
		}
	case unix.F_UNLCK:
	default:
		return 0, unix.EINVAL
	}
	lt := locksOf(t.Kernel())
	lt.mu.Lock()
	defer lt.mu.Unlock()
	var held []lockRange
	conflict := func() *lockRange {
		held = lt.records[in][:0:0]
		for _, h := range lt.records[in] {
			if liveOwner(h.owner) {
				held = append(held, h)
			}
		}
		for i := range held {
			h := &held[i]
			if h.owner != owner && overlaps(*h, req) && (h.write || req.write) {
				return h
			}
		}
		return nil
	}
	if cmd == unix.F_GETLK || cmd == unix.F_OFD_GETLK {
		if typ == unix.F_UNLCK {
			return 0, unix.EINVAL
		}
		c := conflict()
		if c == nil {
			fl.Type = unix.F_UNLCK
		} else {
			fl.Type = unix.F_RDLCK
			if c.write {
				fl.Type = unix.F_WRLCK
			}
			fl.Whence, fl.Start, fl.Len = unix.SEEK_SET, c.start, 0
			if c.end >= 0 {
				fl.Len = c.end - c.start
			}
			// An open file description's lock has no process (posix_lock_to_flock).
			fl.PID = c.pid
			if _, isOFD := c.owner.(*vfs.FileDescription); isOFD {
				fl.PID = -1
			}
		}
		fl.Encode(b)
		if _, err := t.CopyOut(addr, b); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	}
	wait := cmd == unix.F_SETLKW || cmd == unix.F_OFD_SETLKW
	for typ != unix.F_UNLCK && conflict() != nil {
		if !wait {
			return 0, unix.EAGAIN
		}
		if err := lt.wait(t); err != nil {
			return 0, err
		}
	}
	conflict() // refresh held (dropping vanished owners) for the update below
	// Remove our overlapping ranges, splitting around the new one, then add it.
	var out []lockRange
	for _, h := range held {
		if h.owner != owner || !overlaps(h, req) {
			out = append(out, h)
			continue
		}
		if h.start < req.start {
			l := h
			l.end = req.start
			out = append(out, l)
		}
		if req.end >= 0 && (h.end < 0 || h.end > req.end) {
			r := h
			r.start = req.end
			out = append(out, r)
		}
	}
	if typ != unix.F_UNLCK {
		out = append(out, req)
	}
	if len(out) == 0 {
		delete(lt.records, in)
	} else {
		lt.records[in] = out
	}
	lt.queue.Notify(waiter.EventIn)
	return 0, nil
}

// flocks are flock(2) locks: whole-file, owned by the open file description, separate
// from record locks.
type flockHolder struct {
	owner *vfs.FileDescription
	write bool
}

// Flock implements flock(2) for files inside the sandbox: shared and exclusive locks,
// conversion, LOCK_NB, and waiting. Locks only conflict within the sandbox.
func Flock(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, err := getIOFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if a[1]&32 != 0 { // LOCK_MAND: gone from Linux, which accepts and ignores it
		return 0, nil
	}
	op := a[1] &^ unix.LOCK_NB
	if op != unix.LOCK_SH && op != unix.LOCK_EX && op != unix.LOCK_UN {
		return 0, unix.EINVAL
	}
	in := fd.Inode()
	if in == nil {
		return 0, nil // pipes, sockets: nothing to share
	}
	lt := locksOf(t.Kernel())
	lt.mu.Lock()
	defer lt.mu.Unlock()
	// setHolders records the holders of in, forgetting the inode when none is left.
	setHolders := func(hs []flockHolder) {
		if len(hs) == 0 {
			delete(lt.flocks, in)
		} else {
			lt.flocks[in] = hs
		}
	}
	for {
		var others []flockHolder
		for _, h := range lt.flocks[in] {
			if h.owner != fd && !h.owner.Released() {
				others = append(others, h)
			}
		}
		if op == unix.LOCK_UN {
			setHolders(others)
			lt.queue.Notify(waiter.EventIn)
			return 0, nil
		}
		blocked := false
		for _, h := range others {
			if h.write || op == unix.LOCK_EX {
				blocked = true
			}
		}
		if !blocked {
			setHolders(append(others, flockHolder{owner: fd, write: op == unix.LOCK_EX}))
			lt.queue.Notify(waiter.EventIn) // a conversion may have freed shared holders' way
			return 0, nil
		}
		if a[1]&unix.LOCK_NB != 0 {
			return 0, unix.EWOULDBLOCK
		}
		// Converting drops the old lock before waiting, as Linux does.
		setHolders(others)
		if err := lt.wait(t); err != nil {
			return 0, err
		}
	}
}

// ioctl numbers the kernel answers for every file (include/uapi/asm-generic/ioctls.h).
const (
	fioclex  = 0x5451
	fionclex = 0x5450
	fionbio  = 0x5421
	fioasync = 0x5452
	fionread = 0x541B
)

// Ioctl implements ioctl(2).
func Ioctl(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, err := getIOFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	cmd := uint32(a[1])
	switch cmd {
	case fioclex:
		return 0, t.FDs().SetCloexec(int32(a[0]), true)
	case fionclex:
		return 0, t.FDs().SetCloexec(int32(a[0]), false)
	case fionbio, fioasync:
		v, err := getU32(t, a[2])
		if err != nil {
			return 0, err
		}
		fl := fd.StatusFlags()
		bit := uint32(unix.O_NONBLOCK)
		if cmd == fioasync {
			bit = unix.O_ASYNC
		}
		if v != 0 {
			fl |= bit
		} else {
			fl &^= bit
		}
		fd.SetStatusFlags(fl)
		if cmd == fioasync {
			asyncUpdate(t, fd, int32(a[0]))
		}
		return 0, nil
	}
	if nf, ok := fd.Impl().(kernel.NSFile); ok {
		return nsIoctl(t, nf.Namespace(), cmd, a[2])
	}
	if lf, ok := fd.Impl().(*listenerFile); ok {
		return listenerIoctl(t, fd, lf, cmd, a[2])
	}
	if handled, r, err := ttyIoctl(t, fd, cmd, a[2]); handled {
		return r, err
	}
	if socket, inet4 := isSocket(fd); socket {
		if handled, r, err := ifIoctl(t, cmd, a[2], inet4); handled {
			return r, err
		}
	}
	if io, ok := fd.Impl().(vfs.Ioctler); ok {
		return io.Ioctl(fd, t, cmd, a[2])
	}
	if cmd == fionread {
		if in := fd.Inode(); in != nil {
			at, err := in.Stat()
			if err == nil && at.Type() == unix.S_IFREG {
				n := at.Size - fd.Offset()
				return 0, putU32(t, a[2], uint32(max(n, 0)))
			}
		}
	}
	return 0, unix.ENOTTY
}

// memfdState is a kernel's hidden tmpfs that backs memfds (made at the first memfd_create).
type memfdState struct{ fs *tmpfs.FS }

// memfdFS returns k's memfd filesystem.
func memfdFS(k *kernel.Kernel) *tmpfs.FS {
	return kernel.StateOf(k, func(k *kernel.Kernel) *memfdState {
		fs, _ := tmpfs.New(k.MemoryFile, tmpfs.Options{Dev: 1})
		return &memfdState{fs}
	}).fs
}

// MemfdCreate implements memfd_create(2).
func MemfdCreate(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	name, err := t.CopyInString(a[0], 249)
	if err != nil {
		if err == unix.ENAMETOOLONG {
			return 0, unix.EINVAL
		}
		return 0, err
	}
	flags := a[1]
	if flags&^(unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_HUGETLB|unix.MFD_NOEXEC_SEAL|unix.MFD_EXEC) != 0 {
		return 0, unix.EINVAL
	}
	if flags&unix.MFD_HUGETLB != 0 || flags&unix.MFD_EXEC != 0 && flags&unix.MFD_NOEXEC_SEAL != 0 {
		return 0, unix.EINVAL
	}
	mfs := memfdFS(t.Kernel())
	c := t.Creds()
	mode, seals := uint32(0o777), uint32(tmpfs.SealSeal)
	switch {
	case flags&unix.MFD_NOEXEC_SEAL != 0:
		// Not executable, never to become so; sealing allowed.
		mode, seals = 0o666, tmpfs.SealExec
	case flags&unix.MFD_ALLOW_SEALING != 0:
		seals = 0
	}
	// Born host-backed, so that it can be handed to a host peer (kernel/mm/README.md);
	// when the host refuses one more memfd (the kernel's RLIMIT_NOFILE), it lives in the
	// memory file and cannot leave the sandbox.
	in, err := mfs.NewHostFile(name, mode, c.FSUID, c.FSGID)
	if err != nil {
		in = mfs.NewFile(mode, c.FSUID, c.FSGID)
	}
	in.SetSeals(seals)
	f, err := in.Open(unix.O_RDWR)
	if err != nil {
		return 0, err
	}
	fd := vfs.NewAnonFileDescription(f, "/memfd:"+name+" (deleted)", unix.O_RDWR|abi.O_LARGEFILE)
	fd.SetInode(in)
	defer fd.DecRef()
	n, err := t.FDs().Install(fd, 0, flags&unix.MFD_CLOEXEC != 0, nofile(t))
	return uint64(n), err
}
