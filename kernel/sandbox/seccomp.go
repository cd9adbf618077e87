package sandbox

import (
	"github.com/sbx-dev/sbx/gofer/seccomp"
	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// kernelFilter is the kernel process's seccomp allow-list: its own host syscalls and those
// the platform it runs declares. Anything else fails with EPERM.
func kernelFilter(p platform.Constructor) []seccomp.Rule {
	rules := append([]seccomp.Rule(nil), kernelSyscalls...)
	have := map[uintptr]bool{}
	for _, r := range rules {
		have[r.Nr] = true
	}
	for _, h := range p.HostSyscalls {
		if !have[h.Nr] {
			rules = append(rules, seccomp.Rule{Nr: h.Nr, Reason: p.Name + " platform: " + h.Reason})
			have[h.Nr] = true
		}
	}
	return rules
}

// kernelSyscalls are the host syscalls the kernel process makes after it has confined
// itself, whatever its platform, each with the reason it is needed.
var kernelSyscalls = []seccomp.Rule{
	{Nr: unix.SYS_READ, Reason: "reading donated FDs (gofer files, terminal, control channel)"},
	{Nr: unix.SYS_WRITE, Reason: "writing donated FDs, event FDs"},
	{Nr: unix.SYS_PREAD64, Reason: "reading donated files at an offset"},
	{Nr: unix.SYS_PWRITE64, Reason: "writing donated files at an offset"},
	{Nr: unix.SYS_READV, Reason: "vectored reads of donated FDs into app memory"},
	{Nr: unix.SYS_WRITEV, Reason: "vectored writes"},
	{Nr: unix.SYS_PREADV, Reason: "vectored positional reads"},
	{Nr: unix.SYS_PWRITEV, Reason: "vectored positional writes"},
	{Nr: unix.SYS_PWRITEV2, Reason: "O_APPEND writes to donated files"},
	{Nr: unix.SYS_CLOSE, Reason: "closing donated FDs"},
	{Nr: unix.SYS_FSTAT, Reason: "stat of donated FDs"},
	{Nr: unix.SYS_NEWFSTATAT, Reason: "Go runtime fstat via fstatat(AT_EMPTY_PATH)"},
	{Nr: unix.SYS_LSEEK, Reason: "Go os.File; counting resident pages where cachestat is missing"},
	{Nr: unix.SYS_CACHESTAT, Reason: "counting resident pages of the memory file (/proc/PID/status, the OOM killer)"},
	{Nr: unix.SYS_FCNTL, Reason: "FD flags, duplicating the terminal"},
	{Nr: unix.SYS_IOCTL, Reason: "terminal ioctls on the user's terminal FD"},
	{Nr: unix.SYS_POLL, Reason: "blocking on event FDs and donated FDs"},
	{Nr: unix.SYS_PPOLL, Reason: "blocking (Go may use ppoll)"},
	{Nr: unix.SYS_EVENTFD2, Reason: "per-task wake-up FDs"},
	{Nr: unix.SYS_FALLOCATE, Reason: "punching freed pages out of the memory file; fallocate on donated files"},
	{Nr: unix.SYS_FSYNC, Reason: "fsync of donated files"},
	{Nr: unix.SYS_FDATASYNC, Reason: "fdatasync of donated files"},
	{Nr: unix.SYS_FTRUNCATE, Reason: "memory file; ftruncate of donated files and host-backed memfds"},
	{Nr: unix.SYS_MEMFD_CREATE, Reason: "host-backed memfds (the app's memfds, which may be passed to host peers); trap stubs' shared areas"},
	{Nr: unix.SYS_MMAP, Reason: "Go runtime heap"},
	{Nr: unix.SYS_MUNMAP, Reason: "Go runtime heap"},
	{Nr: unix.SYS_MPROTECT, Reason: "Go runtime"},
	{Nr: unix.SYS_MADVISE, Reason: "Go runtime"},
	{Nr: unix.SYS_MREMAP, Reason: "Go runtime"},
	{Nr: unix.SYS_BRK, Reason: "Go runtime"},
	{Nr: unix.SYS_FUTEX, Reason: "Go runtime"},
	{Nr: unix.SYS_CLONE, Reason: "Go runtime threads (each task goroutine is locked to one)"},
	{Nr: unix.SYS_CLONE3, Reason: "Go runtime threads"},
	{Nr: unix.SYS_EXIT, Reason: "thread exit"},
	{Nr: unix.SYS_EXIT_GROUP, Reason: "process exit"},
	{Nr: unix.SYS_RT_SIGACTION, Reason: "Go runtime signal handling"},
	{Nr: unix.SYS_RT_SIGPROCMASK, Reason: "Go runtime"},
	{Nr: unix.SYS_RT_SIGRETURN, Reason: "Go runtime"},
	{Nr: unix.SYS_SIGALTSTACK, Reason: "Go runtime"},
	{Nr: unix.SYS_GETPID, Reason: "Go runtime"},
	{Nr: unix.SYS_GETTID, Reason: "Go runtime, ptrace bookkeeping"},
	{Nr: unix.SYS_TGKILL, Reason: "Go runtime preemption; interrupting stub threads"},
	{Nr: unix.SYS_SCHED_YIELD, Reason: "Go runtime"},
	{Nr: unix.SYS_SCHED_GETAFFINITY, Reason: "Go runtime, CPU count"},
	{Nr: unix.SYS_GETCPU, Reason: "net broker requests name the CPU to answer from"},
	{Nr: unix.SYS_NANOSLEEP, Reason: "Go runtime"},
	{Nr: unix.SYS_CLOCK_GETTIME, Reason: "time for the app"},
	{Nr: unix.SYS_CLOCK_NANOSLEEP, Reason: "Go runtime"},
	// Found by TestKernelMakesOnlyAllowedHostSyscalls: denied, a signal-interrupted wait ended early with EPERM.
	{Nr: unix.SYS_RESTART_SYSCALL, Reason: "the host resumes a signal-interrupted nanosleep or timed futex wait of the Go runtime through it"},
	{Nr: unix.SYS_GETRANDOM, Reason: "getrandom for the app, /dev/urandom"},
	{Nr: unix.SYS_EPOLL_CREATE1, Reason: "Go netpoller"},
	{Nr: unix.SYS_EPOLL_CTL, Reason: "Go netpoller"},
	{Nr: unix.SYS_EPOLL_PWAIT, Reason: "Go netpoller"},
	{Nr: unix.SYS_EPOLL_PWAIT2, Reason: "Go netpoller"},
	{Nr: unix.SYS_PIPE2, Reason: "Go runtime netpoll wake-up"},
	// MSG_FASTOPEN would let a send on an unconnected broker TCP socket pick its destination.
	{Nr: unix.SYS_SENDMSG, Reason: "gofer protocol", Unless: []seccomp.Arg{{Index: 2, Mask: unix.MSG_FASTOPEN, Value: unix.MSG_FASTOPEN}}},
	{Nr: unix.SYS_RECVMSG, Reason: "gofer protocol (receiving donated FDs)"},
	{Nr: unix.SYS_SENDTO, Reason: "gofer protocol", Unless: []seccomp.Arg{{Index: 3, Mask: unix.MSG_FASTOPEN, Value: unix.MSG_FASTOPEN}}},
	{Nr: unix.SYS_ACCEPT4, Reason: "accepting on listening TCP sockets the net broker bound and checked"},
	{Nr: unix.SYS_GETSOCKNAME, Reason: "local addresses of broker-donated TCP sockets"},
	// TCP_FASTOPEN_CONNECT (30) would defer a connect to a later send; no other level uses 30.
	{Nr: unix.SYS_SETSOCKOPT, Reason: "TCP and IP options of broker-donated sockets", Unless: []seccomp.Arg{{Index: 2, Mask: ^uint32(0), Value: 30}}},
	{Nr: unix.SYS_RECVFROM, Reason: "gofer protocol"},
	{Nr: unix.SYS_SHUTDOWN, Reason: "closing the gofer connection; shutdown(2) on app sockets"},
	{Nr: unix.SYS_SOCKETPAIR, Reason: "socketpair(2) for the app: a kernel-held pair reaching nothing outside"},
	{Nr: unix.SYS_GETSOCKOPT, Reason: "SO_PEERCRED of broker-donated sockets"},
	{Nr: unix.SYS_SETSOCKOPT, Reason: "socket options of kernel-held socketpairs (peek offset) and of a probe socket that rounds buffer sizes and timeouts as the host does"},
	{Nr: unix.SYS_SYSINFO, Reason: "sysinfo and /proc/meminfo for the app"},
	{Nr: unix.SYS_PRCTL, Reason: "thread names, capability state"},
	{Nr: unix.SYS_DUP, Reason: "duplicating FDs"},
	{Nr: unix.SYS_DUP3, Reason: "duplicating FDs"},
	{Nr: unix.SYS_GETRLIMIT, Reason: "Go runtime"},
	{Nr: unix.SYS_PRLIMIT64, Reason: "Go runtime"},
	{Nr: unix.SYS_UNAME, Reason: "Go runtime"},
	{Nr: unix.SYS_RSEQ, Reason: "Go runtime / libc probing"},
	{Nr: unix.SYS_MEMBARRIER, Reason: "Go runtime"},
	{Nr: unix.SYS_SETITIMER, Reason: "Go profiler"},
	{Nr: unix.SYS_TIMER_CREATE, Reason: "Go runtime timers"},
	{Nr: unix.SYS_TIMER_SETTIME, Reason: "Go runtime timers"},
	{Nr: unix.SYS_TIMER_DELETE, Reason: "Go runtime timers"},
	{Nr: unix.SYS_SET_ROBUST_LIST, Reason: "Go runtime threads"},
	{Nr: unix.SYS_CAPGET, Reason: "reading capability state"},
	{Nr: unix.SYS_TIMERFD_GETTIME, Reason: "telling a received timerfd from other anonymous files, for /proc/PID/fd (host.anonName)"},
}
