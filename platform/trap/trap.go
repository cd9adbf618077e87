// Package trap registers the trap platform: app code runs in the same stub processes as the
// ptrace platform's, but in an untraced thread whose seccomp filter traps every syscall
// (SECCOMP_RET_TRAP) into a SIGSYS handler in the stub; the handler exchanges registers and
// FP state with the kernel's task goroutine through a shared area (spin briefly, then
// futex), so no ptrace stop is on the syscall path. Faults and synchronous signals take the
// same path; the kernel interrupts a running thread with a signal.
//
// The machinery lives with the ptrace platform's (platform/ptrace, trap.go and
// trapstub_amd64.s), which it shares: stub start-up, and address spaces kept in step by
// injecting mmap/munmap/mprotect into each stub's traced main thread.
package trap

import (
	"os"

	"github.com/sbx-dev/sbx/platform"
	"github.com/sbx-dev/sbx/platform/ptrace"
)

func init() {
	platform.Register(platform.Constructor{
		Name:         "trap",
		New:          func(f *os.File) (platform.Platform, error) { return ptrace.NewTrap(f) },
		Probe:        ptrace.ProbeTrap,
		AutoRank:     20,
		HostSyscalls: append(append([]platform.HostSyscall(nil), ptrace.StubHostSyscalls...), ptrace.TrapHostSyscalls...),
	})
}
