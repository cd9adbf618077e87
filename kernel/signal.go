package kernel

import (
	"sync"

	"golang.org/x/sys/unix"
)

// SigAction is struct kernel_sigaction (as rt_sigaction(2) passes it on x86-64).
type SigAction struct {
	Handler  uint64
	Flags    uint64
	Restorer uint64
	Mask     uint64
}

// Signal dispositions of SigAction.Handler.
const (
	SigDfl = 0
	SigIgn = 1
)

// signalState is a thread group's signal dispositions. Delivery to handlers comes with the
// signals work; until then a signal whose default action terminates kills the process, an
// ignored one is dropped, and one with a handler is recorded as pending.
type signalState struct {
	mu sync.Mutex
	// actions is indexed by signal number. protected by mu
	actions [65]SigAction
	// pending holds signals with handlers that were not delivered. protected by mu
	pending uint64
}

func (tg *ThreadGroup) signals() *signalState { return &tg.sig }

// SigAction reads and optionally replaces the disposition of sig.
func (t *Task) SigAction(sig int, act *SigAction) (SigAction, error) {
	if sig < 1 || sig > 64 {
		return SigAction{}, unix.EINVAL
	}
	s := t.tg.signals()
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.actions[sig]
	if act != nil {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			return SigAction{}, unix.EINVAL
		}
		s.actions[sig] = *act
	}
	return old, nil
}

// defaultIgnored are the signals whose default action is to do nothing.
func defaultIgnored(sig unix.Signal) bool {
	switch sig {
	case unix.SIGCHLD, unix.SIGURG, unix.SIGWINCH, unix.SIGCONT:
		return true
	}
	return false
}

// SendSignal sends sig to the process of task target, from within the kernel (SIGPIPE on a
// broken pipe, kill(2) inside the sandbox).
func (k *Kernel) SendSignal(target *Task, sig unix.Signal) {
	k.SignalGroup(target.tg, sig)
}

// SignalGroup sends sig to a thread group.
func (k *Kernel) SignalGroup(tg *ThreadGroup, sig unix.Signal) {
	if sig == 0 {
		return
	}
	s := tg.signals()
	s.mu.Lock()
	act := s.actions[sig]
	fatal := sig == unix.SIGKILL || sig == unix.SIGSTOP
	if !fatal {
		if act.Handler == SigIgn || act.Handler == SigDfl && defaultIgnored(sig) {
			s.mu.Unlock()
			return
		}
		// Pending until a thread that does not block it takes it (on its way back to app
		// code): handlers run there, default actions too.
		s.pending |= 1 << (sig - 1)
	}
	s.mu.Unlock()
	tg.mu.Lock()
	var target *Task
	for t := range tg.tasks {
		if target == nil || t.sigMask.Load()&(1<<(sig-1)) == 0 {
			target = t
		}
	}
	tg.mu.Unlock()
	if target == nil {
		return
	}
	if fatal {
		target.exitGroup(exitStatusSignal(sig))
		return
	}
	if target.sigMask.Load()&(1<<(sig-1)) == 0 {
		target.Interrupt()
	}
}

// AltStack is a sigaltstack(2) description.
type AltStack struct {
	SP    uint64
	Flags int32
	Size  uint64
}

// SigMask returns the task's blocked-signal mask.
func (t *Task) SigMask() uint64 { return t.sigMask.Load() }

// SetSigMask replaces the blocked-signal mask; a newly unblocked pending signal is delivered
// before the task returns to app code.
func (t *Task) SetSigMask(m uint64) {
	t.sigMask.Store(m)
	if ok, _ := t.hasDeliverable(); ok {
		t.interrupted.Store(true)
	}
}

// AltStack returns the alternate signal stack.
func (t *Task) AltStack() AltStack {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.altStack
}

// SetAltStack sets the alternate signal stack.
func (t *Task) SetAltStack(s AltStack) {
	t.mu.Lock()
	t.altStack = s
	t.mu.Unlock()
}

// PendingSignals returns the process's pending signals.
func (t *Task) PendingSignals() uint64 {
	s := t.tg.signals()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending
}
