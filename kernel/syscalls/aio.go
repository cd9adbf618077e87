package syscalls

import (
	"errors"
	"runtime"
	"sync"
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/fs/anon"
	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// Linux native AIO (io_setup(2), io_submit(2), io_getevents(2), io_cancel(2),
// io_destroy(2)). Every request runs to completion inside io_submit, as Linux's AIO does for
// buffered I/O; its event waits in the context until io_getevents collects it.

// iocb opcodes and flags (include/uapi/linux/aio_abi.h).
const (
	iocbCmdPread   = 0
	iocbCmdPwrite  = 1
	iocbCmdFsync   = 2
	iocbCmdFdsync  = 3
	iocbCmdNoop    = 6
	iocbCmdPreadv  = 7
	iocbCmdPwritev = 8
	iocbFlagResfd  = 1
	aioMaxNr       = 65536
)

type ioEvent struct {
	data, obj uint64
	res, res2 int64
}

// aioContext is one io_setup context: the address of its ring mapping names it.
type aioContext struct {
	mm     *mm.MM
	size   uint64 // of the ring mapping
	max    int
	events []ioEvent
	queue  waiter.Queue // notified as events arrive
}

// aioContexts are the kernel's AIO contexts by ring address; a context belongs to the
// address space that made it (a forked child does not have its parent's).
type aioContexts struct {
	mu   sync.Mutex
	byID map[uint64]*aioContext
}

func aioState(t *kernel.Task) *aioContexts {
	return kernel.StateOf(t.Kernel(), func(k *kernel.Kernel) *aioContexts {
		s := &aioContexts{byID: make(map[uint64]*aioContext)}
		k.OnProcessExit(func(*kernel.ThreadGroup) { s.prune() })
		return s
	})
}

// prune forgets the contexts of address spaces no process uses any more (the process
// exited or exec'd without io_destroy), as Linux's exit_aio does.
func (s *aioContexts) prune() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, c := range s.byID {
		if !c.mm.Live() {
			delete(s.byID, id)
		}
	}
}

// lookup returns the context ctx of t's address space. Locks: s.mu held.
func (s *aioContexts) lookup(t *kernel.Task, ctx uint64) (*aioContext, error) {
	c := s.byID[ctx]
	if c == nil || c.mm != t.MM() {
		return nil, unix.EINVAL
	}
	return c, nil
}

// IoSetup implements io_setup(2). The ring is mapped in the app's memory as on Linux, but
// with a zero magic, so libaio collects events with io_getevents rather than from the ring.
func IoSetup(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	nr, ctxp := uint32(a[0]), a[1]
	cur, err := getU64(t, ctxp)
	if err != nil {
		return 0, err
	}
	if cur != 0 || nr == 0 || nr > 0x10000000/32 {
		return 0, unix.EINVAL
	}
	if nr > aioMaxNr {
		return 0, unix.EAGAIN
	}
	// Like Linux, room for twice the larger of nr and four per CPU, in whole pages.
	size := (32 + 64*uint64(max(nr, 4*uint32(runtime.NumCPU()))) + mm.PageSize - 1) &^ (mm.PageSize - 1)
	addr, err := memLimits(t).Map(mm.MapOpts{Length: size, Prot: platform.ProtRead, MaxProt: platform.ProtRead | platform.ProtWrite,
		Name: "/[aio]"})
	if err != nil {
		return 0, unix.EAGAIN
	}
	s := aioState(t)
	s.mu.Lock()
	s.byID[addr] = &aioContext{mm: t.MM(), size: size, max: int(size/32) - 1}
	s.mu.Unlock()
	if err := putU64(t, ctxp, addr); err != nil {
		s.mu.Lock()
		delete(s.byID, addr)
		s.mu.Unlock()
		t.MM().Unmap(addr, size)
		return 0, err
	}
	return 0, nil
}

// IoDestroy implements io_destroy(2).
func IoDestroy(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	s := aioState(t)
	s.mu.Lock()
	c, err := s.lookup(t, a[0])
	if err == nil {
		delete(s.byID, a[0])
	}
	s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	t.MM().Unmap(a[0], c.size)
	return 0, nil
}

