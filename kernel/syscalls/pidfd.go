package syscalls

import (
	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// pidFD is a pidfd: a handle on a process that polls readable once it has exited.
type pidFD struct {
	tg *kernel.ThreadGroup
}

var _ vfs.Pollable = (*pidFD)(nil)

func (p *pidFD) IsStream() bool { return true }
func (p *pidFD) Read(*vfs.FileDescription, [][]byte, int64) (int64, error) {
	return 0, unix.EINVAL
}
func (p *pidFD) Write(*vfs.FileDescription, [][]byte, int64) (int64, error) {
	return 0, unix.EINVAL
}
func (p *pidFD) Release() {}

func (p *pidFD) Readiness(mask uint32) uint32 {
	if p.tg.Zombie() {
		return (waiter.EventIn | waiter.EventRdNorm | waiter.EventHUp) & mask
	}
	return 0
}

func (p *pidFD) EventRegister(e *waiter.Entry)   { p.tg.ExitQueue().EventRegister(e) }
func (p *pidFD) EventUnregister(e *waiter.Entry) { p.tg.ExitQueue().EventUnregister(e) }

// PidfdOpen implements pidfd_open(2).
func PidfdOpen(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	pid, flags := int32(a[0]), a[1]
	if flags&^unix.PIDFD_NONBLOCK != 0 || pid <= 0 {
		return 0, unix.EINVAL
	}
	tg := t.GroupByPID(pid)
	if tg == nil {
		if t.TaskByTID(pid) != nil {
			return 0, unix.ENOENT // a thread, not a process
		}
		return 0, unix.ESRCH
	}
	return installAnon(t, &pidFD{tg: tg}, "anon_inode:[pidfd]", unix.O_RDWR|int(flags&unix.PIDFD_NONBLOCK), true)
}

func getPidFD(t *kernel.Task, fdn uint64) (*vfs.FileDescription, *pidFD, error) {
	fd, err := getFD(t, fdn)
	if err != nil {
		return nil, nil, err
	}
	p, ok := fd.Impl().(*pidFD)
	if !ok {
		fd.DecRef()
		return nil, nil, unix.EBADF
	}
	return fd, p, nil
}

// pidfd_send_signal flags (Linux 6.9): whom the signal is for.
const (
	pidfdSignalThread       = 1
	pidfdSignalThreadGroup  = 2
	pidfdSignalProcessGroup = 4
)

// PidfdSendSignal implements pidfd_send_signal(2).
func PidfdSendSignal(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	flags := a[3]
	if flags&^(pidfdSignalThread|pidfdSignalThreadGroup|pidfdSignalProcessGroup) != 0 || flags&(flags-1) != 0 {
		return 0, unix.EINVAL
	}
	fd, p, err := getPidFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	sig := unix.Signal(a[1])
	if sig < 0 || sig > 64 {
		return 0, unix.EINVAL
	}
	info := t.UserSigInfo(kernel.SIUser)
	if a[2] != 0 {
		b := make([]byte, abi.SizeofSiginfoKillHead)
		if _, err := t.CopyIn(a[2], b); err != nil {
			return 0, unix.EFAULT
		}
		var si abi.SiginfoKill
		si.Decode(b)
		if si.Signo != int32(sig) {
			return 0, unix.EINVAL
		}
		code := si.Code
		if (code >= 0 || code == kernel.SITkill) && p.tg != t.Group() {
			return 0, unix.EPERM
		}
		info.Code, info.Value = code, si.Value
	}
	if p.tg.Reaped() {
		return 0, unix.ESRCH
	}
	if flags != pidfdSignalProcessGroup && !mayKill(t, p.tg, sig) {
		return 0, unix.EPERM
	}
	if p.tg.Zombie() && flags != pidfdSignalProcessGroup {
		return 0, nil // a zombie not yet waited for takes (and drops) the signal
	}
	switch flags {
	case pidfdSignalThread:
		t.Kernel().SignalThread(p.tg.Leader(), sig, info)
	case pidfdSignalProcessGroup:
		pgid, _ := p.tg.IDs()
		return Kill(t, kernel.SyscallArgs{uint64(uint32(-pgid)), uint64(sig)})
	default:
		t.Kernel().SignalGroupInfo(p.tg, sig, info)
	}
	return 0, nil
}

// PidfdGetfd implements pidfd_getfd(2): a close-on-exec duplicate of descriptor targetfd
// of the process pidfd names, for a caller ptrace could attach to it (EPERM otherwise),
// ESRCH once the process has exited.
func PidfdGetfd(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if a[2] != 0 {
		return 0, unix.EINVAL
	}
	fd, p, err := getPidFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if p.tg.Reaped() {
		return 0, unix.ESRCH
	}
	if !t.MayPtraceAttach(p.tg) {
		return 0, unix.EPERM
	}
	fds := p.tg.FDs()
	if fds == nil || p.tg.Zombie() {
		return 0, unix.ESRCH
	}
	f, _, err := fds.Get(int32(a[1]))
	if err != nil {
		return 0, unix.EBADF
	}
	defer f.DecRef()
	n, err := t.FDs().Install(f, 0, true, nofile(t))
	return uint64(n), err
}
