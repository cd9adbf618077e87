package launcher

import (
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// The sandbox's first process inherits the resource limits sbx was started with, as any
// child does across fork and execve (getrlimit(2)): `ulimit -n` inside says what it says
// outside.

// launchLimits returns the limits of every resource as the launching process set them.
func launchLimits() map[int][2]uint64 {
	out := make(map[int][2]uint64)
	for r := 0; r <= unix.RLIMIT_RTTIME; r++ {
		var l unix.Rlimit
		if err := unix.Getrlimit(r, &l); err == nil {
			out[r] = [2]uint64{l.Cur, l.Max}
		}
	}
	if soft, ok := originalNofile(); ok {
		out[unix.RLIMIT_NOFILE] = [2]uint64{soft, out[unix.RLIMIT_NOFILE][1]}
	}
	return out
}

// originalNofile returns the soft RLIMIT_NOFILE sbx was started with when Go changed it:
// the Go runtime raises its own soft limit to the hard limit minus one at start
// (syscall/rlimit.go) and gives the processes it starts the original back. A child of ours,
// stopped at its execve before any of its code ran, shows that original.
func originalNofile() (uint64, bool) {
	var l unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &l); err != nil || l.Max == 0 || l.Cur != l.Max-1 {
		return 0, false // untouched: the current limit is the original
	}
	// ptrace requests come from the thread that started the child.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"sbx-rlimit-probe"}, &syscall.ProcAttr{
		Env: []string{}, Sys: &syscall.SysProcAttr{Ptrace: true, Pdeathsig: syscall.SIGKILL}})
	if err != nil {
		return 0, false
	}
	defer func() {
		unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		for {
			if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
				return
			}
		}
	}()
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == nil {
			break
		}
		if err != unix.EINTR {
			return 0, false
		}
	}
	if !ws.Stopped() {
		return 0, false
	}
	var child unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &child); err != nil {
		return 0, false
	}
	return child.Cur, true
}

// startLimits are the limits the app starts with: the launching process's, with the plan's
// own (an OCI bundle's rlimits) set over them.
func startLimits(plan map[int][2]uint64) map[int][2]uint64 {
	l := launchLimits()
	for r, v := range plan {
		l[r] = v
	}
	return l
}
