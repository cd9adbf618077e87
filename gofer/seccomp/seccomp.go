// Package seccomp builds and installs allow-list seccomp filters for sbx's own helper
// processes (gofer, kernel): every listed x86-64 syscall is allowed, anything else fails
// with EPERM, and a foreign architecture kills the process.
package seccomp

import "golang.org/x/sys/unix"

// Rule allows one syscall; Reason documents why the process needs it.
type Rule struct {
	Nr     uintptr
	Reason string
}

const auditArchX8664 = 0xc000003e

// Program returns the BPF program for rules.
func Program(rules []Rule) []unix.SockFilter {
	const (
		ldW  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeqK = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		retK = unix.BPF_RET | unix.BPF_K
	)
	prog := []unix.SockFilter{
		{Code: ldW, K: 4}, // seccomp_data.arch
		{Code: jeqK, Jt: 1, Jf: 0, K: auditArchX8664},
		{Code: retK, K: unix.SECCOMP_RET_KILL_PROCESS},
		{Code: ldW, K: 0}, // seccomp_data.nr
	}
	for _, r := range rules {
		prog = append(prog, unix.SockFilter{Code: jeqK, Jt: 0, Jf: 1, K: uint32(r.Nr)},
			unix.SockFilter{Code: retK, K: unix.SECCOMP_RET_ALLOW})
	}
	return append(prog, unix.SockFilter{Code: retK, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)})
}
