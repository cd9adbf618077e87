package sandbox

import (
	"testing"

	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// TestKernelFilterIsComposedPerPlatform: the kernel's allow-list holds a platform's host
// syscalls only when it runs that platform, each once.
func TestKernelFilterIsComposedPerPlatform(t *testing.T) {
	for _, r := range kernelSyscalls {
		if r.Nr == unix.SYS_PTRACE || r.Nr == unix.SYS_EXECVE {
			t.Errorf("kernelSyscalls allows %d (%s) for every platform; it belongs to the platforms that need it", r.Nr, r.Reason)
		}
	}
	for _, name := range []string{"ptrace", "trap"} {
		c, ok := platform.Lookup(name)
		if !ok {
			t.Fatalf("platform %s is not registered", name)
		}
		rules := kernelFilter(c)
		seen := map[uintptr]int{}
		for _, r := range rules {
			seen[r.Nr]++
		}
		for _, h := range c.HostSyscalls {
			if seen[h.Nr] != 1 {
				t.Errorf("%s: host syscall %d (%s) appears %d times in the kernel's filter, want once", name, h.Nr, h.Reason, seen[h.Nr])
			}
		}
		if seen[unix.SYS_PTRACE] != 1 || seen[unix.SYS_EXECVE] != 1 {
			t.Errorf("%s: the filter lacks ptrace or execve, which every stub platform needs", name)
		}
		if seen[unix.SYS_MEMFD_CREATE] != 1 {
			t.Errorf("%s: memfd_create appears %d times, want once (host-backed memfds)", name, seen[unix.SYS_MEMFD_CREATE])
		}
	}
}
