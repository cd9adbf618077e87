package ptrace

import (
	"errors"
	"os"

	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// StubHostSyscalls are the host syscalls of the stub machinery both modes share: starting
// stubs, tracing their main threads, injecting address-space calls, pinning and killing.
// (MapHostFile's socketpair, sendmsg and fcntl(F_DUPFD_CLOEXEC) are in the kernel's own
// allow-list already.)
var StubHostSyscalls = []platform.HostSyscall{
	{Nr: unix.SYS_PTRACE, Reason: "tracing stub main threads, injecting address-space calls"},
	{Nr: unix.SYS_WAIT4, Reason: "ptrace stops of stub threads"},
	{Nr: unix.SYS_WAITID, Reason: "reaping stubs"},
	{Nr: unix.SYS_KILL, Reason: "killing stubs"},
	{Nr: unix.SYS_SCHED_SETAFFINITY, Reason: "pinning tracer and stub to one CPU"},
	{Nr: unix.SYS_EXECVE, Reason: "starting stubs: the only executable in the kernel's root is the stub"},
	{Nr: unix.SYS_DUP2, Reason: "fork/exec of stubs"},
	{Nr: unix.SYS_CLOSE_RANGE, Reason: "fork/exec of stubs; a stub closes all but the memory file"},
	{Nr: unix.SYS_GETPPID, Reason: "fork/exec of stubs (parent-death signal check)"},
	{Nr: unix.SYS_SETPGID, Reason: "fork/exec"},
	{Nr: unix.SYS_VFORK, Reason: "fork/exec of stubs"},
	{Nr: unix.SYS_SECCOMP, Reason: "stubs (which inherit this filter) install their own, stricter one"},
}

func init() {
	platform.Register(platform.Constructor{
		Name:         "ptrace",
		New:          func(f *os.File) (platform.Platform, error) { return New(f) },
		AutoRank:     10,
		HostSyscalls: StubHostSyscalls,
	})
}

// TrapHostSyscalls are what trap mode needs beyond StubHostSyscalls (memfd_create, for each
// trap stub's shared area, is in the kernel's own list: its memfds are host-backed).
var TrapHostSyscalls = []platform.HostSyscall{
	{Nr: unix.SYS_ARCH_PRCTL, Reason: "trap stubs set the app thread's FS and GS bases (their filter allows only ARCH_SET_FS and ARCH_SET_GS)"},
}

// ProbeTrap reports whether trap mode can run here: seccomp must offer SECCOMP_RET_TRAP.
func ProbeTrap() error {
	if err := probeSeccompAction(retTrap); err != nil {
		return errors.New("seccomp SECCOMP_RET_TRAP is not available (" + err.Error() + ")")
	}
	return nil
}
