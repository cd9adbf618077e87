package syscalls

import (
	"encoding/binary"
	"sync/atomic"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// unblockable are SIGKILL and SIGSTOP, which no mask or wait set may hold.
const unblockable = 1<<(unix.SIGKILL-1) | 1<<(unix.SIGSTOP-1)

// siginfoFor is the siginfo the kernel reports for an accepted signal. The sandbox keeps
// one pending instance per signal and not its sender, so it reads as sent by kill(2) from
// the caller's user.
func siginfoFor(t *kernel.Task, sig unix.Signal) []byte {
	b := make([]byte, 128)
	binary.LittleEndian.PutUint32(b[0:], uint32(sig))
	// si_errno 0, si_code SI_USER (0), si_pid 0, si_uid.
	binary.LittleEndian.PutUint32(b[20:], t.Creds().UID)
	return b
}

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
	sig, err := t.WaitSignal(set, deadline, noWait)
	if err != nil {
		return 0, err
	}
	if a[1] != 0 {
		if _, err := t.CopyOut(a[1], siginfoFor(t, sig)); err != nil {
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
		sig := s.t.TakePendingSignal(s.mask.Load())
		if sig == 0 {
			break
		}
		// struct signalfd_siginfo: ssi_signo, ssi_errno, ssi_code, ssi_pid, ssi_uid, ...
		rec := make([]byte, 128)
		binary.LittleEndian.PutUint32(rec[0:], uint32(sig))
		binary.LittleEndian.PutUint32(rec[16:], s.t.Creds().UID)
		out = append(out, rec...)
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

// RtSigqueueinfo implements rt_sigqueueinfo(2): the signal is sent, its payload is not kept.
func RtSigqueueinfo(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if err := checkQueueInfo(t, int32(a[0]), a[2]); err != nil {
		return 0, err
	}
	return Kill(t, kernel.SyscallArgs{a[0], a[1]})
}

// RtTgsigqueueinfo implements rt_tgsigqueueinfo(2) like tgkill, the payload not kept.
func RtTgsigqueueinfo(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if err := checkQueueInfo(t, int32(a[0]), a[3]); err != nil {
		return 0, err
	}
	return Tgkill(t, kernel.SyscallArgs{a[0], a[1], a[2]})
}

// checkQueueInfo applies Linux's rule: only the kernel may claim si_code >= 0 or
// SI_TKILL when signalling another process.
func checkQueueInfo(t *kernel.Task, pid int32, info uint64) error {
	code, err := getU32(t, info+8)
	if err != nil {
		return err
	}
	if (int32(code) >= 0 || int32(code) == -6) && pid != t.Group().PID {
		return unix.EPERM
	}
	return nil
}
