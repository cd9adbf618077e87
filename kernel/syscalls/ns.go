package syscalls

import (
	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/fs/procfs"
	"golang.org/x/sys/unix"
)

// unshareFlags are the flags unshare(2) knows.
const unshareFlags = unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SYSVSEM | unix.CLONE_THREAD | unix.CLONE_SIGHAND |
	unix.CLONE_VM | unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER | unix.CLONE_NEWPID |
	unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// Unshare implements unshare(2): new namespaces (kernel/ns.go) and a private copy of a
// shared fs context or FD table.
func Unshare(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	f := a[0]
	if f&^unshareFlags != 0 {
		return 0, unix.EINVAL
	}
	// A new user or mount namespace implies a private fs context (unshare(2)).
	if f&(unix.CLONE_NEWUSER|unix.CLONE_NEWNS) != 0 {
		f |= unix.CLONE_FS
	}
	tg := t.Group()
	if f&(unix.CLONE_THREAD|unix.CLONE_SIGHAND|unix.CLONE_VM) != 0 && len(tg.Tasks()) > 1 {
		return 0, unix.EINVAL // threads cannot stop sharing what makes them threads
	}
	if ns := f & cloneNewFlags; ns != 0 {
		if err := t.Unshare(ns); err != nil {
			return 0, err
		}
	}
	if f&unix.CLONE_FS != 0 {
		tg.UnshareFS()
	}
	if f&unix.CLONE_FILES != 0 {
		tg.UnshareFDs()
	}
	return 0, nil
}

// cloneNewFlags are the CLONE_NEW* flags.
const cloneNewFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER | unix.CLONE_NEWPID |
	unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// Sethostname implements sethostname(2) in the caller's UTS namespace.
func Sethostname(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return setUTSName(t, a, false)
}

// Setdomainname implements setdomainname(2) in the caller's UTS namespace.
func Setdomainname(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return setUTSName(t, a, true)
}

func setUTSName(t *kernel.Task, a kernel.SyscallArgs, domain bool) (uint64, error) {
	n := int64(a[1])
	if n < 0 || n > 64 {
		return 0, unix.EINVAL
	}
	b := make([]byte, n)
	if _, err := t.CopyIn(a[0], b); err != nil {
		return 0, unix.EFAULT
	}
	return 0, t.SetUTSName(string(b), domain)
}

// Setns implements setns(2) for descriptors of /proc/PID/ns files (a pidfd is refused with
// EINVAL here).
func Setns(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	nf, ok := fd.Impl().(kernel.NSFile)
	if !ok {
		return 0, unix.EINVAL
	}
	return 0, t.Setns(nf.Namespace(), uint64(uint32(a[1])))
}

// ioctl_ns(2) requests (linux/nsfs.h).
const (
	nsGetUserNS   = 0xb701
	nsGetParent   = 0xb702
	nsGetNSType   = 0xb703
	nsGetOwnerUID = 0xb704
)

// nsIoctl implements ioctl_ns(2) on a namespace file: NS_GET_USERNS and NS_GET_PARENT
// open the related namespace (EPERM when it lies outside the caller's user or PID
// namespace, EINVAL for a kind with no parent), NS_GET_NSTYPE gives the CLONE_NEW* flag,
// NS_GET_OWNER_UID a user namespace's creator in the caller's IDs.
func nsIoctl(t *kernel.Task, n *kernel.Namespace, cmd uint32, arg uint64) (uint64, error) {
	mine := t.Group().UserNS()
	ownerIn := func(u *kernel.UserNS) (*kernel.Namespace, error) {
		if u == nil || !u.Within(mine) {
			return nil, unix.EPERM
		}
		return u.NS, nil
	}
	var rel *kernel.Namespace
	var err error
	switch cmd {
	case nsGetNSType:
		return n.Kind.CloneFlag(), nil
	case nsGetOwnerUID:
		if n.Kind != kernel.NSUser {
			return 0, unix.EINVAL
		}
		return 0, putU32(t, arg, mine.MapUID(n.User().OwnerUID))
	case nsGetUserNS:
		if n.Kind == kernel.NSUser {
			rel, err = ownerIn(n.User().Parent)
		} else {
			rel, err = ownerIn(n.Owner)
		}
	case nsGetParent:
		parent, hierarchical := n.Parent()
		switch {
		case !hierarchical:
			return 0, unix.EINVAL
		case n.Kind == kernel.NSUser:
			rel, err = ownerIn(n.User().Parent)
		case parent == nil || !parent.PIDNS().Within(t.Group().ActivePIDNS()):
			return 0, unix.EPERM
		default:
			rel = parent
		}
	default:
		return 0, unix.ENOTTY
	}
	if err != nil {
		return 0, err
	}
	fd := procfs.OpenNS(t.Kernel(), rel)
	defer fd.DecRef()
	nr, err := t.FDs().Install(fd, 0, true, nofile(t))
	return uint64(nr), err
}
