package kvm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// exit is why a guest run ended, decoded.
type exit struct {
	syscall bool
	intr    bool   // KVM_RUN was interrupted by a signal (or immediate_exit)
	vector  uint64 // exception vector, when neither
	errc    uint64
	cr2     uint64
}

// vectors that push an error code.
const errCodeVectors = 1<<8 | 1<<10 | 1<<11 | 1<<12 | 1<<13 | 1<<14 | 1<<17 | 1<<21

// enter runs regs as the user state until the guest leaves ring 3: a syscall, an
// exception, or an interruption. regs is updated in place. log lists page-table entries
// (guest-physical) to rewrite from the guest first; flush reloads CR3 first.
func (v *vcpu) enter(regs *platform.Registers, log []uint64, flush bool) (exit, error) {
	if v.inUser && (flush || len(log) > 0) {
		// Interrupted in user mode, and the page tables changed since: the replay and the
		// CR3 reload run in ring 0, so the vCPU goes back in through the trampoline (regs
		// hold all of the app's state since the interruption).
		if err := v.leaveUser(); err != nil {
			return exit{}, err
		}
	}
	for len(log) > logMax {
		if err := v.replayOnly(log[:logMax]); err != nil {
			return exit{}, err
		}
		log = log[logMax:]
	}
	r := &v.run.Regs
	r.Rax, r.Rbx, r.Rcx, r.Rdx, r.Rsi, r.Rdi = regs.Rax, regs.Rbx, regs.Rcx, regs.Rdx, regs.Rsi, regs.Rdi
	r.Rbp = regs.Rbp
	r.R8, r.R9, r.R10, r.R11 = regs.R8, regs.R9, regs.R10, regs.R11
	r.R12, r.R13, r.R14, r.R15 = regs.R12, regs.R13, regs.R14, regs.R15
	rflags := regs.Eflags&0x3f7fd5 | 0x202
	if v.inUser {
		r.Rip, r.Rsp, r.Rflags = regs.Rip, regs.Rsp, rflags
	} else {
		// Ring 0 at the trampoline's iretq, over a frame on the ring-0 stack.
		top := v.stackTop()
		stk := v.m.page(v.stkGPA)
		f := stk[pageSize-40:]
		le := binary.LittleEndian
		le.PutUint64(f[0:], regs.Rip)
		le.PutUint64(f[8:], selUserCS)
		le.PutUint64(f[16:], rflags)
		le.PutUint64(f[24:], regs.Rsp)
		le.PutUint64(f[32:], selUserSS)
		r.Rsp = top - 40
		r.Rip = trampIret
		if flush {
			r.Rip = trampFlush
		}
		if len(log) > 0 {
			v.writeLog(log)
			le.PutUint64(stk[pageSize-48:], privVA+(v.logGPA-privGPA))
			r.Rsp, r.Rip = top-48, trampReplay
		}
		r.Rflags = 2
	}
	v.run.DirtyRegs = kvmSyncX86Regs
	if regs.FsBase != v.fsBase || regs.GsBase != v.gsBase {
		if err := setMSRs(v.fd, msrFSBase, regs.FsBase, msrGSBase, regs.GsBase); err != nil {
			return exit{}, fmt.Errorf("kvm: setting FS/GS base: %w", err)
		}
		v.fsBase, v.gsBase = regs.FsBase, regs.GsBase
	}
	for {
		_, err := ioctl(v.fd, kvmRunIoctl, 0)
		v.run.DirtyRegs = 0
		if err != nil {
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
				if v.midTrampoline() {
					v.run.ImmediateExit = 0
					continue
				}
				return v.interrupted(regs), nil
			}
			return exit{}, fmt.Errorf("kvm: KVM_RUN: %w", err)
		}
		switch v.run.ExitReason {
		case kvmExitIO:
			port := uint16(v.run.Exit[2]) | uint16(v.run.Exit[3])<<8
			if v.run.Sregs.CS.DPL != 0 {
				return exit{}, fmt.Errorf("kvm: I/O exit to port %#x from user mode at %#x", port, r.Rip)
			}
			v.inUser = false
			switch {
			case port == portSyscall && r.Rip == trampSys+2:
				v.saveGPRs(regs)
				regs.Rip, regs.Eflags = r.Rcx, r.R11
				regs.Rsp = r.Rsp
				return exit{syscall: true}, nil
			case port == portVector && (r.Rip >= trampVecs+2 && r.Rip < trampVecs+4*32 && (r.Rip-trampVecs-2)%4 == 0 || r.Rip == trampVecs+4*vecInt80+2):
				vec := (r.Rip - trampVecs - 2) / 4
				return v.exception(regs, vec)
			}
			return exit{}, fmt.Errorf("kvm: I/O exit to port %#x at %#x not from the trampoline", port, r.Rip)
		case kvmExitIntr:
			if v.midTrampoline() {
				v.run.ImmediateExit = 0
				continue
			}
			return v.interrupted(regs), nil
		case kvmExitShutdown:
			return exit{}, fmt.Errorf("kvm: the guest shut down (triple fault) at rip %#x", r.Rip)
		default:
			return exit{}, fmt.Errorf("kvm: unexpected exit reason %d at rip %#x", v.run.ExitReason, r.Rip)
		}
	}
}

// logMax is how many entries the per-vCPU log area holds.
const logMax = logPages*pageSize/8 - 1

func (v *vcpu) writeLog(log []uint64) {
	area := unsafe.Slice((*uint64)(unsafe.Pointer(&v.m.priv[v.logGPA-privGPA])), logMax+1)
	area[0] = uint64(len(log))
	for i, g := range log {
		area[1+i] = privVA + (g - privGPA)
	}
}

