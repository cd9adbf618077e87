package ptrace

import (
	"unsafe"

	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// platform.Registers has struct user_regs_struct's layout, so PTRACE_GETREGS and
// PTRACE_SETREGS read and write it in place.
var _ [unsafe.Sizeof(unix.PtraceRegs{})]byte = [unsafe.Sizeof(platform.Registers{})]byte{}

func getRegs(pid int, r *platform.Registers) error {
	return unix.PtraceGetRegs(pid, (*unix.PtraceRegs)(unsafe.Pointer(r)))
}

func setRegs(pid int, r *platform.Registers) error {
	return unix.PtraceSetRegs(pid, (*unix.PtraceRegs)(unsafe.Pointer(r)))
}

// ptraceRaw issues a ptrace request x/sys/unix does not wrap (PTRACE_SYSEMU).
func ptraceRaw(req, pid int, addr, data uintptr) error {
	_, _, e := unix.RawSyscall6(unix.SYS_PTRACE, uintptr(req), uintptr(pid), addr, data, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// ntX86XState is NT_X86_XSTATE (include/uapi/linux/elf.h).
const ntX86XState = 0x202

func getXState(pid int, buf []byte) (int, error) {
	iov := unix.Iovec{Base: &buf[0]}
	iov.SetLen(len(buf))
	_, _, e := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_GETREGSET, uintptr(pid), ntX86XState, uintptr(unsafe.Pointer(&iov)), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(iov.Len), nil
}

func setXState(pid int, buf []byte) error {
	iov := unix.Iovec{Base: &buf[0]}
	iov.SetLen(len(buf))
	_, _, e := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_SETREGSET, uintptr(pid), ntX86XState, uintptr(unsafe.Pointer(&iov)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func getSiginfo(pid int) (signo, code int32, addr uint64, err error) {
	var si [128]byte
	_, _, e := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_GETSIGINFO, uintptr(pid), 0, uintptr(unsafe.Pointer(&si[0])), 0, 0)
	if e != 0 {
		return 0, 0, 0, e
	}
	signo = *(*int32)(unsafe.Pointer(&si[0]))
	code = *(*int32)(unsafe.Pointer(&si[8]))
	addr = *(*uint64)(unsafe.Pointer(&si[16]))
	return signo, code, addr, nil
}

// raxOffset is offsetof(struct user, regs.rax).
const raxOffset = 10 * 8

// pokeRax writes only rax of a stopped tracee.
func pokeRax(pid int, v uint64) error {
	_, _, e := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_POKEUSR, uintptr(pid), raxOffset, uintptr(v), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
