package kernel_test

import (
	"testing"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/syscalls"
	"golang.org/x/sys/unix"
)

// Restart rules from signal(7), "Interruption of system calls and library functions by
// signal handlers": the calls restarted after a handler installed with SA_RESTART, and those
// that fail with EINTR whatever SA_RESTART says.
var (
	restartedBySARestart = []uint64{
		unix.SYS_READ, unix.SYS_READV, unix.SYS_WRITE, unix.SYS_WRITEV, unix.SYS_IOCTL,
		unix.SYS_OPEN, unix.SYS_OPENAT, unix.SYS_WAIT4, unix.SYS_WAITID,
		unix.SYS_ACCEPT, unix.SYS_ACCEPT4, unix.SYS_CONNECT, unix.SYS_RECVFROM, unix.SYS_RECVMMSG,
		unix.SYS_RECVMSG, unix.SYS_SENDTO, unix.SYS_SENDMSG, unix.SYS_FLOCK, unix.SYS_FCNTL,
		unix.SYS_MQ_TIMEDSEND, unix.SYS_MQ_TIMEDRECEIVE, unix.SYS_FUTEX, unix.SYS_GETRANDOM,
	}
	neverRestarted = []uint64{
		unix.SYS_EPOLL_WAIT, unix.SYS_EPOLL_PWAIT, unix.SYS_EPOLL_PWAIT2, unix.SYS_POLL, unix.SYS_PPOLL,
		unix.SYS_SELECT, unix.SYS_PSELECT6, unix.SYS_MSGRCV, unix.SYS_MSGSND, unix.SYS_SEMOP,
		unix.SYS_SEMTIMEDOP, unix.SYS_NANOSLEEP, unix.SYS_CLOCK_NANOSLEEP, unix.SYS_IO_GETEVENTS,
		unix.SYS_RT_SIGTIMEDWAIT, unix.SYS_RT_SIGSUSPEND, unix.SYS_PAUSE,
	}
)

// TestRestartRules: every call the syscall table handles that signal(7) classifies is in
// the kernel's restart rules (restartable in task.go) the way signal(7) says: restarted
// after an SA_RESTART handler, or never.
func TestRestartRules(t *testing.T) {
	st := syscalls.Table()
	for _, nr := range restartedBySARestart {
		if st.Entries[nr].Fn != nil && !kernel.Restartable(nr) {
			t.Errorf("%s: signal(7) restarts it after an SA_RESTART handler; add it to restartable in kernel/task.go", st.Name(nr))
		}
	}
	for _, nr := range neverRestarted {
		if st.Entries[nr].Fn != nil && kernel.Restartable(nr) {
			t.Errorf("%s: signal(7) never restarts it after a handler; restartable in kernel/task.go does", st.Name(nr))
		}
	}
}
