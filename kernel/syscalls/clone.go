package syscalls

import (
	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"golang.org/x/sys/unix"
)

// Clone implements clone(2): clone(flags, stack, parent_tid, child_tid, tls).
func Clone(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	flags := uint64(uint32(a[0])) // clone3's flags above bit 31 are not clone's
	pidfdAddr := uint64(0)
	if flags&unix.CLONE_PIDFD != 0 {
		// The pidfd goes where the parent's TID would: the two cannot be combined.
		if flags&(unix.CLONE_PARENT_SETTID|unix.CLONE_THREAD|unix.CLONE_DETACHED) != 0 {
			return 0, unix.EINVAL
		}
		pidfdAddr = a[2]
	}
	tid, err := t.Clone(kernel.CloneOpts{Flags: flags &^ (0xff | unix.CLONE_PIDFD), Stack: a[1], ParentTID: a[2], ChildTID: a[3],
		TLS: a[4], ExitSignal: unix.Signal(flags & 0xff)})
	if err == nil && pidfdAddr != 0 {
		err = childPidfd(t, tid, pidfdAddr)
	}
	return uint64(tid), err
}

// childPidfd gives the parent of a new child a pidfd for it (CLONE_PIDFD), written as an
// int at addr.
func childPidfd(t *kernel.Task, tid int32, addr uint64) error {
	tg := t.GroupByPID(tid)
	if tg == nil {
		return unix.ESRCH
	}
	n, err := installAnon(t, &pidFD{tg: tg}, "anon_inode:[pidfd]", unix.O_RDWR, true)
	if err != nil {
		return err
	}
	return putU32(t, addr, uint32(n))
}

// Fork implements fork(2).
func Fork(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	tid, err := t.Clone(kernel.CloneOpts{ExitSignal: unix.SIGCHLD})
	return uint64(tid), err
}

// Vfork implements vfork(2).
func Vfork(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	tid, err := t.Clone(kernel.CloneOpts{Flags: unix.CLONE_VM | unix.CLONE_VFORK, ExitSignal: unix.SIGCHLD})
	return uint64(tid), err
}

// clone3's flags beyond clone's (include/uapi/linux/sched.h).
const (
	cloneClearSighand = 0x100000000
	cloneIntoCgroup   = 0x200000000
	cloneNewtime      = 0x80
	cloneArgsSizeVer2 = 88
	maxPidNSLevel     = 32
)

// Clone3 implements clone3(2), with Linux's checks of struct clone_args in Linux's order.
// No descriptor in the sandbox is a cgroup directory, so CLONE_INTO_CGROUP ends in EBADF
// as it does on Linux for any other file.
func Clone3(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	size := a[1]
	if size > 4096 {
		return 0, unix.E2BIG
	}
	if size < abi.CLONE_ARGS_SIZE_VER0 {
		return 0, unix.EINVAL
	}
	b := make([]byte, size)
	if _, err := t.CopyIn(a[0], b); err != nil {
		return 0, unix.EFAULT
	}
	// A larger struct than this kernel knows is fine if the fields it does not know are
	// zero (copy_struct_from_user).
	for _, c := range b[min(len(b), abi.SizeofCloneArgs):] {
		if c != 0 {
			return 0, unix.E2BIG
		}
	}
	var ca abi.CloneArgs
	ca.Decode(b)
	flags, exitSig := ca.Flags, ca.ExitSignal
	switch {
	case ca.SetTIDSize > maxPidNSLevel, ca.SetTID == 0 && ca.SetTIDSize > 0, ca.SetTID != 0 && ca.SetTIDSize == 0:
		return 0, unix.EINVAL
	case exitSig > 64:
		return 0, unix.EINVAL
	case flags&cloneIntoCgroup != 0 && (ca.Cgroup > 1<<31-1 || size < cloneArgsSizeVer2):
		return 0, unix.EINVAL
	case flags&^(0xffffffff|cloneClearSighand|cloneIntoCgroup) != 0,
		flags&(unix.CLONE_DETACHED|0xff&^cloneNewtime) != 0,
		flags&(unix.CLONE_SIGHAND|cloneClearSighand) == unix.CLONE_SIGHAND|cloneClearSighand,
		flags&(unix.CLONE_THREAD|unix.CLONE_PARENT) != 0 && exitSig != 0,
		(ca.Stack == 0) != (ca.StackSize == 0):
		return 0, unix.EINVAL
	}
	if ca.SetTID != 0 {
		return 0, unix.EINVAL // set_tid is not offered
	}
	if flags&cloneIntoCgroup != 0 {
		fd, err := getFD(t, ca.Cgroup)
		if err != nil {
			return 0, unix.EBADF
		}
		fd.DecRef()
		return 0, unix.EBADF // not a cgroup directory
	}
	if flags&unix.CLONE_PIDFD != 0 && flags&unix.CLONE_THREAD != 0 {
		return 0, unix.EINVAL
	}
	sp := uint64(0)
	if ca.Stack != 0 {
		sp = ca.Stack + ca.StackSize
	}
	tid, err := t.Clone(kernel.CloneOpts{Flags: flags &^ (unix.CLONE_PIDFD | cloneClearSighand), Stack: sp, ParentTID: ca.ParentTID,
		ChildTID: ca.ChildTID, TLS: ca.TLS, ExitSignal: unix.Signal(exitSig), ClearSighand: flags&cloneClearSighand != 0})
	if err == nil && flags&unix.CLONE_PIDFD != 0 {
		err = childPidfd(t, tid, ca.Pidfd)
	}
	return uint64(tid), err
}

