package syscalls

import (
	"fmt"
	"sync/atomic"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// unblockable are SIGKILL and SIGSTOP, which no mask or wait set may hold.
const unblockable = 1<<(unix.SIGKILL-1) | 1<<(unix.SIGSTOP-1)

// RtSigtimedwait implements rt_sigtimedwait(2) (sigwait, sigwaitinfo, sigtimedwait).
func RtSigtimedwait(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if a[3] != 8 {
		return 0, unix.EINVAL
	}
	set, err := getU64(t, a[0])
	if err != nil {
		return 0, err
	}
	set &^= unblockable
	deadline, noWait, err := timespecTimeout(t, a[2])
	if err != nil {
		return 0, err
	}
	sig, info, err := t.WaitSignal(set, deadline, noWait)
	if err != nil {
		return 0, err
	}
	if a[1] != 0 {
		if _, err := t.CopyOut(a[1], t.SeenSigInfo(info).Bytes(int(sig))); err != nil {
			return 0, unix.EFAULT
		}
	}
	return uint64(sig), nil
}

// signalFD is a signalfd: reading accepts the process's pending signals in its mask.
type signalFD struct {
	t    *kernel.Task
	mask atomic.Uint64
}

var _ vfs.Pollable = (*signalFD)(nil)

func (s *signalFD) IsStream() bool { return true }

// Fdinfo implements vfs.FdinfoShower as signalfd_show_fdinfo (render_sigset_t).
func (s *signalFD) Fdinfo() string { return fmt.Sprintf("sigmask:\t%016x\n", s.mask.Load()) }

// NoopSeek implements vfs.NoopSeeker: lseek succeeds and changes nothing.
func (*signalFD) NoopSeek() {}

func (s *signalFD) Read(_ *vfs.FileDescription, dst [][]byte, _ int64) (int64, error) {
	total := 0
	for _, d := range dst {
		total += len(d)
	}
	if total < 128 {
		return 0, unix.EINVAL
	}
	var out []byte
	for len(out)+128 <= total {
		sig, info := s.t.TakePendingSignal(s.mask.Load())
		if sig == 0 {
			break
		}
		out = append(out, s.t.SeenSigInfo(info).SignalfdBytes(int(sig))...)
	}
	if len(out) == 0 {
		return 0, unix.EAGAIN
	}
	n := len(out)
	for _, d := range dst {
		out = out[copy(d, out):]
	}
	return int64(n), nil
}

func (s *signalFD) Write(*vfs.FileDescription, [][]byte, int64) (int64, error) { return 0, unix.EINVAL }

func (s *signalFD) Readiness(mask uint32) uint32 {
	if s.t.PendingSignals()&s.mask.Load() != 0 {
		return (waiter.EventIn | waiter.EventRdNorm) & mask
	}
	return 0
}

func (s *signalFD) EventRegister(e *waiter.Entry)   { s.t.SignalQueue().EventRegister(e) }
func (s *signalFD) EventUnregister(e *waiter.Entry) { s.t.SignalQueue().EventUnregister(e) }
func (s *signalFD) Release()                        {}

// Signalfd implements signalfd(2).
func Signalfd(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return signalfd(t, int32(a[0]), a[1], a[2], 0)
}

// Signalfd4 implements signalfd4(2).
func Signalfd4(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return signalfd(t, int32(a[0]), a[1], a[2], a[3])
}

func signalfd(t *kernel.Task, fdn int32, maskAddr, size, flags uint64) (uint64, error) {
	if size != 8 || flags&^(unix.SFD_CLOEXEC|unix.SFD_NONBLOCK) != 0 {
		return 0, unix.EINVAL
	}
	mask, err := getU64(t, maskAddr)
	if err != nil {
		return 0, err
	}
	mask &^= unblockable
	if fdn != -1 {
		fd, err := getFD(t, uint64(uint32(fdn)))
		if err != nil {
			return 0, err
		}
		defer fd.DecRef()
		s, ok := fd.Impl().(*signalFD)
		if !ok {
			return 0, unix.EINVAL
		}
		s.mask.Store(mask)
		s.t.SignalQueue().Notify(waiter.EventIn)
		return uint64(fdn), nil
	}
	s := &signalFD{t: t}
	s.mask.Store(mask)
	return installAnon(t, s, "anon_inode:[signalfd]", unix.O_RDWR|int(flags&unix.SFD_NONBLOCK), flags&unix.SFD_CLOEXEC != 0)
}

// queuedInfo reads the siginfo a sender passes to rt_sigqueueinfo/rt_tgsigqueueinfo and
// applies Linux's rule: only the kernel may claim si_code >= 0 or SI_TKILL when
// signalling another process.
func queuedInfo(t *kernel.Task, pid int32, addr uint64) (kernel.SigInfo, error) {
	b := make([]byte, abi.SizeofSiginfoKillHead)
	if _, err := t.CopyIn(addr, b); err != nil {
		return kernel.SigInfo{}, unix.EFAULT
	}
	var si abi.SiginfoKill
	si.Decode(b)
	code := si.Code
	if (code >= 0 || code == kernel.SITkill) && pid != t.Group().PID {
		return kernel.SigInfo{}, unix.EPERM
	}
	// The receiver gets the sender's siginfo as written (only si_signo is the signal's).
	return kernel.SigInfo{Code: code, PID: si.PID, UID: si.UID, Errno: si.Errno, Value: si.Value,
		TimerID: si.PID, Overrun: int32(si.UID), Status: int32(uint32(si.Value))}, nil
}

// RtSigqueueinfo implements rt_sigqueueinfo(2) (sigqueue): the signal carries its value.
func RtSigqueueinfo(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	pid, sig := int32(a[0]), unix.Signal(a[1])
	if sig < 0 || sig > 64 {
		return 0, unix.EINVAL
	}
	info, err := queuedInfo(t, pid, a[2])
	if err != nil {
		return 0, err
	}
	tg := t.GroupByPID(pid)
	if pid <= 0 || tg == nil {
		return 0, unix.ESRCH
	}
	if !mayKill(t, tg, sig) {
		return 0, unix.EPERM
	}
	if sig == 0 || tg.Zombie() {
		return 0, nil // a probe, or a zombie not yet waited for: nothing is queued
	}
	t.Kernel().SignalGroupInfo(tg, sig, info)
	return 0, nil
}

// RtTgsigqueueinfo implements rt_tgsigqueueinfo(2).
func RtTgsigqueueinfo(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	tgid, tid, sig := int32(a[0]), int32(a[1]), unix.Signal(a[2])
	if tgid <= 0 || tid <= 0 || sig < 0 || sig > 64 {
		return 0, unix.EINVAL
	}
	info, err := queuedInfo(t, tgid, a[3])
	if err != nil {
		return 0, err
	}
	target := t.TaskByTID(tid)
	if target == nil || t.PIDOf(target.Group()) != tgid {
		return 0, unix.ESRCH
	}
	if !mayKill(t, target.Group(), sig) {
		return 0, unix.EPERM
	}
	t.Kernel().SignalThread(target, sig, info)
	return 0, nil
}
