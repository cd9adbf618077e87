package kernel

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/sbx-dev/sbx/kernel/seccomp"
)

// seccompState is a task's seccomp mode and filter chain. Immutable: changes store a new
// value, so the syscall path reads it with one atomic load and no lock.
type seccompState struct {
	mode   int
	filter *seccomp.Filter
}

// SIGSYS si_code of a seccomp trap (SYS_SECCOMP).
const sysSeccomp = 1

// SeccompMode returns the task's seccomp mode (PR_GET_SECCOMP, /proc/PID/status).
func (t *Task) SeccompMode() int {
	if s := t.seccomp.Load(); s != nil {
		return s.mode
	}
	return seccomp.ModeDisabled
}

// SeccompFilters returns the number of filters the task runs (/proc/PID/status).
func (t *Task) SeccompFilters() int {
	if s := t.seccomp.Load(); s != nil {
		return s.filter.Count()
	}
	return 0
}

// SeccompFilter returns the task's filter chain (nil when none).
func (t *Task) SeccompFilter() *seccomp.Filter {
	if s := t.seccomp.Load(); s != nil {
		return s.filter
	}
	return nil
}

// SetSeccompStrict puts the task in strict mode (SECCOMP_SET_MODE_STRICT): EINVAL when it
// already filters.
func (t *Task) SetSeccompStrict() error {
	t.tg.mu.Lock()
	defer t.tg.mu.Unlock()
	if m := t.SeccompMode(); m != seccomp.ModeDisabled && m != seccomp.ModeStrict {
		return unix.EINVAL
	}
	t.setSeccomp(&seccompState{mode: seccomp.ModeStrict})
	return nil
}

// SeccompAddOptions are the choices of one SECCOMP_SET_MODE_FILTER.
type SeccompAddOptions struct {
	Prog []seccomp.Insn
	Log  bool
	// TSync applies the new chain to every thread of the process; TSyncESRCH reports a
	// thread that cannot take it as ESRCH rather than by its TID.
	TSync, TSyncESRCH bool
	// Listener, if set, receives the filter's USER_NOTIF results (NEW_LISTENER); EBUSY
	// when the chain already has one.
	Listener *seccomp.Listener
}

// AddSeccompFilter installs a filter on top of the task's chain. With TSync every other
// thread must run the caller's chain or an ancestor of it; the first that does not is
// returned as a TID (and nothing changes), as Linux does.
func (t *Task) AddSeccompFilter(o SeccompAddOptions) (*seccomp.Filter, int32, error) {
	t.tg.mu.Lock()
	defer t.tg.mu.Unlock()
	cur := t.seccomp.Load()
	var prev *seccomp.Filter
	if cur != nil {
		if cur.mode != seccomp.ModeFilter {
			return nil, 0, unix.EINVAL
		}
		prev = cur.filter
	}
	if o.Listener != nil && prev.HasListener() {
		return nil, 0, unix.EBUSY
	}
	if o.TSync {
		for o2 := range t.tg.tasks {
			if o2 == t {
				continue
			}
			s := o2.seccomp.Load()
			if s == nil || s.mode == seccomp.ModeFilter && prev.Descends(s.filter) {
				continue
			}
			if o.TSyncESRCH {
				return nil, 0, unix.ESRCH
			}
			return nil, o2.TID, nil
		}
	}
	f, err := seccomp.NewFilter(o.Prog, prev, o.Log, o.Listener)
	if err != nil {
		return nil, 0, err
	}
	st := &seccompState{mode: seccomp.ModeFilter, filter: f}
	t.setSeccomp(st)
	if o.TSync {
		for o2 := range t.tg.tasks {
			o2.setSeccomp(st)
		}
	}
	return f, 0, nil
}

// inheritSeccomp gives a new task its creator's seccomp state (fork, clone); under the
// group's lock, so a TSYNC cannot miss a thread being created.
func (t *Task) inheritSeccomp(child *Task) {
	t.tg.mu.Lock()
	child.setSeccomp(t.seccomp.Load())
	t.tg.mu.Unlock()
}

// setSeccomp installs the task's seccomp state (nil when it exits), counting it as a user
// of its chain's listener.
func (t *Task) setSeccomp(st *seccompState) {
	old := t.seccomp.Swap(st)
	nl, ol := st.listener(), old.listener()
	if nl == ol {
		return
	}
	if nl != nil {
		nl.AddUser()
	}
	if ol != nil {
		ol.DropUser()
	}
}

// listener is the listener of a filter chain (at most one), or nil.
func (s *seccompState) listener() *seccomp.Listener {
	if s == nil {
		return nil
	}
	for f := s.filter; f != nil; f = f.Prev() {
		if f.Listener != nil {
			return f.Listener
		}
	}
	return nil
}

