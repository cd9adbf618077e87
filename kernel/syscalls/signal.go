package syscalls

import (
	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"golang.org/x/sys/unix"
)

// RtSigaction implements rt_sigaction(2). Dispositions are kept; delivery to handlers comes
// with the signals work (DESIGN: the task loop has the hook).
func RtSigaction(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if a[3] != 8 {
		return 0, unix.EINVAL
	}
	sig := int(a[0])
	var act *kernel.SigAction
	if a[1] != 0 {
		b := make([]byte, abi.SizeofSigaction)
		if _, err := t.CopyIn(a[1], b); err != nil {
			return 0, unix.EFAULT
		}
		var sa abi.Sigaction
		sa.Decode(b)
		act = &kernel.SigAction{Handler: sa.Handler, Flags: sa.Flags, Restorer: sa.Restorer, Mask: sa.Mask}
	}
	old, err := t.SigAction(sig, act)
	if err != nil {
		return 0, err
	}
	if a[2] != 0 {
		b := make([]byte, abi.SizeofSigaction)
		(&abi.Sigaction{Handler: old.Handler, Flags: old.Flags, Restorer: old.Restorer, Mask: old.Mask}).Encode(b)
		if _, err := t.CopyOut(a[2], b); err != nil {
			return 0, unix.EFAULT
		}
	}
	return 0, nil
}

