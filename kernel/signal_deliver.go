package kernel

import (
	"github.com/sbx-dev/sbx/kernel/abi"
	"time"

	"golang.org/x/sys/unix"
)

// sigaction flags (arch/x86/include/uapi/asm/signal.h).
const (
	saRestart   = 0x10000000
	saNodefer   = 0x40000000
	saResethand = 0x80000000
	saOnstack   = 0x08000000
	saSiginfo   = 0x4
	saRestorer  = 0x04000000
)

// redZone is the x86-64 ABI's area below rsp that a signal frame must not touch.
const redZone = 128

// signalFor returns the lowest pending signal the task does not block, clearing it.
func (t *Task) takeSignal() (unix.Signal, SigAction, SigInfo, bool) {
	s := t.tg.signals()
	s.mu.Lock()
	defer s.mu.Unlock()
	sig, info := t.dequeueLocked(^t.sigMask.Load())
	if sig == 0 {
		return 0, SigAction{}, SigInfo{}, false
	}
	act := s.actions[sig]
	if act.Flags&saResethand != 0 && act.Handler > SigIgn {
		// Only the handler goes back to SIG_DFL: flags, mask and restorer stay, as
		// sigaction(2) then shows them on Linux.
		s.actions[sig].Handler = SigDfl
	}
	return sig, act, info, true
}

// hasDeliverable reports whether a signal is pending and not blocked.
func (t *Task) hasDeliverable() (bool, bool) {
	s := t.tg.signals()
	s.mu.Lock()
	defer s.mu.Unlock()
	d := (s.pending.mask | t.sigPending.mask) &^ t.sigMask.Load()
	if d == 0 {
		return false, false
	}
	for sig := 1; sig <= 64; sig++ {
		if d&(1<<(sig-1)) != 0 {
			return true, s.actions[sig].Flags&saRestart != 0
		}
	}
	return false, false
}

// deliverSignals runs before the task returns to app code: pending, unblocked signals with
// handlers get signal frames; default and ignore dispositions are applied.
func (t *Task) deliverSignals() {
	for {
		t.stopWait()
		if t.killed.Load() {
			return
		}
		sig, act, info, ok := t.takeSignal()
		if !ok {
			if t.savedMaskValid {
				// A wait with a temporary mask (ppoll, pselect6, epoll_pwait, sigsuspend)
				// ended without a handler to run: the mask from before the call comes
				// back, and what it leaves unblocked is delivered now.
				t.sigMask.Store(t.savedMask)
				t.savedMaskValid = false
				continue
			}
			t.interrupted.Store(t.killed.Load())
			return
		}
		switch act.Handler {
		case SigIgn:
			continue
		case SigDfl:
			if isStopSignal(sig) {
				t.k.stopGroup(t.tg, sig)
				continue
			}
			if !defaultIgnored(sig) {
				t.exitGroup(exitStatusSignal(sig))
				return
			}
			continue
		}
		if err := t.setupFrame(sig, act, info); err != nil {
			// A frame that cannot be written kills the process with SIGSEGV, as Linux does.
			t.exitGroup(exitStatusSignal(unix.SIGSEGV))
			return
		}
		// Further deliverable signals get frames on top of this one, as on Linux: the last
		// one set up runs first, and each handler's mask holds back its own signal.
	}
}

func (t *Task) setupFrame(sig unix.Signal, act SigAction, si SigInfo) error {
	regs := t.Regs
	fp, _ := t.ctx.FPState()
	sp := regs.Rsp - redZone
	alt := t.AltStack()
	if act.Flags&saOnstack != 0 && alt.flagsAt(sp)&^SSAutoDisarm == 0 {
		sp = alt.SP + alt.Size // set and not already on it
	}
	var fpAddr uint64
	if len(fp) > 0 {
		sp -= uint64(len(fp))
		sp &^= 63
		fpAddr = sp
		if _, err := t.CopyOut(fpAddr, fp); err != nil {
			return err
		}
	}
	sp -= abi.SizeofRtSigframe
	sp = (sp &^ 15) - 8
	oldMask := t.sigMask.Load()
	if t.savedMaskValid {
		// sigsuspend: the handler returns to the mask from before the call.
		oldMask, t.savedMaskValid = t.savedMask, false
	}
	uc := abi.Ucontext{
		Stack: abi.StackT{SP: alt.SP, Flags: alt.flagsAt(regs.Rsp), Size: alt.Size},
		Mcontext: abi.Sigcontext{
			R8: regs.R8, R9: regs.R9, R10: regs.R10, R11: regs.R11, R12: regs.R12, R13: regs.R13, R14: regs.R14, R15: regs.R15,
			Rdi: regs.Rdi, Rsi: regs.Rsi, Rbp: regs.Rbp, Rbx: regs.Rbx, Rdx: regs.Rdx, Rax: regs.Rax, Rcx: regs.Rcx,
			Rsp: regs.Rsp, Rip: regs.Rip, Eflags: regs.Eflags, Cs: uint16(regs.Cs), Ss: uint16(regs.Ss), Fpstate: fpAddr,
		},
		Sigmask: oldMask,
	}
	b := make([]byte, abi.SizeofRtSigframe)
	abi.EncodeRtSigframe(b, act.Restorer, &uc, t.SeenSigInfo(si).Bytes(int(sig)))
	if _, err := t.CopyOut(sp, b); err != nil {
		return err
	}
	mask := t.sigMask.Load() | act.Mask
	if act.Flags&saNodefer == 0 {
		mask |= 1 << (sig - 1)
	}
	t.sigMask.Store(mask &^ (1<<(unix.SIGKILL-1) | 1<<(unix.SIGSTOP-1)))
	if alt.Flags&SSAutoDisarm != 0 {
		// The handler sees the stack disabled (it may set another); rt_sigreturn puts
		// back the one the frame saved.
		t.SetAltStack(AltStack{})
	}
	t.Regs.Rsp = sp
	t.Regs.Rip = act.Handler
	t.Regs.Rdi = uint64(sig)
	t.Regs.Rsi = sp + 8 + abi.SizeofUcontext
	t.Regs.Rdx = sp + 8
	t.Regs.Rax = 0
	t.Regs.Eflags &^= 0x400 | 0x100 // DF, TF
	return nil
}

