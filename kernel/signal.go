package kernel

import (
	"github.com/sbx-dev/sbx/kernel/waiter"
	"math"
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

// signalState is a thread group's signal dispositions and its pending signals.
type signalState struct {
	mu sync.Mutex
	// actions is indexed by signal number. protected by mu
	actions [65]SigAction
	// pending holds the process's signals not delivered yet. protected by mu
	pending pendingSet
	// timerOverrun is, per POSIX timer, the overrun of its last delivered signal
	// (timer_getoverrun). protected by mu
	timerOverrun map[int32]int32
}

func (tg *ThreadGroup) signals() *signalState { return &tg.sig }

// SigAction reads and optionally replaces the disposition of sig.
func (t *Task) SigAction(sig int, act *SigAction) (SigAction, error) {
	if sig < 1 || sig > 64 {
		return SigAction{}, unix.EINVAL
	}
	var tasks []*Task
	if act != nil && handlerIgnores(unix.Signal(sig), act.Handler) {
		tasks = t.tg.Tasks()
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
		if handlerIgnores(unix.Signal(sig), act.Handler) {
			// POSIX: ignoring a pending signal discards it, blocked or not, for the
			// process and each of its threads.
			drop := uint64(1) << (sig - 1)
			s.pending.drop(drop)
			for _, tt := range tasks {
				tt.sigPending.drop(drop)
			}
		}
	}
	return old, nil
}

// handlerIgnores reports whether handler ignores sig: SIG_IGN, or SIG_DFL for a signal
// whose default action is to ignore it (Linux's sig_handler_ignored).
func handlerIgnores(sig unix.Signal, handler uint64) bool {
	return handler == SigIgn || handler == SigDfl && defaultIgnored(sig)
}

// ignoreInherited sets the signals of mask (bit sig-1) to SIG_IGN, as a process started
// with them ignored has them; SIGKILL and SIGSTOP cannot be ignored.
func (s *signalState) ignoreInherited(mask uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sig := 1; sig <= 64; sig++ {
		if mask&(1<<(sig-1)) != 0 && sig != int(unix.SIGKILL) && sig != int(unix.SIGSTOP) {
			s.actions[sig] = SigAction{Handler: SigIgn}
		}
	}
}

// resetOnExec applies execve(2) to the dispositions: caught signals go back to SIG_DFL,
// ignored ones stay ignored (SIGCHLD too), and handler flags, masks and restorers are gone.
// Pending signals and every thread's mask are kept.
func (s *signalState) resetOnExec() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sig := range s.actions {
		if s.actions[sig].Handler == SigIgn {
			s.actions[sig] = SigAction{Handler: SigIgn}
		} else {
			s.actions[sig] = SigAction{}
		}
	}
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
// broken pipe, SIGXFSZ): the target itself reads as the sender, as on Linux.
func (k *Kernel) SendSignal(target *Task, sig unix.Signal) {
	k.SignalGroupInfo(target.tg, sig, target.UserSigInfo(SIUser))
}

// SignalGroup sends sig to a thread group from the kernel (SI_KERNEL).
func (k *Kernel) SignalGroup(tg *ThreadGroup, sig unix.Signal) {
	k.SignalGroupInfo(tg, sig, SigInfo{Code: SIKernel})
}

// SignalGroupInfo sends sig with info to a thread group.
func (k *Kernel) SignalGroupInfo(tg *ThreadGroup, sig unix.Signal, info SigInfo) {
	if sig <= 0 || sig > 64 {
		return // (an exit signal from legacy clone may be any byte: Linux sends none then)
	}
	if sig == unix.SIGSTOP {
		tg.mu.Lock()
		tasks := tg.taskListLocked()
		tg.mu.Unlock()
		s := tg.signals()
		s.mu.Lock()
		tg.jobControlLocked(sig, tasks)
		s.mu.Unlock()
		k.stopGroup(tg, sig)
		return
	}
	if sig == unix.SIGCONT {
		k.continueGroup(tg)
	}
	fatal := sig == unix.SIGKILL
	bit := uint64(1) << (sig - 1)
	tg.mu.Lock()
	var target *Task
	blocked := false
	tasks := tg.taskListLocked()
	for t := range tg.tasks {
		if t.sigMask.Load()&bit != 0 {
			blocked = true
		}
		if target == nil || t.sigMask.Load()&bit == 0 {
			target = t
		}
	}
	tg.mu.Unlock()
	s := tg.signals()
	s.mu.Lock()
	tg.jobControlLocked(sig, tasks)
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
		s.pending.add(sig, info)
	}
	s.mu.Unlock()
	if !fatal {
		tg.sigQueue.Notify(waiter.EventIn)
		// Waiters are looked for only now that the signal is pending: a sigtimedwait that
		// stores its set after this look finds the signal when it takes s.mu to check, and
		// one that stored it before is seen here. Looking first (as this did) lost the
		// wake-up of a wait that began in between: a SIGURG raised by the host-socket
		// watcher while the app entered sigtimedwait slept out its whole timeout.
		for _, t := range tasks {
			if t.sigWait.Load()&bit != 0 {
				t.wakeUp()
			}
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

// AltStack is a sigaltstack(2) description: the stack as set (SP, Size; both zero when
// disabled) and the flags it was set with.
type AltStack struct {
	SP    uint64
	Flags int32
	Size  uint64
}

// sigaltstack flags (include/uapi/linux/signal.h).
const (
	SSOnStack    = 1
	SSDisable    = 2
	SSAutoDisarm = -1 << 31 // 1<<31 as ss_flags' int
	// MinSigStkSz is MINSIGSTKSZ, the smallest stack sigaltstack accepts.
	MinSigStkSz = 2048
)

// on reports whether sp is on the stack, as Linux's on_sig_stack: a stack set with
// SS_AUTODISARM is never "on" (it is disarmed while a handler runs on it).
func (s AltStack) on(sp uint64) bool {
	return s.Flags&SSAutoDisarm == 0 && sp > s.SP && sp-s.SP <= s.Size
}

// flagsAt are the ss_flags sigaltstack reports and a signal frame's uc_stack holds, for
// a thread whose stack pointer is sp: SS_DISABLE, SS_ONSTACK or 0, with SS_AUTODISARM kept.
func (s AltStack) flagsAt(sp uint64) int32 {
	f := int32(0)
	switch {
	case s.Size == 0:
		f = SSDisable
	case s.on(sp):
		f = SSOnStack
	}
	return f | s.Flags&SSAutoDisarm
}

// Sigaltstack implements sigaltstack(2) for the thread whose stack pointer is sp (Linux's
// do_sigaltstack): it returns the old stack with the flags to report and, when ss is not
// nil, installs ss — EPERM while running on the current one, EINVAL for a mode other than
// 0, SS_ONSTACK or SS_DISABLE, ENOMEM below minSize.
func (t *Task) Sigaltstack(ss *AltStack, sp, minSize uint64) (AltStack, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	cur := t.altStack
	old := AltStack{SP: cur.SP, Size: cur.Size, Flags: cur.flagsAt(sp)}
	if ss == nil {
		return old, nil
	}
	if cur.on(sp) {
		return old, unix.EPERM
	}
	n := *ss
	switch n.Flags &^ SSAutoDisarm {
	case 0, SSOnStack:
		if n == cur {
			return old, nil
		}
		if n.Size < minSize {
			return old, unix.ENOMEM
		}
	case SSDisable:
		n.SP, n.Size = 0, 0
	default:
		return old, unix.EINVAL
	}
	t.altStack = n
	return old, nil
}

// AltStack returns the alternate signal stack as set.
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

// PendingSignalMask returns the process's pending signals.
func (tg *ThreadGroup) PendingSignalMask() uint64 {
	s := tg.signals()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending.mask
}

// PendingSignals returns the signals pending for the task: its own and its process's.
func (t *Task) PendingSignals() uint64 {
	s := t.tg.signals()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending.mask | t.sigPending.mask
}

// TakePendingSignal removes the lowest signal in set pending for the task (its own first,
// then its process's) and returns it with its SigInfo (0 when none is): rt_sigtimedwait
// and signalfd accept signals this way.
func (t *Task) TakePendingSignal(set uint64) (unix.Signal, SigInfo) {
	s := t.tg.signals()
	s.mu.Lock()
	defer s.mu.Unlock()
	return t.dequeueLocked(set)
}

// dequeueLocked takes the lowest signal of set pending for t, thread-directed ones first.
// Locks: t.tg.sig.mu held.
func (t *Task) dequeueLocked(set uint64) (unix.Signal, SigInfo) {
	sig, info, ok := t.sigPending.take(set)
	if !ok {
		sig, info, ok = t.tg.sig.pending.take(set)
	}
	if !ok {
		return 0, SigInfo{}
	}
	if info.Code == SITimer {
		s := &t.tg.sig
		if s.timerOverrun == nil {
			s.timerOverrun = make(map[int32]int32)
		}
		s.timerOverrun[info.TimerID] = info.Overrun
	}
	return sig, info
}

// ResetTimerOverrun forgets a deleted timer's overrun (its id may be reused).
func (tg *ThreadGroup) ResetTimerOverrun(id int32) {
	s := tg.signals()
	s.mu.Lock()
	delete(s.timerOverrun, id)
	s.mu.Unlock()
}

// DropTimerSignal discards the queued signal sig of POSIX timer id, for the process and
// each of its threads: a timer set anew does not deliver the old setting's expiry (Linux
// drops such a stale signal when it would be dequeued).
func (tg *ThreadGroup) DropTimerSignal(sig unix.Signal, id int32) {
	if sig <= 0 || sig > 64 {
		return
	}
	tasks := tg.Tasks()
	s := tg.signals()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending.dropTimer(sig, id)
	for _, t := range tasks {
		t.sigPending.dropTimer(sig, id)
	}
}

// TimerLastOverrun returns the overrun of POSIX timer id's last delivered signal.
func (tg *ThreadGroup) TimerLastOverrun(id int32) int32 {
	s := tg.signals()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.timerOverrun[id]
}

// SignalThread sends sig with info to task t alone (tgkill, tkill, SIGEV_THREAD_ID
// timers): only t takes it, though its disposition is the process's.
func (k *Kernel) SignalThread(t *Task, sig unix.Signal, info SigInfo) {
	if sig <= 0 || sig > 64 {
		return
	}
	if sig == unix.SIGKILL || sig == unix.SIGSTOP || sig == unix.SIGCONT {
		// These act on the whole process wherever they are sent.
		k.SignalGroupInfo(t.tg, sig, info)
		return
	}
	bit := uint64(1) << (sig - 1)
	blocked := t.sigMask.Load()&bit != 0
	t.tg.mu.Lock()
	tasks := t.tg.taskListLocked()
	t.tg.mu.Unlock()
	s := t.tg.signals()
	s.mu.Lock()
	t.tg.jobControlLocked(sig, tasks)
	act := s.actions[sig]
	ignored := act.Handler == SigIgn || act.Handler == SigDfl && defaultIgnored(sig)
	if ignored && !blocked {
		s.mu.Unlock()
		return
	}
	t.sigPending.add(sig, info)
	s.mu.Unlock()
	t.tg.sigQueue.Notify(waiter.EventIn)
	if t.sigWait.Load()&bit != 0 {
		t.wakeUp()
	}
	if !blocked && !ignored {
		t.Interrupt()
	}
}

// SignalQueue is the queue notified when a signal becomes pending for t's process.
func (t *Task) SignalQueue() *waiter.Queue { return &t.tg.sigQueue }

// WaitSignal blocks until a signal in set is pending (it is taken and returned), a signal
// outside set interrupts the wait (EINTR), or the deadline passes (EAGAIN).
func (t *Task) WaitSignal(set uint64, deadline time.Time, noWait bool) (unix.Signal, SigInfo, error) {
	t.sigWait.Store(set)
	defer t.sigWait.Store(0)
	for {
		if sig, info := t.TakePendingSignal(set); sig != 0 {
			return sig, info, nil
		}
		if noWait {
			return 0, SigInfo{}, unix.EAGAIN
		}
		switch err := t.sleep(nil, deadline); err {
		case nil:
		case unix.ETIMEDOUT:
			return 0, SigInfo{}, unix.EAGAIN
		default:
			return 0, SigInfo{}, err
		}
	}
}

// TimerOverrun counts one more expiry of POSIX timer id into its signal sig while that is
// still pending (for thread t, or the process when t is nil), and returns the overrun the
// pending siginfo now carries (-1 when no such signal is pending).
func (tg *ThreadGroup) TimerOverrun(t *Task, sig unix.Signal, id int32) int32 {
	return tg.TimerOverrunBy(t, sig, id, 1)
}

// TimerOverrunBy is TimerOverrun for n expiries at once (a CPU-time timer found several
// intervals passed); the count stops at the largest int32, as Linux's DELAYTIMER_MAX.
func (tg *ThreadGroup) TimerOverrunBy(t *Task, sig unix.Signal, id int32, n int32) int32 {
	s := tg.signals()
	s.mu.Lock()
	defer s.mu.Unlock()
	set := &s.pending
	if t != nil {
		set = &t.sigPending
	}
	info := set.timerInfo(sig, id)
	if info == nil {
		return -1
	}
	info.Overrun = int32(min(int64(info.Overrun)+int64(n), math.MaxInt32))
	return info.Overrun
}

// SignalSets returns the process's ignored and caught signals (bit sig-1 each), as
// /proc/PID/status shows them.
func (tg *ThreadGroup) SignalSets() (ignored, caught uint64) {
	s := tg.signals()
	s.mu.Lock()
	defer s.mu.Unlock()
	for sig := 1; sig <= 64; sig++ {
		switch h := s.actions[sig].Handler; {
		case h == SigIgn:
			ignored |= 1 << (sig - 1)
		case h != SigDfl:
			caught |= 1 << (sig - 1)
		}
	}
	return ignored, caught
}