// RtSigprocmask implements rt_sigprocmask(2).
func RtSigprocmask(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if a[3] != 8 {
		return 0, unix.EINVAL
	}
	how := a[0]
	old := t.SigMask()
	if a[1] != 0 {
		set, err := getU64(t, a[1])
		if err != nil {
			return 0, err
		}
		set &^= 1<<(unix.SIGKILL-1) | 1<<(unix.SIGSTOP-1)
		switch how {
		case unix.SIG_BLOCK:
			t.SetSigMask(old | set)
		case unix.SIG_UNBLOCK:
			t.SetSigMask(old &^ set)
		case unix.SIG_SETMASK:
			t.SetSigMask(set)
		default:
			return 0, unix.EINVAL
		}
	}
	if a[2] != 0 {
		if err := putU64(t, a[2], old); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// Sigaltstack implements sigaltstack(2).
func Sigaltstack(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	var ss *kernel.AltStack
	if a[0] != 0 {
		b := make([]byte, abi.SizeofStackT)
		if _, err := t.CopyIn(a[0], b); err != nil {
			return 0, unix.EFAULT
		}
		var st abi.StackT
		st.Decode(b)
		ss = &kernel.AltStack{SP: st.SP, Flags: st.Flags, Size: st.Size}
	}
	old, err := t.Sigaltstack(ss, t.Regs.Rsp, kernel.MinSigStkSz)
	if err != nil {
		return 0, err
	}
	if a[1] != 0 {
		b := make([]byte, abi.SizeofStackT)
		(&abi.StackT{SP: old.SP, Flags: old.Flags, Size: old.Size}).Encode(b)
		if _, err := t.CopyOut(a[1], b); err != nil {
			return 0, unix.EFAULT
		}
	}
	return 0, nil
}

// Kill implements kill(2) inside the sandbox.
func Kill(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	pid, sig := int32(a[0]), unix.Signal(a[1])
	if sig < 0 || sig > 64 {
		return 0, unix.EINVAL
	}
	k := t.Kernel()
	switch {
	case pid > 0:
		tg := t.GroupByPID(pid)
		if tg == nil {
			return 0, unix.ESRCH
		}
		if !mayKill(t, tg, sig) {
			return 0, unix.EPERM
		}
		if tg.Zombie() {
			return 0, nil // a zombie not yet waited for takes (and drops) the signal
		}
		if t.InitIgnores(tg, sig) {
			return 0, nil
		}
		k.SignalGroupInfo(tg, sig, t.UserSigInfo(kernel.SIUser))
		return 0, nil
	case pid == 0 || pid == -1 || pid < -1:
		if pid == -(1 << 31) {
			return 0, unix.ESRCH // -INT_MIN names no process group
		}
		pgid, _ := t.Group().IDs()
		if pid < -1 {
			pgid = t.RootPID(-pid)
		}
		// Linux succeeds if any process could be signalled; else the last error.
		found, sent := false, false
		for _, tg := range k.Groups() {
			g, _ := tg.IDs()
			if t.PIDOf(tg) == 0 {
				continue // outside the caller's PID namespace
			}
			if pid == -1 || g == pgid {
				if pid == -1 && (tg == t.Group() || tg.PID == 1 || t.PIDOf(tg) == 1) {
					continue
				}
				found = true
				if !mayKill(t, tg, sig) {
					continue
				}
				sent = true
				if !t.InitIgnores(tg, sig) {
					k.SignalGroupInfo(tg, sig, t.UserSigInfo(kernel.SIUser))
				}
			}
		}
		switch {
		case !found:
			return 0, unix.ESRCH
		case !sent:
			return 0, unix.EPERM
		}
		return 0, nil
	}
	return 0, unix.EINVAL
}

// capKill is CAP_KILL.
const capKill = 5

// mayKill reports whether the caller may send sig to tg (kill(2)'s permission rule): its
// real or effective user ID matches the target's real or saved one, or it has CAP_KILL;
// SIGCONT may go to any process of the caller's session.
func mayKill(t *kernel.Task, tg *kernel.ThreadGroup, sig unix.Signal) bool {
	if tg == t.Group() {
		return true
	}
	c, tc := t.Creds(), tg.Creds()
	if c.EUID == tc.SUID || c.EUID == tc.UID || c.UID == tc.SUID || c.UID == tc.UID {
		return true
	}
	if capable(t, capKill) {
		return true
	}
	if sig == unix.SIGCONT {
		_, sid := t.Group().IDs()
		_, tsid := tg.IDs()
		return sid == tsid
	}
	return false
}

// Tgkill implements tgkill(2).
func Tgkill(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	tgid, tid, sig := int32(a[0]), int32(a[1]), unix.Signal(a[2])
	if tgid <= 0 || tid <= 0 || sig < 0 || sig > 64 {
		return 0, unix.EINVAL
	}
	target := t.TaskByTID(tid)
	if target == nil || t.PIDOf(target.Group()) != tgid {
		return 0, unix.ESRCH
	}
	if !mayKill(t, target.Group(), sig) {
		return 0, unix.EPERM
	}
	if t.InitIgnores(target.Group(), sig) {
		return 0, nil
	}
	t.Kernel().SignalThread(target, sig, t.UserSigInfo(kernel.SITkill))
	return 0, nil
}

// Tkill implements tkill(2).
func Tkill(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	tid, sig := int32(a[0]), unix.Signal(a[1])
	if tid <= 0 || sig < 0 || sig > 64 {
		return 0, unix.EINVAL
	}
	target := t.TaskByTID(tid)
	if target == nil {
		return 0, unix.ESRCH
	}
	if !mayKill(t, target.Group(), sig) {
		return 0, unix.EPERM
	}
	if t.InitIgnores(target.Group(), sig) {
		return 0, nil
	}
	t.Kernel().SignalThread(target, sig, t.UserSigInfo(kernel.SITkill))
	return 0, nil
}

// RtSigreturn implements rt_sigreturn(2).
func RtSigreturn(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) { return 0, t.Sigreturn() }

// RtSigsuspend implements rt_sigsuspend(2).
func RtSigsuspend(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if a[1] != 8 {
		return 0, unix.EINVAL
	}
	mask, err := getU64(t, a[0])
	if err != nil {
		return 0, err
	}
	return 0, t.Sigsuspend(mask)
}

// Pause implements pause(2).
func Pause(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) { return 0, t.Pause() }

// RtSigpending implements rt_sigpending(2).
func RtSigpending(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	// A smaller set is allowed: that many bytes of it are written (Linux).
	if a[1] > 8 {
		return 0, unix.EINVAL
	}
	var b [8]byte
	abi.PutU64(b[:], t.PendingSignals()&t.SigMask())
	if _, err := t.CopyOut(a[0], b[:a[1]]); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}
