package kernel

import (
	"time"

	"github.com/sbx-dev/sbx/kernel/waiter"

	"golang.org/x/sys/unix"
)

// Job control: SIGSTOP (and SIGTSTP, SIGTTIN, SIGTTOU under their default action) stop
// every thread of a process until SIGCONT or SIGKILL; the parent learns of both through
// SIGCHLD (CLD_STOPPED, CLD_CONTINUED, unless SA_NOCLDSTOP) and wait4's WUNTRACED and
// WCONTINUED.

// saNoCldStop is SA_NOCLDSTOP.
const saNoCldStop = 1

const stopSignals = 1<<(unix.SIGSTOP-1) | 1<<(unix.SIGTSTP-1) | 1<<(unix.SIGTTIN-1) | 1<<(unix.SIGTTOU-1)

func isStopSignal(sig unix.Signal) bool { return stopSignals&(1<<(sig-1)) != 0 }

// jobControlLocked applies what sending sig does to pending signals: a stop signal
// discards a pending SIGCONT and SIGCONT discards pending stop signals, for the process
// and its threads tasks. Locks: tg.sig.mu (tg.mu must not be held: it is not taken).
func (tg *ThreadGroup) jobControlLocked(sig unix.Signal, tasks []*Task) {
	var drop uint64
	switch {
	case sig == unix.SIGCONT:
		drop = stopSignals
	case isStopSignal(sig):
		drop = 1 << (unix.SIGCONT - 1)
	default:
		return
	}
	tg.sig.pending.drop(drop)
	for _, t := range tasks {
		t.sigPending.drop(drop)
	}
}

// stopGroup stops every thread of tg (the default action of a stop signal).
func (k *Kernel) stopGroup(tg *ThreadGroup, sig unix.Signal) {
	tg.mu.Lock()
	if tg.exiting || tg.zombie || tg.stopped {
		tg.mu.Unlock()
		return
	}
	tg.stopped, tg.stopSig, tg.waitStop, tg.waitCont = true, sig, true, false
	tasks := tg.taskListLocked()
	parent := tg.parent
	tg.mu.Unlock()
	for _, t := range tasks {
		t.Interrupt()
	}
	k.notifyJobControl(parent, tg, CldStopped, int32(sig))
}

// continueGroup resumes a stopped tg (SIGCONT, whatever its disposition).
func (k *Kernel) continueGroup(tg *ThreadGroup) {
	tg.mu.Lock()
	if !tg.stopped {
		tg.mu.Unlock()
		return
	}
	tg.stopped, tg.waitStop, tg.waitCont = false, false, true
	tasks := tg.taskListLocked()
	parent := tg.parent
	tg.mu.Unlock()
	for _, t := range tasks {
		t.wakeUp()
	}
	k.notifyJobControl(parent, tg, CldContinued, int32(unix.SIGCONT))
}

func (tg *ThreadGroup) taskListLocked() []*Task {
	tasks := make([]*Task, 0, len(tg.tasks))
	for t := range tg.tasks {
		tasks = append(tasks, t)
	}
	return tasks
}

// notifyJobControl tells the parent a child stopped or continued.
func (k *Kernel) notifyJobControl(parent, child *ThreadGroup, code, status int32) {
	if parent == nil {
		return
	}
	parent.sig.mu.Lock()
	act := parent.sig.actions[unix.SIGCHLD]
	parent.sig.mu.Unlock()
	if act.Flags&saNoCldStop == 0 {
		k.SignalGroupInfo(parent, unix.SIGCHLD, SigInfo{Code: code, PID: child.PID, UID: child.Creds().UID, Status: status})
	}
	parent.childExited(child) // wakes wait4/waitid
}

// Stopped reports whether the process is stopped (for /proc).
func (tg *ThreadGroup) Stopped() bool {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.stopped
}

// stopWait parks the task while its process is stopped; SIGCONT or SIGKILL ends it.
// Signals arriving meanwhile stay pending.
func (t *Task) stopWait() {
	for t.tg.Stopped() && !t.killed.Load() {
		t.interrupted.Store(false)
		t.sleep(nil, time.Time{})
	}
}

// Running reports whether a thread of the process runs or could (state R in /proc): one
// that is not waiting in the kernel.
func (tg *ThreadGroup) Running() bool {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	for t := range tg.tasks {
		if !t.sleeping.Load() {
			return true
		}
	}
	return false
}

// State returns the thread's state letter as /proc/PID/task/TID/stat shows it (proc(5)):
// 'Z' once the thread has exited (a leader that exits before its other threads stays a
// zombie, as on Linux) or its process is a zombie, 'T' while its process is stopped, 'S'
// while the thread waits in the kernel, 'R' otherwise. No wait here is uninterruptible
// (D), and the kernel has no ptrace stops (t).
func (t *Task) State() byte {
	tg := t.tg
	tg.mu.Lock()
	defer tg.mu.Unlock()
	_, live := tg.tasks[t]
	switch {
	case !live || tg.zombie:
		return 'Z'
	case tg.stopped:
		return 'T'
	case t.sleeping.Load():
		return 'S'
	}
	return 'R'
}

// ExitQueue is notified when the process exits.
func (tg *ThreadGroup) ExitQueue() *waiter.Queue { return &tg.exitQueue }
