package syscalls

import (
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/seccomp"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// Listener ioctls (include/uapi/linux/seccomp.h). ID_VALID was first defined with the
// wrong direction; Linux accepts both numbers.
const (
	notifRecv         = 0xc0502100 // _IOWR('!', 0, struct seccomp_notif)
	notifSend         = 0xc0182101 // _IOWR('!', 1, struct seccomp_notif_resp)
	notifIDValid      = 0x40082102 // _IOW('!', 2, __u64)
	notifIDValidWrong = 0x80082102 // _IOR('!', 2, __u64)
	notifAddFD        = 0x40182103 // _IOW('!', 3, struct seccomp_notif_addfd)
	notifSetFlags     = 0x40082104 // _IOW('!', 4, __u64)

	addfdFlagSetFD = 1 // SECCOMP_ADDFD_FLAG_SETFD
	addfdFlagSend  = 2 // SECCOMP_ADDFD_FLAG_SEND
)

// listenerFile is a seccomp listener's file ("anon_inode:seccomp notify").
type listenerFile struct{ l *seccomp.Listener }

var _ vfs.Pollable = (*listenerFile)(nil)

func (f *listenerFile) Read(*vfs.FileDescription, [][]byte, int64) (int64, error) {
	return 0, unix.EINVAL
}

func (f *listenerFile) Write(*vfs.FileDescription, [][]byte, int64) (int64, error) {
	return 0, unix.EINVAL
}

func (f *listenerFile) Release()                        { f.l.Close() }
func (f *listenerFile) IsStream() bool                  { return true }
func (f *listenerFile) Readiness(mask uint32) uint32    { return f.l.Readiness(mask) }
func (f *listenerFile) EventRegister(e *waiter.Entry)   { f.l.Queue.EventRegister(e) }
func (f *listenerFile) EventUnregister(e *waiter.Entry) { f.l.Queue.EventUnregister(e) }

// listenerIoctl implements the SECCOMP_IOCTL_NOTIF_* ioctls.
func listenerIoctl(t *kernel.Task, fd *vfs.FileDescription, lf *listenerFile, cmd uint32, arg uint64) (uint64, error) {
	l := lf.l
	switch cmd {
	case notifRecv:
		b := make([]byte, seccomp.NotifSize)
		if _, err := t.CopyIn(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		for _, c := range b {
			if c != 0 {
				return 0, unix.EINVAL
			}
		}
		for {
			n := l.Recv()
			if n != nil {
				msg := abi.SeccompNotif{ID: n.ID, PID: uint32(n.TID), Data: n.Data}
				msg.Encode(b)
				if _, err := t.CopyOut(arg, b); err != nil {
					l.Unrecv(n)
					return 0, unix.EFAULT
				}
				return 0, nil
			}
			if err := t.WaitFile(fd, waiter.EventIn, time.Time{}); err != nil {
				return 0, err
			}
		}
	case notifSend:
		b := make([]byte, seccomp.NotifRespSize)
		if _, err := t.CopyIn(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		var resp abi.SeccompNotifResp
		resp.Decode(b)
		id, val, errno, flags := resp.ID, resp.Val, resp.Error, resp.Flags
		// error is not range-checked: a non-zero one is the syscall's rax, as in Linux.
		if flags&^seccomp.FlagContinue != 0 || flags&seccomp.FlagContinue != 0 && (errno != 0 || val != 0) {
			return 0, unix.EINVAL
		}
		return 0, l.Reply(id, val, errno, flags)
	case notifIDValid, notifIDValidWrong:
		id, err := getU64(t, arg)
		if err != nil {
			return 0, err
		}
		if _, err := l.Sent(id); err != nil {
			return 0, unix.ENOENT
		}
		return 0, nil
	case notifAddFD:
		return listenerAddFD(t, l, arg)
	case notifSetFlags:
		if arg&^1 != 0 { // SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
			return 0, unix.EINVAL
		}
		return 0, nil
	}
	return 0, unix.EINVAL
}

// listenerAddFD installs one of the supervisor's descriptors in the notifying process
// (SECCOMP_IOCTL_NOTIF_ADDFD), optionally at a chosen number and answering the
// notification with it.
func listenerAddFD(t *kernel.Task, l *seccomp.Listener, arg uint64) (uint64, error) {
	b := make([]byte, abi.SizeofSeccompNotifAddfd)
	if _, err := t.CopyIn(arg, b); err != nil {
		return 0, unix.EFAULT
	}
	var add abi.SeccompNotifAddfd
	add.Decode(b)
	id, flags, srcfd, newfd, newFlags := add.ID, add.Flags, add.Srcfd, add.Newfd, add.NewfdFlags
	if flags&^(addfdFlagSetFD|addfdFlagSend) != 0 || newFlags&^unix.O_CLOEXEC != 0 ||
		flags&addfdFlagSetFD == 0 && newfd != 0 {
		return 0, unix.EINVAL
	}
	src, err := getFD(t, uint64(srcfd))
	if err != nil {
		return 0, err
	}
	defer src.DecRef()
	n, err := l.Sent(id)
	if err != nil {
		return 0, err
	}
	target, _ := n.Target.(*kernel.Task)
	if target == nil {
		return 0, unix.ENOENT
	}
	fds := target.FDs()
	if fds == nil {
		return 0, unix.ENOENT
	}
	cloexec := newFlags&unix.O_CLOEXEC != 0
	var num int32
	if flags&addfdFlagSetFD != 0 {
		lim, _ := target.Limit(unix.RLIMIT_NOFILE)
		if uint64(newfd) >= lim || int32(newfd) < 0 {
			return 0, unix.EBADF
		}
		num = int32(newfd)
		fds.InstallAt(num, src, cloexec)
	} else if num, err = fds.Install(src, 0, cloexec, nofile(target)); err != nil {
		return 0, err
	}
	if flags&addfdFlagSend != 0 {
		if err := l.Reply(id, int64(num), 0, 0); err != nil {
			return 0, err
		}
	}
	return uint64(num), nil
}

// newListenerFD makes a listener and its descriptor (close-on-exec, as Linux makes it).
func newListenerFD(t *kernel.Task) (*seccomp.Listener, *vfs.FileDescription) {
	l := seccomp.NewListener()
	return l, vfs.NewAnonFileDescription(&listenerFile{l: l}, "anon_inode:seccomp notify", unix.O_RDWR)
}