// Wait4 implements wait4(2).
func Wait4(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	opts := uint64(uint32(a[2])) // an int: __WCLONE is its sign bit
	if opts&^(unix.WNOHANG|unix.WUNTRACED|unix.WCONTINUED|unix.WALL|unix.WCLONE|unix.WNOTHREAD) != 0 {
		return 0, unix.EINVAL
	}
	r, err := t.Wait(kernel.WaitOpts{PID: int32(a[0]), NoHang: opts&unix.WNOHANG != 0, Exited: true,
		Stopped: opts&unix.WUNTRACED != 0, Continued: opts&unix.WCONTINUED != 0,
		Clone: opts&unix.WCLONE != 0, All: opts&unix.WALL != 0})
	if err != nil {
		return 0, err
	}
	if r.PID == 0 {
		return 0, nil
	}
	if a[1] != 0 {
		if err := putU32(t, a[1], uint32(r.Status)); err != nil {
			return 0, err
		}
	}
	if a[3] != 0 {
		ru := make([]byte, abi.SizeofRusage)
		(&abi.Rusage{Utime: abiTimeval(r.User), Stime: abiTimeval(r.Sys)}).Encode(ru)
		if _, err := t.CopyOut(a[3], ru); err != nil {
			return 0, unix.EFAULT
		}
	}
	return uint64(r.PID), nil
}

// Waitid implements waitid(2).
func Waitid(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	idtype, id, opts := a[0], int32(a[1]), uint64(uint32(a[3]))
	if opts&^(unix.WNOHANG|unix.WEXITED|unix.WSTOPPED|unix.WCONTINUED|unix.WNOWAIT|unix.WALL|unix.WCLONE|unix.WNOTHREAD) != 0 ||
		opts&(unix.WEXITED|unix.WSTOPPED|unix.WCONTINUED) == 0 {
		return 0, unix.EINVAL
	}
	var pid int32
	pidfdNonblock := false
	switch idtype {
	case unix.P_ALL:
		pid = -1
	case unix.P_PID:
		if id <= 0 {
			return 0, unix.EINVAL
		}
		pid = id
	case unix.P_PGID:
		if id < 0 {
			return 0, unix.EINVAL
		}
		pid = -id
		if id == 0 {
			pid = 0
		}
	case unix.P_PIDFD:
		fd, p, err := getPidFD(t, uint64(uint32(id)))
		if err != nil {
			return 0, err
		}
		pid = t.PIDOf(p.tg)
		// On a non-blocking pidfd, a wait that would block says EAGAIN instead.
		pidfdNonblock = fd.StatusFlags()&unix.O_NONBLOCK != 0 && opts&unix.WNOHANG == 0
		fd.DecRef()
	default:
		return 0, unix.EINVAL
	}
	r, err := t.Wait(kernel.WaitOpts{PID: pid, NoHang: opts&unix.WNOHANG != 0 || pidfdNonblock, NoReap: opts&unix.WNOWAIT != 0,
		Exited: opts&unix.WEXITED != 0, Stopped: opts&unix.WSTOPPED != 0, Continued: opts&unix.WCONTINUED != 0,
		Clone: opts&unix.WCLONE != 0, All: opts&unix.WALL != 0})
	if err == nil && r.PID == 0 && pidfdNonblock {
		return 0, unix.EAGAIN
	}
	if err != nil {
		return 0, err
	}
	if a[2] != 0 {
		si := make([]byte, abi.SizeofSiginfo)
		if r.PID != 0 {
			status := uint32(r.Status >> 8 & 0xff) // exit code, or the stop signal
			switch r.Code {
			case kernel.CldKilled, kernel.CldDumped:
				status = uint32(r.Status & 0x7f)
			case kernel.CldContinued:
				status = uint32(unix.SIGCONT)
			}
			info := abi.SiginfoChld{PID: r.PID, UID: r.UID, Status: int32(status)}
			info.Signo, info.Code = int32(unix.SIGCHLD), int32(r.Code)
			info.Encode(si)
		}
		if _, err := t.CopyOut(a[2], si); err != nil {
			return 0, unix.EFAULT
		}
	}
	return 0, nil
}
