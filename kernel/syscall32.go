package kernel

import "github.com/sbx-dev/sbx/platform"

// The int 0x80 entry from 64-bit code. Linux (with IA32_EMULATION, as every distribution
// kernel) runs such a call as the i386 system call numbered eax, with ebx, ecx, edx, esi,
// edi and ebp as its 32-bit arguments, whatever the process's own ABI. The platforms
// report a system call without saying which instruction made it; the kernel tells them
// apart itself: the syscall instruction leaves rcx = rip and r11 = rflags in the saved
// registers, so only when those differ can the call be an int 0x80, and then the two
// bytes before rip (cd 80) settle it. (A program that sets rcx and r11 so before an int
// 0x80 gets the 64-bit call it asked for; either way its calls reach only this kernel.)

// auditArchI386 is seccomp_data.arch of an i386 call (include/uapi/linux/audit.h).
const auditArchI386 = 0x40000003

// enteredByInt80 reports whether the instruction before rip is int 0x80.
func (t *Task) enteredByInt80() bool {
	var insn [2]byte
	if n, err := t.CopyIn(t.Regs.Rip-2, insn[:]); err != nil || n != 2 {
		return false
	}
	return insn == [2]byte{0xcd, 0x80}
}

// compatArgs are an i386 call's arguments: the low halves of ebx, ecx, edx, esi, edi, ebp.
func compatArgs(r *platform.Registers) [6]uint64 {
	return [6]uint64{uint64(uint32(r.Rbx)), uint64(uint32(r.Rcx)), uint64(uint32(r.Rdx)),
		uint64(uint32(r.Rsi)), uint64(uint32(r.Rdi)), uint64(uint32(r.Rbp))}
}

// strictAllowed32 are the calls SECCOMP_MODE_STRICT allows through the i386 entry: read,
// write, exit and sigreturn (mode1_syscalls_32).
func strictAllowed32(nr uint64) bool {
	return nr == 3 || nr == 4 || nr == 1 || nr == 119
}

// syscall32 dispatches an int 0x80 call through the i386 table.
func (t *Task) syscall32() {
	nr := uint64(uint32(t.Regs.OrigRax))
	t.counters.Total.Add(1)
	if s := t.seccomp.Load(); s != nil && t.seccompEnter(s, nr, true) {
		return
	}
	st := t.k.Syscalls.Compat
	if st == nil {
		st = &SyscallTable{}
	}
	var e *Syscall
	native := ^uint64(0)
	if nr < MaxSyscall {
		e = &st.Entries[nr]
		if e.Fn != nil {
			native = e.Native
			t.counters.PerNr[native].Add(1)
		}
	}
	t.dispatch(st, nr, native, e, compatArgs(&t.Regs))
}