// replayOnly rewrites log's entries from ring 0 without entering user mode.
func (v *vcpu) replayOnly(log []uint64) error {
	v.writeLog(log)
	stk := v.m.page(v.stkGPA)
	le := binary.LittleEndian
	f := stk[pageSize-48:]
	le.PutUint64(f[0:], privVA+(v.logGPA-privGPA))
	le.PutUint64(f[8:], trampStop)
	le.PutUint64(f[16:], selKernelCS)
	le.PutUint64(f[24:], 2)
	le.PutUint64(f[32:], v.stackTop())
	le.PutUint64(f[40:], selKernelSS)
	r := &v.run.Regs
	saved := *r
	r.Rsp, r.Rip, r.Rflags = v.stackTop()-48, trampReplay, 2
	v.run.DirtyRegs = kvmSyncX86Regs
	for {
		_, err := ioctl(v.fd, kvmRunIoctl, 0)
		v.run.DirtyRegs = 0
		if err != nil {
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
				v.run.ImmediateExit = 0
				continue
			}
			return fmt.Errorf("kvm: KVM_RUN (page-table replay): %w", err)
		}
		if v.run.ExitReason == kvmExitIO && r.Rip == trampStop+2 {
			*r = saved
			return nil
		}
		if v.run.ExitReason == kvmExitIntr {
			continue
		}
		return fmt.Errorf("kvm: page-table replay ended with exit %d at %#x", v.run.ExitReason, r.Rip)
	}
}

// leaveUser puts a vCPU an interruption left in user mode back in ring 0 (its code and
// stack segments), so that the next entry runs the trampoline.
func (v *vcpu) leaveUser() error {
	var s kvmSregs
	if err := ioctlPtr(v.fd, kvmGetSregs, &s); err != nil {
		return fmt.Errorf("kvm: KVM_GET_SREGS: %w", err)
	}
	s.CS, s.SS = kernelSegments()
	if err := ioctlPtr(v.fd, kvmSetSregs, &s); err != nil {
		return fmt.Errorf("kvm: KVM_SET_SREGS: %w", err)
	}
	v.inUser = false
	return nil
}

// exception decodes the frame the CPU pushed on the ring-0 stack for vector vec.
func (v *vcpu) exception(regs *platform.Registers, vec uint64) (exit, error) {
	stk := v.m.page(v.stkGPA)
	le := binary.LittleEndian
	f := stk[pageSize-40:]
	e := exit{vector: vec}
	if errCodeVectors&(1<<vec) != 0 {
		f = stk[pageSize-48:]
		e.errc = le.Uint64(f)
		f = f[8:]
	}
	if cs := le.Uint64(f[8:]); cs != selUserCS {
		return exit{}, fmt.Errorf("kvm: exception %d in the trampoline (cs %#x, rip %#x)", vec, cs, le.Uint64(f))
	}
	v.saveGPRs(regs)
	if vec == 14 && le.Uint64(f) == trampSys {
		// PVM runs the SYSCALL target in user mode, so the fetch from the supervisor-only
		// trampoline faults: that fault is the syscall. (A jump to trampSys looks the same:
		// a syscall returning to an RCX the app chose, which it could do anyway.)
		regs.Rip, regs.Eflags = regs.Rcx, regs.R11
		regs.Rsp = le.Uint64(f[24:])
		return exit{syscall: true}, nil
	}
	regs.Rip = le.Uint64(f)
	regs.Eflags = le.Uint64(f[16:])
	regs.Rsp = le.Uint64(f[24:])
	if vec == vecInt80 {
		// int $0x80: a syscall whose rcx and r11 are the app's, and whose rip follows the
		// cd 80, which is how the kernel tells it from a 64-bit syscall.
		return exit{syscall: true}, nil
	}
	e.cr2 = v.run.Sregs.CR2
	return e, nil
}

func (v *vcpu) saveGPRs(regs *platform.Registers) {
	r := &v.run.Regs
	regs.Rax, regs.Rbx, regs.Rcx, regs.Rdx, regs.Rsi, regs.Rdi = r.Rax, r.Rbx, r.Rcx, r.Rdx, r.Rsi, r.Rdi
	regs.Rbp = r.Rbp
	regs.R8, regs.R9, regs.R10, regs.R11 = r.R8, r.R9, r.R10, r.R11
	regs.R12, regs.R13, regs.R14, regs.R15 = r.R12, r.R13, r.R14, r.R15
	regs.Cs, regs.Ss = selUserCS, selUserSS
	// The app may have changed its FS or GS base itself (wrfsbase/wrgsbase; the trampoline
	// never swaps GS), and the synced segment registers hold what the CPU has now.
	s := &v.run.Sregs
	regs.FsBase, regs.GsBase = s.FS.Base, s.GS.Base
	v.fsBase, v.gsBase = s.FS.Base, s.GS.Base
}

// midTrampoline reports whether the vCPU stopped in ring 0 after user code ran, on its way
// to an exit (a syscall or exception stub): it must run on to that exit.
func (v *vcpu) midTrampoline() bool {
	rip := v.run.Regs.Rip
	return v.run.Sregs.CS.DPL == 0 && !(rip >= trampIret && rip < trampVecs)
}

// interrupted handles a KVM_RUN cut short by a signal.
func (v *vcpu) interrupted(regs *platform.Registers) exit {
	r := &v.run.Regs
	if v.run.Sregs.CS.DPL == 3 {
		// In user mode: every register is the app's.
		v.saveGPRs(regs)
		regs.Rip, regs.Rsp, regs.Eflags = r.Rip, r.Rsp, r.Rflags
		v.inUser = true
	}
	// Otherwise still at the trampoline's iretq: regs are what the host set.
	return exit{intr: true}
}
