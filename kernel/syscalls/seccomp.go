package syscalls

import (
	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/seccomp"
	"golang.org/x/sys/unix"
)

// Seccomp implements seccomp(2).
func Seccomp(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	op, flags, uargs := a[0], a[1], a[2]
	switch op {
	case seccomp.SetModeStrict:
		if flags != 0 || uargs != 0 {
			return 0, unix.EINVAL
		}
		return 0, t.SetSeccompStrict()
	case seccomp.SetModeFilter:
		return seccompSetFilter(t, flags, uargs)
	case seccomp.GetActionAvail:
		if flags != 0 {
			return 0, unix.EINVAL
		}
		action, err := getU32(t, uargs)
		if err != nil {
			return 0, err
		}
		if !seccomp.Known(action) {
			return 0, unix.EOPNOTSUPP
		}
		return 0, nil
	case seccomp.GetNotifSizes:
		if flags != 0 {
			return 0, unix.EINVAL
		}
		b := make([]byte, abi.SizeofSeccompNotifSizes)
		sizes := abi.SeccompNotifSizes{Notif: seccomp.NotifSize, NotifResp: seccomp.NotifRespSize, Data: seccomp.DataSize}
		sizes.Encode(b)
		if _, err := t.CopyOut(uargs, b); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	}
	return 0, unix.EINVAL
}

// seccompSetFilter is SECCOMP_SET_MODE_FILTER (and prctl's PR_SET_SECCOMP with
// SECCOMP_MODE_FILTER, which is it with no flags), in Linux's order of checks.
func seccompSetFilter(t *kernel.Task, flags, uprog uint64) (uint64, error) {
	if flags&^seccomp.FlagMask != 0 {
		return 0, unix.EINVAL
	}
	if flags&seccomp.FlagTSync != 0 && flags&seccomp.FlagNewListener != 0 && flags&seccomp.FlagTSyncESRCH == 0 {
		return 0, unix.EINVAL
	}
	if flags&seccomp.FlagWaitKillableRecv != 0 && flags&seccomp.FlagNewListener == 0 {
		return 0, unix.EINVAL
	}
	hdr := make([]byte, abi.SizeofSockFprog)
	if _, err := t.CopyIn(uprog, hdr); err != nil {
		return 0, unix.EFAULT
	}
	var fprog abi.SockFprog
	fprog.Decode(hdr)
	n := int(fprog.Len)
	if n == 0 || n > seccomp.MaxInsns {
		return 0, unix.EINVAL
	}
	if !t.Group().NoNewPrivs() && !capable(t, unix.CAP_SYS_ADMIN) {
		return 0, unix.EACCES
	}
	raw := make([]byte, abi.SizeofSockFilter*n)
	if _, err := t.CopyIn(fprog.Filter, raw); err != nil {
		return 0, unix.EFAULT
	}
	prog := seccomp.Decode(raw)
	if err := seccomp.Check(prog); err != nil {
		return 0, err
	}
	o := kernel.SeccompAddOptions{Prog: prog, Log: flags&seccomp.FlagLog != 0,
		TSync: flags&seccomp.FlagTSync != 0, TSyncESRCH: flags&seccomp.FlagTSyncESRCH != 0}
	if flags&seccomp.FlagNewListener == 0 {
		_, tid, err := t.AddSeccompFilter(o)
		if err != nil {
			return 0, err
		}
		return uint64(tid), nil
	}
	// NEW_LISTENER: the descriptor is reserved first (EMFILE before anything changes) and
	// withdrawn if the filter cannot be attached.
	l, fd := newListenerFD(t)
	defer fd.DecRef()
	lfd, err := t.FDs().Install(fd, 0, true, nofile(t))
	if err != nil {
		return 0, err
	}
	o.Listener = l
	_, tid, err := t.AddSeccompFilter(o)
	if err != nil || tid != 0 {
		t.FDs().Remove(lfd)
		return uint64(tid), err
	}
	return uint64(lfd), nil
}

// prctlSeccomp is PR_SET_SECCOMP.
func prctlSeccomp(t *kernel.Task, mode, uprog uint64) (uint64, error) {
	switch mode {
	case seccomp.ModeStrict:
		return Seccomp(t, kernel.SyscallArgs{seccomp.SetModeStrict, 0, 0})
	case seccomp.ModeFilter:
		return seccompSetFilter(t, 0, uprog)
	}
	return 0, unix.EINVAL
}
