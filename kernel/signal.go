package kernel

import (
	"github.com/sbx-dev/sbx/kernel/waiter"
	"sync"
	"time"

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
	fatal := sig == unix.SIGKILL || sig == unix.SIGSTOP
	bit := uint64(1) << (sig - 1)
	tg.mu.Lock()
	var target, waiting *Task
	blocked := false
	for t := range tg.tasks {
		if t.sigMask.Load()&bit != 0 {
			blocked = true
		}
		if t.sigWait.Load()&bit != 0 {
			waiting = t
		}
		if target == nil || t.sigMask.Load()&bit == 0 {
			target = t
		}
	}
	tg.mu.Unlock()
	s := tg.signals()
	s.mu.Lock()
	act := s.actions[sig]
	ignored := act.Handler == SigIgn || act.Handler == SigDfl && defaultIgnored(sig)
	if !fatal {
		// An ignored signal is discarded, unless it is blocked: then it stays pending for
		// sigwait, signalfd or a later change of disposition, as on Linux.
		if ignored && !blocked {
			s.mu.Unlock()
			return
		}
		// Pending until a thread that does not block it takes it (on its way back to app
		// code): handlers run there, default actions too.
		s.pending |= bit
	}
	s.mu.Unlock()
	if !fatal {
		tg.sigQueue.Notify(waiter.EventIn)
		if waiting != nil {
			waiting.wakeUp()
		}
	}
	if target == nil {
		return
	}
	if fatal {
		target.exitGroup(exitStatusSignal(sig))
		return
	}
	// An ignored signal kept pending for a thread that blocks it interrupts nobody.
	if target.sigMask.Load()&bit == 0 && !ignored {
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

// TakePendingSignal removes the lowest pending signal of the process in set and returns it
// (0 when none is): rt_sigtimedwait and signalfd accept signals this way.
func (t *Task) TakePendingSignal(set uint64) unix.Signal {
	s := t.tg.signals()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pending & set
	for sig := 1; sig <= 64; sig++ {
		if p&(1<<(sig-1)) != 0 {
			s.pending &^= 1 << (sig - 1)
			return unix.Signal(sig)
		}
	}
	return 0
}

// SignalQueue is the queue notified when a signal becomes pending for t's process.
func (t *Task) SignalQueue() *waiter.Queue { return &t.tg.sigQueue }

// WaitSignal blocks until a signal in set is pending (it is taken and returned), a signal
// outside set interrupts the wait (EINTR), or the deadline passes (EAGAIN).
func (t *Task) WaitSignal(set uint64, deadline time.Time, noWait bool) (unix.Signal, error) {
	t.sigWait.Store(set)
	defer t.sigWait.Store(0)
	for {
		if sig := t.TakePendingSignal(set); sig != 0 {
			return sig, nil
		}
		if noWait {
			return 0, unix.EAGAIN
		}
		switch err := t.sleep(nil, deadline); err {
		case nil:
		case unix.ETIMEDOUT:
			return 0, unix.EAGAIN
		default:
			return 0, err
		}
	}
}