// seccompEnter runs the task's seccomp state on the syscall it stopped at (before the
// handler, on the raw registers). It reports whether the syscall must be skipped; the
// task's registers then hold what the app sees.
//
// A 64-bit call's data are its x86-64 number and argument registers; an int 0x80 call's
// (compat) are its i386 number, AUDIT_ARCH_I386 and ebx, ecx, edx, esi, edi, ebp.
func (t *Task) seccompEnter(s *seccompState, nr uint64, compat bool) bool {
	if s.mode == seccomp.ModeStrict {
		if !compat && seccomp.StrictAllowed(nr) || compat && strictAllowed32(nr) {
			return false
		}
		t.k.debugf("task %d: seccomp strict mode: syscall %s killed the thread", t.TID, t.k.Syscalls.Name(nr))
		t.killThread(unix.SIGKILL)
		return true
	}
	d := seccomp.Data{Nr: int32(nr), Arch: seccomp.AuditArchX86_64, IP: t.Regs.Rip,
		Args: [6]uint64{t.Regs.Rdi, t.Regs.Rsi, t.Regs.Rdx, t.Regs.R10, t.Regs.R8, t.Regs.R9}}
	if compat {
		d.Arch = auditArchI386
		d.Args = compatArgs(&t.Regs)
	}
	ret, match := s.filter.Run(&d)
	data := ret & seccomp.RetData
	action := ret & seccomp.RetActionFull
	switch action {
	case seccomp.RetAllow:
		return false
	case seccomp.RetLog:
		t.k.debugf("task %d: seccomp log: syscall %s", t.TID, t.k.Syscalls.Name(nr))
		return false
	case seccomp.RetErrno:
		t.seccompLog(match, nr, action)
		t.Regs.Rax = negErrno(min(data, 4095))
		return true
	case seccomp.RetTrace:
		// No tracer attached (sbx has no guest ptrace of seccomp events): the call fails
		// with ENOSYS, as Linux does without a tracer.
		t.seccompLog(match, nr, action)
		t.Regs.Rax = negErrno(uint32(unix.ENOSYS))
		return true
	case seccomp.RetUserNotif:
		t.seccompLog(match, nr, action)
		return t.seccompNotify(match.Listener, d)
	case seccomp.RetTrap:
		t.seccompLog(match, nr, action)
		t.Regs.Rax = t.Regs.OrigRax // syscall_rollback: the handler sees rax = nr
		t.forceSignal(unix.SIGSYS, SigInfo{Code: sysSeccomp, Errno: int32(data), CallAddr: t.Regs.Rip,
			Syscall: int32(nr), Arch: d.Arch})
		return true
	case seccomp.RetKillThread:
		t.k.debugf("task %d: seccomp killed the thread at syscall %s", t.TID, t.k.Syscalls.Name(nr))
		t.Regs.Rax = t.Regs.OrigRax
		t.killThread(unix.SIGSYS)
		return true
	}
	// SECCOMP_RET_KILL_PROCESS and any action this kernel does not know.
	t.k.debugf("task %d: seccomp killed the process at syscall %s", t.TID, t.k.Syscalls.Name(nr))
	t.Regs.Rax = t.Regs.OrigRax
	t.exitGroup(exitStatusSignal(unix.SIGSYS))
	return true
}

// seccompNotify hands the syscall to the filter's listener and waits for the answer: the
// supervisor's value or error, or the syscall running as if allowed (FLAG_CONTINUE). With
// no listener, or when it goes away, the syscall fails with ENOSYS. A signal withdraws the
// notification and the syscall starts again after the handler, as Linux's ERESTARTSYS.
func (t *Task) seccompNotify(l *seccomp.Listener, d seccomp.Data) bool {
	if l == nil {
		t.Regs.Rax = negErrno(uint32(unix.ENOSYS))
		return true
	}
	n := l.Notify(t.TID, d, t, t.wakeUp)
	if n == nil {
		t.Regs.Rax = negErrno(uint32(unix.ENOSYS))
		return true
	}
	for {
		replied, closed := l.Result(n)
		if closed {
			t.Regs.Rax = negErrno(uint32(unix.ENOSYS))
			return true
		}
		if replied {
			switch {
			case n.Flags&seccomp.FlagContinue != 0:
				return false
			case n.Error != 0:
				t.Regs.Rax = uint64(int64(n.Error))
			default:
				t.Regs.Rax = uint64(n.Val)
			}
			return true
		}
		if err := t.sleep(nil, time.Time{}); err == unix.EINTR {
			l.Cancel(n)
			if replied, _ := l.Result(n); replied {
				continue // answered just before the signal: take the answer
			}
			t.Regs.Rip -= 2
			t.Regs.Rax = t.Regs.OrigRax
			return true
		}
	}
}

// seccompLog logs an action of a filter installed with SECCOMP_FILTER_FLAG_LOG.
func (t *Task) seccompLog(f *seccomp.Filter, nr uint64, action uint32) {
	if f != nil && f.Log {
		t.k.debugf("task %d: seccomp action %#x on syscall %s", t.TID, action, t.k.Syscalls.Name(nr))
	}
}

// killThread ends the calling thread with sig; the last thread of its process takes the
// process with it, killed by sig (Linux's do_exit from seccomp).
func (t *Task) killThread(sig unix.Signal) {
	t.tg.mu.Lock()
	last := len(t.tg.tasks) == 1
	t.tg.mu.Unlock()
	if last {
		t.exitGroup(exitStatusSignal(sig))
		return
	}
	t.killed.Store(true)
}

// forceSignal sends sig to the task itself so that it cannot be ignored or blocked away:
// an ignored disposition is reset to the default and the signal unblocked, as Linux's
// force_sig_info does.
func (t *Task) forceSignal(sig unix.Signal, info SigInfo) {
	bit := uint64(1) << (sig - 1)
	s := t.tg.signals()
	s.mu.Lock()
	blocked := t.sigMask.Load()&bit != 0
	if blocked || s.actions[sig].Handler == SigIgn {
		s.actions[sig] = SigAction{}
		if blocked {
			t.sigMask.Store(t.sigMask.Load() &^ bit)
		}
	}
	s.mu.Unlock()
	t.k.SignalThread(t, sig, info)
}

// negErrno is the rax of a syscall that failed with errno e.
func negErrno(e uint32) uint64 { return uint64(-int64(e)) }
