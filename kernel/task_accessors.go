package kernel

import (
	"github.com/sbx-dev/sbx/platform"
	"time"

	"golang.org/x/sys/unix"
)

// Uptime is how long the sandbox has run (what /proc/uptime and sysinfo report).
func (k *Kernel) Uptime() time.Duration { return time.Since(k.Start) }

// SetClearChildTID records set_tid_address's pointer.
func (t *Task) SetClearChildTID(addr uint64) { t.clearChildTID = addr }

// ClearChildTID returns set_tid_address's pointer (PR_GET_TID_ADDRESS).
func (t *Task) ClearChildTID() uint64 { return t.clearChildTID }

// SetRobustList records set_robust_list's head.
func (t *Task) SetRobustList(addr uint64) { t.robustList = addr }

// RobustList returns the robust list head.
func (t *Task) RobustList() uint64 { return t.robustList }

// Dumpable reports PR_GET_DUMPABLE.
func (tg *ThreadGroup) Dumpable() bool {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.dumpable
}

// SetDumpable sets PR_SET_DUMPABLE.
func (tg *ThreadGroup) SetDumpable(v bool) {
	tg.mu.Lock()
	tg.dumpable = v
	tg.mu.Unlock()
}

// NoNewPrivs reports PR_GET_NO_NEW_PRIVS.
func (tg *ThreadGroup) NoNewPrivs() bool {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.noNewPrivs
}

// SetNoNewPrivs sets no_new_privs (it can never be cleared).
func (tg *ThreadGroup) SetNoNewPrivs() {
	tg.mu.Lock()
	tg.noNewPrivs = true
	tg.mu.Unlock()
}

// PdeathSignal reports PR_GET_PDEATHSIG.
func (tg *ThreadGroup) PdeathSignal() int {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.pdeathSignal
}

// SetPdeathSignal sets PR_SET_PDEATHSIG.
func (tg *ThreadGroup) SetPdeathSignal(sig int) {
	tg.mu.Lock()
	tg.pdeathSignal = sig
	tg.mu.Unlock()
}

// SetPgid moves the process into process group pgid.
func (tg *ThreadGroup) SetPgid(pgid int32) error {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.sid == tg.PID {
		return unix.EPERM // a session leader cannot change its process group
	}
	tg.pgid = pgid
	return nil
}

// PrctlState is what prctl(2) options that hold a value keep for a process.
type PrctlState struct {
	KeepCaps   bool   // PR_SET_KEEPCAPS (cleared by execve)
	TimerSlack uint64 // PR_SET_TIMERSLACK, in nanoseconds (0: the default, 50 µs)
	THPDisable bool   // PR_SET_THP_DISABLE
	Subreaper  bool   // PR_SET_CHILD_SUBREAPER (not inherited)
	// Personality is personality(2)'s execution domain and flags (inherited, kept by
	// execve); ADDR_NO_RANDOMIZE turns off the loader's randomisation.
	Personality uint32
}

// forked is the state a fork's child starts with.
func (p PrctlState) forked() PrctlState {
	p.Subreaper = false
	return p
}

// Prctl returns the process's prctl state.
func (tg *ThreadGroup) Prctl() PrctlState {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.prctl
}

// SetPrctl changes the process's prctl state with f.
func (tg *ThreadGroup) SetPrctl(f func(*PrctlState)) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	f(&tg.prctl)
}

// SetPgidOf moves target (the caller tg itself or a child of it) into the process group
// pgid (root namespace numbers), with setpgid(2)'s rules: another process than a child is
// ESRCH, a child in another session EPERM, a child that has exec'd EACCES, a session
// leader EPERM, and a group other than target's own must exist in the caller's session
// (EPERM).
func (tg *ThreadGroup) SetPgidOf(k *Kernel, target *ThreadGroup, pgid int32) error {
	tg.mu.Lock()
	sid := tg.sid
	tg.mu.Unlock()
	if target != tg {
		target.mu.Lock()
		parent, tsid, execed := target.parent, target.sid, target.execed
		target.mu.Unlock()
		switch {
		case parent != tg:
			return unix.ESRCH
		case tsid != sid:
			return unix.EPERM
		case execed:
			return unix.EACCES
		}
	}
	if pgid != target.PID {
		found := false
		for _, g := range k.Groups() {
			g.mu.Lock()
			found = g.pgid == pgid && g.sid == sid && !g.zombie
			g.mu.Unlock()
			if found {
				break
			}
		}
		if !found {
			return unix.EPERM
		}
	}
	return target.SetPgid(pgid)
}