// Sigreturn implements rt_sigreturn(2): the frame sits where the handler's ret left rsp.
func (t *Task) Sigreturn() error {
	frameSP := t.Regs.Rsp
	b := make([]byte, abi.SizeofUcontext)
	if _, err := t.CopyIn(t.Regs.Rsp, b); err != nil {
		t.exitGroup(exitStatusSignal(unix.SIGSEGV))
		return ErrNoReturn
	}
	var uc abi.Ucontext
	uc.Decode(b)
	mc := &uc.Mcontext
	r := &t.Regs
	r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15 = mc.R8, mc.R9, mc.R10, mc.R11, mc.R12, mc.R13, mc.R14, mc.R15
	r.Rdi, r.Rsi, r.Rbp, r.Rbx, r.Rdx, r.Rax, r.Rcx = mc.Rdi, mc.Rsi, mc.Rbp, mc.Rbx, mc.Rdx, mc.Rax, mc.Rcx
	r.Rsp, r.Rip = mc.Rsp, mc.Rip
	r.Eflags = mc.Eflags&0x0dd5 | 0x202 // user-changeable flags only, IF set
	r.Cs, r.Ss = 0x33, 0x2b
	r.OrigRax = ^uint64(0)
	if mc.Fpstate != 0 {
		if cur, err := t.ctx.FPState(); err == nil && len(cur) > 0 {
			fp := make([]byte, len(cur))
			if _, err := t.CopyIn(mc.Fpstate, fp); err == nil {
				t.ctx.SetFPState(fp)
			}
		}
	}
	t.sigMask.Store(uc.Sigmask &^ (1<<(unix.SIGKILL-1) | 1<<(unix.SIGSTOP-1)))
	// The frame's uc_stack is installed again, as sigaltstack would from the handler's
	// stack pointer (Linux 6.18 checks that one, not the interrupted one): a handler that
	// left the alternate stack set while running on it keeps that setting (EPERM), a
	// disarmed stack comes back.
	t.Sigaltstack(&AltStack{SP: uc.Stack.SP, Flags: uc.Stack.Flags, Size: uc.Stack.Size}, frameSP, MinSigStkSz)
	if ok, _ := t.hasDeliverable(); ok {
		t.interrupted.Store(true)
	}
	return ErrNoReturn
}

// Sigsuspend implements rt_sigsuspend(2): wait with mask until a signal is delivered.
func (t *Task) Sigsuspend(mask uint64) error {
	t.savedMask, t.savedMaskValid = t.sigMask.Load(), true
	t.sigMask.Store(mask &^ (1<<(unix.SIGKILL-1) | 1<<(unix.SIGSTOP-1)))
	for {
		if ok, _ := t.hasDeliverable(); ok {
			t.interrupted.Store(true)
			return unix.EINTR
		}
		if err := t.sleep(nil, time.Time{}); err == unix.EINTR {
			if ok, _ := t.hasDeliverable(); ok || t.killed.Load() {
				return unix.EINTR
			}
			t.interrupted.Store(false)
		}
	}
}

// SetWaitSigmask installs mask as the signal mask for the wait of ppoll, pselect6,
// epoll_pwait or epoll_pwait2 (Linux's set_user_sigmask) and keeps the mask it replaces.
// A signal the new mask unblocks that is already pending interrupts the wait at once. The
// call must end with EndWaitSigmask.
func (t *Task) SetWaitSigmask(mask uint64) {
	t.savedMask, t.savedMaskValid = t.sigMask.Load(), true
	t.sigMask.Store(mask &^ (1<<(unix.SIGKILL-1) | 1<<(unix.SIGSTOP-1)))
	if ok, _ := t.hasDeliverable(); ok {
		t.interrupted.Store(true)
	}
}

// EndWaitSigmask ends a wait begun with SetWaitSigmask, whose result was err (Linux's
// restore_saved_sigmask_unless). A wait a signal interrupted keeps the temporary mask until
// the signal is delivered: its handler runs under that mask and returns to the mask from
// before the call, which is then in its frame. Any other result restores the old mask now.
func (t *Task) EndWaitSigmask(err error) {
	if !t.savedMaskValid {
		return
	}
	if err == unix.EINTR && t.interrupted.Load() {
		return
	}
	t.sigMask.Store(t.savedMask)
	t.savedMaskValid = false
	if ok, _ := t.hasDeliverable(); ok {
		t.interrupted.Store(true)
	}
}

// Pause implements pause(2).
func (t *Task) Pause() error {
	for {
		if err := t.sleep(nil, time.Time{}); err == unix.EINTR {
			if ok, _ := t.hasDeliverable(); ok || t.killed.Load() {
				return unix.EINTR
			}
			t.interrupted.Store(false)
		}
	}
}
