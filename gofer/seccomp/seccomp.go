// Package seccomp builds and installs allow-list seccomp filters for sbx's own helper
// processes (gofer, kernel): every listed x86-64 syscall is allowed, anything else fails
// with EPERM, and a call through a foreign architecture's entry (int 0x80) never runs: it
// raises SIGSYS (SECCOMP_RET_TRAP). Trap rather than kill, because the kernel's trap-platform
// stubs inherit the kernel's filter and must receive their app's int 0x80 calls in their
// own SIGSYS handler (a kill would win over their filter's trap); for sbx's own Go
// processes SIGSYS is as fatal as a kill.
package seccomp

import "golang.org/x/sys/unix"

// Rule allows one syscall; Reason documents why the process needs it. Unless lists argument
// values that are refused (EPERM) even so.
type Rule struct {
	Nr     uintptr
	Reason string
	Unless []Arg
}

// Arg matches a syscall argument: (low 32 bits of argument Index) & Mask == Value.
type Arg struct {
	Index       int
	Mask, Value uint32
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
		{Code: retK, K: unix.SECCOMP_RET_TRAP},
		{Code: ldW, K: 0}, // seccomp_data.nr
	}
	const andK = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
	for _, r := range rules {
		prog = append(prog, unix.SockFilter{Code: jeqK, Jt: 0, Jf: uint8(1 + 4*len(r.Unless)), K: uint32(r.Nr)})
		for _, a := range r.Unless {
			prog = append(prog,
				unix.SockFilter{Code: ldW, K: uint32(16 + 8*a.Index)}, // seccomp_data.args[i], low word
				unix.SockFilter{Code: andK, K: a.Mask},
				unix.SockFilter{Code: jeqK, Jt: 0, Jf: 1, K: a.Value},
				unix.SockFilter{Code: retK, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)})
		}
		prog = append(prog, unix.SockFilter{Code: retK, K: unix.SECCOMP_RET_ALLOW})
	}
	return append(prog, unix.SockFilter{Code: retK, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)})
}