// Setsid makes the process a session leader (setsid(2)).
func (tg *ThreadGroup) Setsid() (uint64, error) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.pgid == tg.PID {
		return 0, unix.EPERM
	}
	tg.sid, tg.pgid, tg.noCtty = tg.PID, tg.PID, false
	return uint64(tg.PID), nil
}

// StartTime is when the process started.
func (tg *ThreadGroup) StartTime() time.Time { return tg.startTime }

// CPUTimes returns the thread's user and system CPU time (app code in its stubs, and the
// kernel's work for it).
func (t *Task) CPUTimes() (user, sys time.Duration) {
	if c, ok := t.cpuCtx.Load().(platform.Context); ok {
		return c.CPUTime()
	}
	return 0, 0
}

// CPUTime returns the thread's total CPU time.
func (t *Task) CPUTime() time.Duration {
	u, s := t.CPUTimes()
	return u + s
}

// CPUTimes returns the process's user and system CPU time: its live threads' and its
// exited ones'.
func (tg *ThreadGroup) CPUTimes() (user, sys time.Duration) {
	tg.mu.Lock()
	user, sys = tg.deadCPU[0], tg.deadCPU[1]
	tasks := tg.taskListLocked()
	tg.mu.Unlock()
	for _, t := range tasks {
		u, s := t.CPUTimes()
		user += u
		sys += s
	}
	return user, sys
}

// ChildCPUTimes returns the user and system CPU time of the reaped children (RUSAGE_CHILDREN).
func (tg *ThreadGroup) ChildCPUTimes() (user, sys time.Duration) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.childCPU[0], tg.childCPU[1]
}

// UmaskValue returns the process's umask.
func (tg *ThreadGroup) UmaskValue() uint32 {
	return tg.fsCtx().umaskValue()
}

// LastPID is the most recently allocated PID (/proc/sys/kernel/ns_last_pid).
func (k *Kernel) LastPID() int32 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.nextPID - 1
}

// Keyrings returns the process's session and process keyrings (nil when it has none).
func (tg *ThreadGroup) Keyrings() (session, process any) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.sessionKeyring, tg.processKeyring
}

// SetSessionKeyring replaces the process's session keyring.
func (tg *ThreadGroup) SetSessionKeyring(k any) {
	tg.mu.Lock()
	tg.sessionKeyring = k
	tg.mu.Unlock()
}

// InstallProcessKeyring sets the process keyring to k unless one exists, and returns the
// one in place (threads racing to create it agree on one).
func (tg *ThreadGroup) InstallProcessKeyring(k any) any {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.processKeyring == nil {
		tg.processKeyring = k
	}
	return tg.processKeyring
}

// ThreadKeyringDue is the thread keyring of a new thread whose creator had one: Linux
// gives such a thread a fresh keyring (copy_creds); the key code makes it on first use.
type ThreadKeyringDue struct{}

// ThreadKeyring returns the thread's keyring (nil when it has none).
func (t *Task) ThreadKeyring() any {
	t.tg.mu.Lock()
	defer t.tg.mu.Unlock()
	return t.threadKeyring
}

// SetThreadKeyring sets the thread's keyring.
func (t *Task) SetThreadKeyring(k any) {
	t.tg.mu.Lock()
	t.threadKeyring = k
	t.tg.mu.Unlock()
}

// SchedPolicy returns the thread's scheduling policy (SCHED_RESET_ON_FORK included).
func (t *Task) SchedPolicy() int32 { return t.schedPolicy.Load() }

// SetSchedPolicy sets the thread's scheduling policy.
func (t *Task) SetSchedPolicy(p int32) { t.schedPolicy.Store(p) }