// IoSubmit implements io_submit(2): the number of requests submitted, or the first one's
// error if none was.
func IoSubmit(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	ctx, nr, list := a[0], int64(a[1]), a[2]
	if nr < 0 {
		return 0, unix.EINVAL
	}
	s := aioState(t)
	s.mu.Lock()
	_, err := s.lookup(t, ctx)
	s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	var done int64
	for ; done < nr; done++ {
		p, err := uint64(0), error(nil)
		if at, aerr := elemAddr(list, uint64(done), 8); aerr != nil {
			err = aerr
		} else {
			p, err = getU64(t, at)
		}
		if err == nil {
			err = aioSubmitOne(t, s, ctx, p)
		}
		if err != nil {
			if done > 0 {
				break
			}
			return 0, err
		}
	}
	return uint64(done), nil
}

func aioSubmitOne(t *kernel.Task, s *aioContexts, ctx, p uint64) error {
	b := make([]byte, abi.SizeofIOCB)
	if _, err := t.CopyIn(p, b); err != nil {
		return unix.EFAULT
	}
	var cb abi.IOCB
	cb.Decode(b)
	data, rwFlags, op := cb.Data, uint32(cb.RwFlags), cb.Opcode
	fdn, buf, n, off := cb.Fildes, cb.Buf, cb.Nbytes, uint64(cb.Offset)
	reserved, flags, resfd := cb.Reserved2, cb.Flags, cb.Resfd
	if reserved != 0 || int64(n) < 0 {
		return unix.EINVAL
	}
	if (op == iocbCmdPread || op == iocbCmdPwrite) && (int64(off) < 0 || int64(off+n) < 0) {
		return unix.EINVAL // rw_verify_area, at submission
	}
	var efd *anon.EventFD
	if flags&iocbFlagResfd != 0 {
		rfd, err := getFD(t, uint64(resfd))
		if err != nil {
			return unix.EBADF
		}
		defer rfd.DecRef()
		e, ok := rfd.Impl().(*anon.EventFD)
		if !ok {
			return unix.EINVAL
		}
		efd = e
	}
	fd, err := getFD(t, uint64(fdn))
	if err != nil {
		return unix.EBADF
	}
	defer fd.DecRef()
	args := kernel.SyscallArgs{uint64(fdn), buf, n, off}
	var run func(*kernel.Task, kernel.SyscallArgs) (uint64, error)
	switch op {
	case iocbCmdPread, iocbCmdPreadv:
		if !fd.Readable() {
			return unix.EBADF
		}
		run = Pread64
		if op == iocbCmdPreadv {
			run = Preadv
		}
	case iocbCmdPwrite, iocbCmdPwritev:
		if !fd.Writable() {
			return unix.EBADF
		}
		run = Pwrite64
		if op == iocbCmdPwritev {
			run = Pwritev
		}
	case iocbCmdFsync, iocbCmdFdsync:
		if buf != 0 || n != 0 || off != 0 || rwFlags != 0 {
			return unix.EINVAL
		}
		run = Fsync
	case iocbCmdNoop:
		return unix.EINVAL // Linux rejects IOCB_CMD_NOOP at submission
	default:
		return unix.EINVAL
	}
	if rwFlags&^rwfSupported != 0 {
		return unix.EOPNOTSUPP
	}
	s.mu.Lock()
	c, err := s.lookup(t, ctx)
	if err == nil && len(c.events) >= c.max {
		err = unix.EAGAIN
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	ret, err := run(t, args)
	res := int64(ret)
	if err != nil {
		var e unix.Errno
		if !errors.As(err, &e) {
			e = unix.EINTR
		}
		res = -int64(e)
	}
	s.mu.Lock()
	c.events = append(c.events, ioEvent{data: data, obj: p, res: res})
	s.mu.Unlock()
	c.queue.Notify(waiter.EventIn)
	if efd != nil {
		var one [8]byte
		one[0] = 1
		efd.Write(nil, [][]byte{one[:]}, 0)
	}
	return nil
}

// IoGetevents implements io_getevents(2): at least minNr events (or fewer at the timeout),
// at most nr.
func IoGetevents(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	deadline, err := aioDeadline(t, a[4])
	if err != nil {
		return 0, err
	}
	return ioGetevents(t, a[0], int64(a[1]), int64(a[2]), a[3], deadline)
}

// IoPgetevents implements io_pgetevents(2): io_getevents with the signal mask of its
// struct __aio_sigset (NULL, or a NULL mask: the task's own) in force while it waits.
func IoPgetevents(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	deadline, err := aioDeadline(t, a[4])
	if err != nil {
		return 0, err
	}
	var maskAddr, maskSize uint64
	if a[5] != 0 {
		var b [abi.SizeofAioSigset]byte
		if _, err := t.CopyIn(a[5], b[:]); err != nil {
			return 0, unix.EFAULT
		}
		var s abi.AioSigset
		s.Decode(b[:])
		maskAddr, maskSize = s.Sigmask, s.Sigsetsize
	}
	return withWaitSigmask(t, maskAddr, maskSize, func() (uint64, error) {
		return ioGetevents(t, a[0], int64(a[1]), int64(a[2]), a[3], deadline)
	})
}

// aioDeadline reads the relative timeout of io_getevents at tsAddr: zero time for none
// (wait forever), a past one for a zero timeout.
func aioDeadline(t *kernel.Task, tsAddr uint64) (time.Time, error) {
	if tsAddr == 0 {
		return time.Time{}, nil
	}
	ts, err := getTimespec(t, tsAddr)
	if err != nil {
		return time.Time{}, err
	}
	deadline := time.Now().Add(time.Duration(ts.Sec)*time.Second + time.Duration(ts.Nsec))
	if !deadline.After(time.Now()) {
		deadline = time.Unix(0, 1)
	}
	return deadline, nil
}

func ioGetevents(t *kernel.Task, ctx uint64, minNr, nr int64, out uint64, deadline time.Time) (uint64, error) {
	if minNr < 0 || nr < 0 || minNr > nr {
		return 0, unix.EINVAL
	}
	s := aioState(t)
	var evs []ioEvent
	for {
		s.mu.Lock()
		c, err := s.lookup(t, ctx)
		if err != nil {
			s.mu.Unlock()
			if len(evs) > 0 {
				break
			}
			return 0, err
		}
		take := min(int64(len(c.events)), nr-int64(len(evs)))
		evs = append(evs, c.events[:take]...)
		c.events = c.events[take:]
		s.mu.Unlock()
		if int64(len(evs)) >= minNr || int64(len(evs)) == nr {
			break
		}
		e := &waiter.Entry{Mask: waiter.EventIn, Callback: func(uint32) { t.Wake() }}
		c.queue.EventRegister(e)
		s.mu.Lock()
		pending := len(c.events) > 0
		s.mu.Unlock()
		if !pending {
			err = t.Block(deadline)
		}
		c.queue.EventUnregister(e)
		if err == unix.ETIMEDOUT {
			break
		}
		if err != nil {
			if len(evs) > 0 {
				break
			}
			return 0, err
		}
	}
	b := make([]byte, abi.SizeofIOEvent*len(evs))
	for i, e := range evs {
		ev := abi.IOEvent{Data: e.data, Obj: e.obj, Res: e.res, Res2: e.res2}
		ev.Encode(b[abi.SizeofIOEvent*i:])
	}
	if _, err := t.CopyOut(out, b); err != nil {
		return 0, unix.EFAULT
	}
	return uint64(len(evs)), nil
}

// IoCancel implements io_cancel(2): requests complete at submission, so none is ever
// in flight to cancel.
func IoCancel(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	s := aioState(t)
	s.mu.Lock()
	_, err := s.lookup(t, a[0])
	s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	key, err := fieldAddr(a[1], abi.OffsetofIOCBKey)
	if err == nil {
		_, err = getU32(t, key)
	}
	if err != nil {
		return 0, unix.EFAULT
	}
	return 0, unix.EINVAL
}
