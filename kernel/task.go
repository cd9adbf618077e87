package kernel

import (
	"crypto/rand"
	"fmt"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

var errAgain = unix.EAGAIN

// ThreadGroup is a process: the tasks sharing one PID, address space (normally), FD table,
// filesystem context, credentials and limits.
type ThreadGroup struct {
	k   *Kernel
	PID int32
	// ns are the process's namespaces (ns.go); pidNS is the PID namespace it is numbered
	// in (nil: the root one) and pidNrs its numbers at levels 1..pidNS.Level; both are
	// set at creation and never change.
	ns     atomic.Pointer[NSSet]
	pidNS  *PIDNS
	pidNrs []int32

	mu sync.Mutex
	// parent is the parent process (nil for init). protected by mu
	parent *ThreadGroup
	// children are live or zombie child processes. protected by mu
	children map[*ThreadGroup]struct{}
	// tasks are the live threads. protected by mu
	tasks map[*Task]struct{}
	// leader is the task whose TID is the PID: the first one, or the one that exec'd last.
	// protected by mu
	leader *Task
	// mm is the address space. protected by mu
	mm *mm.MM
	// fds is the FD table. protected by mu
	fds *vfs.FDTable
	// fs is the root, working directory and umask, shared by processes made with
	// CLONE_FS. protected by mu (the pointer; fs.mu guards the contents)
	fs *fsContext
	// creds are the process credentials. protected by mu
	creds vfs.Creds
	// limits are the resource limits (soft, hard). protected by mu
	limits map[int][2]uint64
	// comm, exe and argv describe the program. protected by mu
	comm string
	exe  vfs.VirtualDentry
	// exiting is set by exit_group; exitStatus is the wait status. protected by mu
	exiting    bool
	exitStatus int
	zombie     bool
	// pgid and sid are the process group and session. protected by mu
	pgid, sid int32
	// prctl is the state of prctl options that only remember a value. protected by mu
	prctl PrctlState
	// execed: the process has run execve since it was forked (Linux's !PF_FORKNOEXEC),
	// after which its parent may not change its process group. protected by mu
	execed bool
	// noCtty: the process gave up its session's controlling terminal (TIOCNOTTY by a
	// process that is not the session leader). protected by mu
	noCtty bool
	// sessionKeyring and processKeyring are the process's keyrings (keyrings(7)), opaque
	// here: kernel/syscalls/keys.go owns the keys. fork copies the session keyring and
	// starts without a process keyring; execve drops the process keyring. protected by mu
	sessionKeyring, processKeyring any
	// oomScoreAdj is /proc/PID/oom_score_adj; oomScoreAdjMin the lowest value a writer
	// without CAP_SYS_RESOURCE may set (oom.go). protected by mu
	oomScoreAdj, oomScoreAdjMin int16
	// dumpable, noNewPrivs, pdeathSignal are prctl state. protected by mu
	dumpable     bool
	noNewPrivs   bool
	pdeathSignal int
	// childExit wakes waiters in wait4. protected by mu
	childWaiters map[*Task]struct{}
	// stopped and stopSig are job-control state; waitStop and waitCont are a stop and a
	// continue not yet reported to the parent's wait. protected by mu
	stopped            bool
	stopSig            unix.Signal
	waitStop, waitCont bool

	startTime time.Time
	// exitSignal is sent to the parent when the process ends (SIGCHLD for fork; SIGCHLD
	// again once reparented). protected by mu
	exitSignal unix.Signal
	// sig holds signal dispositions; it has its own lock.
	sig signalState
	// sigQueue is notified when a signal becomes pending (signalfd waits on it).
	sigQueue waiter.Queue
	// exitQueue is notified when the process exits (pidfds wait on it).
	exitQueue waiter.Queue
	// exited is closed when the process has exited (its address space released) and
	// exitStatus is final.
	exited chan struct{}
	// deadCPU is the CPU time of the process's exited threads, childCPU that of its
	// reaped children (with theirs), user then system. protected by mu
	deadCPU, childCPU [2]time.Duration
}

// Task is one app thread.
type Task struct {
	// schedPolicy is sched_setscheduler's policy, with SCHED_RESET_ON_FORK.
	schedPolicy atomic.Int32
	// noPatch are the syscall sites this task found unpatchable (patch.go); the task's own.
	noPatch patchSkip
	k       *Kernel
	TID     int32
	tg      *ThreadGroup
	// pidNrs are the thread's numbers at levels 1..tg.pidNS.Level (ns_pid.go); changed
	// only by exec's becomeLeader, under k.mu.
	pidNrs []int32

	// Regs are the app registers; owned by the task goroutine.
	Regs platform.Registers
	ctx  platform.Context

	counters Counters

	// clearChildTID is set_tid_address's pointer; robustList is set_robust_list's.
	clearChildTID uint64
	robustList    uint64

	// wake is this task's event FD: everything that can end a block writes it.
	wake int
	// interrupted is set when a signal or kill needs the task's attention.
	interrupted atomic.Bool
	// sleeping is set while the task waits in the kernel (state S in /proc).
	sleeping atomic.Bool
	// killed is set when the task must exit (exit_group by another thread, SIGKILL).
	killed atomic.Bool
	// call is the system call in progress, kept only when the blocked-task watchdog is
	// on (watchdog.go).
	call atomic.Pointer[inCall]

	// threadKeyring is the thread's keyring (thread-keyring(7)), opaque here: never
	// inherited, dropped by execve. protected by tg.mu
	threadKeyring any

	// seccomp is the task's seccomp mode and filters (seccomp.go); nil when off.
	seccomp atomic.Pointer[seccompState]

	// sigMask is the blocked-signal mask.
	sigMask atomic.Uint64
	// sigWait is the set rt_sigtimedwait is waiting for (0: not waiting).
	sigWait atomic.Uint64
	// sigPending and sigInfo are the signals sent to this thread alone (tgkill, a timer's
	// SIGEV_THREAD_ID). protected by tg.sig.mu
	sigPending pendingSet

	mu sync.Mutex
	// name is the thread's comm. protected by mu
	name string
	// altStack is sigaltstack's stack. protected by mu
	altStack AltStack

	// cpuCtx is the task's platform context, for CPU time readers on other goroutines.
	cpuCtx atomic.Value // platform.Context

	// vforkDone is closed when a vfork child execs or exits, releasing its parent.
	vforkDone chan struct{}
	vforkOnce sync.Once
	// pendingFP is the FP state a cloned task starts with.
	pendingFP []byte
	// savedMask is the mask rt_sigsuspend replaced, restored when the handler returns.
	savedMask      uint64
	savedMaskValid bool
}

// Kernel returns the task's kernel.
func (t *Task) Kernel() *Kernel { return t.k }

// Group returns the task's thread group.
func (t *Task) Group() *ThreadGroup { return t.tg }

// MM returns the task's address space.
func (t *Task) MM() *mm.MM {
	t.tg.mu.Lock()
	defer t.tg.mu.Unlock()
	return t.tg.mm
}

// FDs returns the FD table.
func (t *Task) FDs() *vfs.FDTable {
	t.tg.mu.Lock()
	defer t.tg.mu.Unlock()
	return t.tg.fds
}

// Creds returns a copy of the credentials with the current umask.
func (t *Task) Creds() *vfs.Creds {
	t.tg.mu.Lock()
	defer t.tg.mu.Unlock()
	c := t.tg.creds
	c.Groups = append([]uint32(nil), c.Groups...)
	c.Umask = t.tg.fs.umaskValue()
	return &c
}

// SetCreds replaces the credentials.
func (t *Task) SetCreds(c vfs.Creds) {
	t.tg.mu.Lock()
	t.tg.creds = c
	t.tg.mu.Unlock()
}

// FSContext returns root and cwd.
func (t *Task) FSContext() (root, cwd vfs.VirtualDentry) { return t.tg.FSContext() }

// SetRoot changes the root directory (chroot).
func (t *Task) SetRoot(vd vfs.VirtualDentry) {
	f := t.tg.fsCtx()
	f.mu.Lock()
	f.root = vd
	f.mu.Unlock()
}

// SetCwd changes the working directory.
func (t *Task) SetCwd(vd vfs.VirtualDentry) {
	f := t.tg.fsCtx()
	f.mu.Lock()
	f.cwd = vd
	f.mu.Unlock()
}

// Umask returns and optionally sets the umask.
func (t *Task) Umask(set bool, v uint32) uint32 {
	f := t.tg.fsCtx()
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.umask
	if set {
		f.umask = v & 0o777
	}
	return old
}

// Name returns the thread's comm.
func (t *Task) Name() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.name
}

// SetName sets the comm (truncated to 15 bytes).
func (t *Task) SetName(n string) {
	if len(n) > 15 {
		n = n[:15]
	}
	t.mu.Lock()
	t.name = n
	t.mu.Unlock()
	// The leader's name is the process's (/proc/PID/comm and stat, ps).
	tg := t.tg
	tg.mu.Lock()
	if tg.leader == t {
		tg.comm = n
	}
	tg.mu.Unlock()
}

// CopyIn / CopyOut move bytes between app memory and the kernel.
func (t *Task) CopyIn(addr uint64, dst []byte) (int, error)  { return t.MM().CopyIn(addr, dst) }
func (t *Task) CopyOut(addr uint64, src []byte) (int, error) { return t.MM().CopyOut(addr, src) }

// CopyInString reads a NUL-terminated string.
func (t *Task) CopyInString(addr uint64, max int) (string, error) {
	return t.MM().CopyInString(addr, max)
}

// Limit returns the soft and hard limit of resource r.
func (t *Task) Limit(r int) (uint64, uint64) { return t.tg.Limit(r) }

// SetLimit sets resource r.
func (t *Task) SetLimit(r int, soft, hard uint64) { t.tg.SetLimit(r, soft, hard) }

// Limit returns the process's soft and hard limit of resource r.
func (tg *ThreadGroup) Limit(r int) (uint64, uint64) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	l := tg.limits[r]
	return l[0], l[1]
}

// SetLimit sets the process's resource r.
func (tg *ThreadGroup) SetLimit(r int, soft, hard uint64) {
	tg.mu.Lock()
	tg.limits[r] = [2]uint64{soft, hard}
	tg.mu.Unlock()
}

// Counters returns the task's syscall counters.
func (t *Task) Counters() *Counters { return &t.counters }

func defaultLimits() map[int][2]uint64 {
	inf := uint64(unix.RLIM_INFINITY)
	return map[int][2]uint64{
		unix.RLIMIT_CPU: {inf, inf}, unix.RLIMIT_FSIZE: {inf, inf}, unix.RLIMIT_DATA: {inf, inf},
		unix.RLIMIT_STACK: {8 << 20, inf}, unix.RLIMIT_CORE: {0, inf}, unix.RLIMIT_RSS: {inf, inf},
		unix.RLIMIT_NPROC: {63459, 63459}, unix.RLIMIT_NOFILE: {1024, 524288}, unix.RLIMIT_MEMLOCK: {8 << 20, 8 << 20},
		unix.RLIMIT_AS: {inf, inf}, unix.RLIMIT_LOCKS: {inf, inf}, unix.RLIMIT_SIGPENDING: {63459, 63459},
		unix.RLIMIT_MSGQUEUE: {819200, 819200}, unix.RLIMIT_NICE: {0, 0}, unix.RLIMIT_RTPRIO: {0, 0},
		unix.RLIMIT_RTTIME: {inf, inf},
	}
}

// NewInitGroup creates the first process of the sandbox with an empty FD table, before
// exec fills it.
func (k *Kernel) NewInitGroup(root, cwd vfs.VirtualDentry) (*Task, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	pid, err := k.allocPIDLocked()
	if err != nil {
		return nil, err
	}
	limits := defaultLimits()
	for r, l := range k.Limits {
		limits[r] = l
	}
	tg := &ThreadGroup{k: k, PID: pid, children: make(map[*ThreadGroup]struct{}), tasks: make(map[*Task]struct{}), exited: make(chan struct{}),
		fds: vfs.NewFDTable(), fs: &fsContext{root: root, cwd: cwd, umask: 0o022}, limits: limits, pgid: pid, sid: pid, dumpable: true,
		creds: vfs.Creds{UID: k.UID, EUID: k.UID, SUID: k.UID, FSUID: k.UID, GID: k.GID, EGID: k.GID, SGID: k.GID, FSGID: k.GID,
			Groups: append([]uint32(nil), k.SupplementaryGroups...)},
		childWaiters: make(map[*Task]struct{}), startTime: time.Now()}
	tg.oomScoreAdj = int16(max(oomScoreAdjMin, min(oomScoreAdjMax, k.OOMScoreAdj)))
	tg.oomScoreAdjMin = tg.oomScoreAdj
	tg.sig.ignoreInherited(k.IgnoredSignals)
	tg.ns.Store(k.rootNS)
	t, err := k.newTaskLocked(tg, pid)
	if err != nil {
		return nil, err
	}
	k.init = tg
	k.rootDentry = root
	return t, nil
}

// NewTopGroup creates a process started from outside the sandbox while it runs (an OCI
// runtime's exec): like the first process it has no parent inside (its parent PID is 0), its
// own session and process group; unlike it, the sandbox goes on when it exits. Exited reports
// its end and ExitStatus its wait status.
func (k *Kernel) NewTopGroup(root, cwd vfs.VirtualDentry) (*Task, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.init == nil {
		return nil, unix.ESRCH
	}
	pid, err := k.allocPIDLocked()
	if err != nil {
		return nil, err
	}
	limits := defaultLimits()
	for r, l := range k.Limits {
		limits[r] = l
	}
	tg := &ThreadGroup{k: k, PID: pid, children: make(map[*ThreadGroup]struct{}), tasks: make(map[*Task]struct{}),
		fds: vfs.NewFDTable(), fs: &fsContext{root: root, cwd: cwd, umask: 0o022}, limits: limits, pgid: pid, sid: pid, dumpable: true,
		creds:        vfs.Creds{UID: k.UID, EUID: k.UID, SUID: k.UID, FSUID: k.UID, GID: k.GID, EGID: k.GID, SGID: k.GID, FSGID: k.GID},
		childWaiters: make(map[*Task]struct{}), startTime: time.Now(), exited: make(chan struct{})}
	tg.oomScoreAdj = int16(max(oomScoreAdjMin, min(oomScoreAdjMax, k.OOMScoreAdj)))
	tg.oomScoreAdjMin = tg.oomScoreAdj
	tg.sig.ignoreInherited(k.IgnoredSignals)
	tg.ns.Store(k.rootNS)
	return k.newTaskLocked(tg, pid)
}

// Exited returns a channel closed when the process has exited (its address space and
// descriptors released).
func (tg *ThreadGroup) Exited() <-chan struct{} { return tg.exited }

// ExitStatus returns the process's wait status (final once it has exited).
func (tg *ThreadGroup) ExitStatus() int {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.exitStatus
}

// newTaskLocked creates a task in tg with the given TID. Preconditions: k.mu held.
func (k *Kernel) newTaskLocked(tg *ThreadGroup, tid int32) (*Task, error) {
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	t := &Task{k: k, TID: tid, tg: tg, wake: efd}
	k.tasks[tid] = t
	k.groups[tg.PID] = tg
	tg.mu.Lock()
	tg.tasks[t] = struct{}{}
	if tg.leader == nil {
		tg.leader = t
	}
	tg.mu.Unlock()
	return t, nil
}

// Run starts the task's goroutine (or hands the task to the one Prestart readied).
func (t *Task) Run() {
	if pre := t.k.prestarted.Swap(nil); pre != nil {
		// Handing a task over is a wake-up like any other (platform.Placer).
		if pl, ok := pre.placer.Load().(placerRef); ok {
			pl.Waking()
		}
		pre.ch <- t
		return
	}
	go func() {
		runtime.LockOSThread()
		ctx, err := t.k.Platform.NewContext()
		t.run(ctx, err)
	}()
}

// Prestart readies, ahead of time, the goroutine, OS thread and execution context the
// next task started with Run will use, and where the platform can (platform.Prestarter),
// what that context's first switch into app code would start (a stub process): the
// kernel calls it before it builds the sandbox's filesystem, so that the first app
// instruction does not wait for them.
func (k *Kernel) Prestart() {
	pre := &prestart{ch: make(chan *Task, 1)}
	if !k.prestarted.CompareAndSwap(nil, pre) {
		return
	}
	go func() {
		runtime.LockOSThread()
		ctx, err := k.Platform.NewContext()
		pl, _ := ctx.(platform.Placer)
		if pl != nil && err == nil {
			// Waiting for a task is sleeping: the task's creator wakes it (Run), which
			// may come before the stub below is ready.
			pl.Sleep()
			pre.placer.Store(placerRef{pl})
		}
		if p, ok := ctx.(platform.Prestarter); ok && err == nil {
			if err := p.Prestart(); err != nil {
				// The first switch starts one itself, and reports why it cannot.
				k.debugf("starting a stub ahead: %v", err)
			}
		}
		t := <-pre.ch
		if pl != nil && err == nil {
			pl.Awake()
		}
		t.run(ctx, err)
	}()
}

// prestart is a goroutine Prestart readied: Run hands it the next task over ch; placer
// is its context's platform.Placer (a placerRef), once it has one.
type prestart struct {
	ch     chan *Task
	placer atomic.Value
}

// placerRef wraps a platform.Placer for an atomic.Value.
type placerRef struct{ platform.Placer }

// run is the task loop: switch into app code, handle what brought us back, repeat. It runs
// on its own locked OS thread, which ctx (or err, when none could be made) belongs to.
func (t *Task) run(ctx platform.Context, err error) {
	defer runtime.UnlockOSThread()
	if err != nil {
		t.k.debugf("task %d: cannot create execution context: %v", t.TID, err)
		t.exitGroup(exitStatusSignal(unix.SIGKILL))
		t.exit()
		return
	}
	t.ctx = ctx
	t.cpuCtx.Store(ctx)
	defer ctx.Release()
	if t.pendingFP != nil {
		if err := ctx.SetFPState(t.pendingFP); err != nil {
			t.k.debugf("task %d: FP state: %v", t.TID, err)
		}
		t.pendingFP = nil
	}
	for !t.killed.Load() {
		if t.interrupted.Load() {
			t.deliverSignals()
			if t.killed.Load() {
				break
			}
		}
		m := t.MM()
		gen := m.FaultGen()
		ev, err := ctx.Switch(m.AddressSpace(), &t.Regs)
		if err != nil {
			t.k.debugf("task %d: platform: %v", t.TID, err)
			t.exitGroup(exitStatusSignal(unix.SIGKILL))
			break
		}
		switch ev.Kind {
		case platform.EventSyscall:
			if ev.Patchable && !t.k.NoSyscallPatch {
				t.patchSyscallSite(m)
			}
			t.syscall()
		case platform.EventFault:
			if t.chargeFault(); t.killed.Load() {
				break // the OOM killer chose this process
			}
			if !m.HandleFault(ev.Addr, gen) {
				if ev.Signo == int32(unix.SIGBUS) || m.PastEOF(ev.Addr) {
					// A mapped host file's page past its end (mm/direct.go): the host's
					// SIGBUS is the app's, as is a write there the host refused.
					if ev.Signo != int32(unix.SIGBUS) {
						ev.Code = 2 // BUS_ADRERR
					}
					t.fatalSignal(unix.SIGBUS, ev)
					break
				}
				// The kernel's VMAs say which: the platform maps untouched memory not at
				// all, so the host's si_code cannot tell MAPERR from ACCERR.
				ev.Code = m.FaultCode(ev.Addr)
				t.fatalSignal(unix.SIGSEGV, ev)
			}
		case platform.EventSignal:
			t.fatalSignal(unix.Signal(ev.Signo), ev)
		case platform.EventInterrupted:
		}
	}
	t.exit()
}

// syscall dispatches the syscall the task stopped at.
func (t *Task) syscall() {
	if (t.Regs.Rcx != t.Regs.Rip || t.Regs.R11 != t.Regs.Eflags) && t.enteredByInt80() {
		t.syscall32()
		return
	}
	nr := t.Regs.OrigRax
	t.counters.Total.Add(1)
	if s := t.seccomp.Load(); s != nil && t.seccompEnter(s, nr, false) {
		if t.k.Strace != nil {
			fmt.Fprintf(t.k.Strace, "[%d] %s(...) = %#x (seccomp)\n", t.TID, t.k.Syscalls.Name(nr), t.Regs.Rax)
		}
		return
	}
	a := SyscallArgs{t.Regs.Rdi, t.Regs.Rsi, t.Regs.Rdx, t.Regs.R10, t.Regs.R8, t.Regs.R9}
	var e *Syscall
	if nr < MaxSyscall {
		t.counters.PerNr[nr].Add(1)
		e = &t.k.Syscalls.Entries[nr]
	}
	t.dispatch(t.k.Syscalls, nr, nr, e, a)
}

// dispatch runs entry e (nil: none) of table st for syscall nr with arguments a; native is
// the x86-64 number of the call, for the restart rules.
func (t *Task) dispatch(st *SyscallTable, nr, native uint64, e *Syscall, a SyscallArgs) {
	var ret uint64
	var err error
	if t.k.SyscallTimes && native < MaxSyscall {
		start := time.Now()
		defer func() {
			t.counters.Nanos[native].Add(int64(time.Since(start)))
			if err != nil && err != ErrNoReturn && err != ErrRestart {
				t.counters.Errors[native].Add(1)
			}
		}()
	}
	if e == nil || e.Fn == nil {
		t.counters.Unknown.Add(1)
		key := nr
		if st != t.k.Syscalls {
			key |= 1 << 32 // the i386 numbers are logged apart
		}
		if t.k.unknown.first(key) {
			t.k.debugf("unimplemented syscall %s (%d)", st.Name(nr), nr)
		}
		err = unix.ENOSYS
	} else if e.Decode(&a); t.k.BlockedReport > 0 {
		t.call.Store(&inCall{nr: native, args: a, start: time.Now()})
		ret, err = e.Fn(t, a)
		t.call.Store(nil)
	} else {
		ret, err = e.Fn(t, a)
	}
	if t.k.Strace != nil {
		t.strace(st, nr, a, ret, err)
	}
	if err == ErrInterruptedNoRestart {
		err = unix.EINTR
		if ok, _ := t.hasDeliverable(); !ok && !t.killed.Load() {
			err = ErrRestart // no handler runs: the call goes on, as for a stop
		}
	} else if err == unix.EINTR && !t.killed.Load() {
		// A signal interrupted a restartable call: with SA_RESTART it runs again after the
		// handler (Linux's ERESTARTSYS), without it the app sees EINTR. Interrupted with no
		// signal to deliver (a stop, a signal another thread took), any call runs again.
		if ok, restart := t.hasDeliverable(); !ok || restart && restartable(native) {
			err = ErrRestart
		}
	}
	switch err {
	case nil:
		t.Regs.Rax = ret
	case ErrNoReturn:
	case ErrRestart:
		t.Regs.Rip -= 2 // syscall and int 0x80 are both two bytes long
		t.Regs.Rax = t.Regs.OrigRax
	default:
		errno, ok := err.(unix.Errno)
		if !ok {
			t.k.debugf("syscall %s: internal error: %v", st.Name(nr), err)
			errno = unix.EIO
		}
		t.Regs.Rax = uint64(-int64(errno))
	}
}

// restartable are the syscalls SA_RESTART restarts (signal(7)).
func restartable(nr uint64) bool {
	switch nr {
	case unix.SYS_READ, unix.SYS_READV, unix.SYS_WRITE, unix.SYS_WRITEV, unix.SYS_PREAD64, unix.SYS_PWRITE64,
		unix.SYS_IOCTL, unix.SYS_WAIT4, unix.SYS_WAITID, unix.SYS_OPEN, unix.SYS_OPENAT, unix.SYS_FLOCK, unix.SYS_FCNTL,
		unix.SYS_RECVFROM, unix.SYS_RECVMSG, unix.SYS_SENDTO, unix.SYS_SENDMSG, unix.SYS_CONNECT, unix.SYS_FUTEX,
		unix.SYS_ACCEPT, unix.SYS_ACCEPT4, unix.SYS_RECVMMSG, unix.SYS_SENDMMSG, unix.SYS_GETRANDOM,
		unix.SYS_MQ_TIMEDSEND, unix.SYS_MQ_TIMEDRECEIVE, unix.SYS_SPLICE, unix.SYS_TEE, unix.SYS_SENDFILE,
		unix.SYS_COPY_FILE_RANGE, unix.SYS_PREADV, unix.SYS_PWRITEV, unix.SYS_PREADV2, unix.SYS_PWRITEV2, unix.SYS_FUTEX_WAITV:
		return true
	}
	return false
}

func (t *Task) strace(st *SyscallTable, nr uint64, a SyscallArgs, ret uint64, err error) {
	name := st.Name(nr)
	var args string
	if nr < MaxSyscall && st.Entries[nr].Format != nil {
		args = st.Entries[nr].Format(t, a)
	} else {
		args = fmt.Sprintf("%#x, %#x, %#x, %#x, %#x, %#x", a[0], a[1], a[2], a[3], a[4], a[5])
	}
	var res string
	switch err {
	case nil:
		res = fmt.Sprintf("%d", int64(ret))
		if ret > 0xffff {
			res = fmt.Sprintf("%#x", ret)
		}
	case ErrNoReturn:
		res = "?"
	default:
		if e, ok := err.(unix.Errno); ok {
			res = fmt.Sprintf("-1 %s (%s)", errnoName(e), e.Error())
		} else {
			res = "-1 " + err.Error()
		}
	}
	fmt.Fprintf(t.k.Strace, "[%d] %s(%s) = %s\n", t.TID, name, args, res)
}

// fatalSignal handles a synchronous signal the app did not handle: the whole process dies
// with that signal. (Handlers come with the signals work.)
func (t *Task) fatalSignal(sig unix.Signal, ev platform.Event) {
	act, _ := t.SigAction(int(sig), nil)
	if act.Handler > SigIgn && t.sigMask.Load()&(1<<(sig-1)) == 0 {
		if act.Flags&saResethand != 0 {
			t.SigAction(int(sig), &SigAction{})
		}
		// si_code and si_addr of the fault, for the handler.
		if err := t.setupFrame(sig, act, SigInfo{Code: ev.Code, Addr: ev.Addr}); err == nil {
			return
		}
	}
	t.k.debugf("task %d: %v at %#x (rip %#x)", t.TID, sig, ev.Addr, t.Regs.Rip)
	t.exitGroup(exitStatusSignal(sig))
}

// exitStatusSignal is the wait status of a process killed by sig.
func exitStatusSignal(sig unix.Signal) int { return int(sig) & 0x7f }

// ExitStatusCode is the wait status of a process that called exit(code).
func ExitStatusCode(code int) int { return (code & 0xff) << 8 }

// Exit ends the calling thread (exit(2)).
func (t *Task) Exit(code int) {
	t.tg.mu.Lock()
	last := len(t.tg.tasks) == 1
	t.tg.mu.Unlock()
	if last {
		t.exitGroup(ExitStatusCode(code))
		return
	}
	t.killed.Store(true)
}

// ExitGroup ends every thread of the process (exit_group(2)).
func (t *Task) ExitGroup(code int) { t.exitGroup(ExitStatusCode(code)) }

func (t *Task) exitGroup(status int) {
	tg := t.tg
	tg.mu.Lock()
	if !tg.exiting {
		tg.exiting = true
		tg.exitStatus = status
	}
	tasks := make([]*Task, 0, len(tg.tasks))
	for o := range tg.tasks {
		tasks = append(tasks, o)
	}
	tg.mu.Unlock()
	for _, o := range tasks {
		o.Kill()
	}
}

// Kill makes the task leave its loop as soon as possible.
func (t *Task) Kill() {
	t.killed.Store(true)
	t.Interrupt()
}

// Interrupt wakes the task if it is blocked and stops it if it runs app code.
func (t *Task) Interrupt() {
	t.interrupted.Store(true)
	var one = [8]byte{1}
	unix.Write(t.wake, one[:])
	if c := t.ctx; c != nil {
		c.Interrupt()
	}
}

// exit tears down the task; the last task of a group makes it a zombie (or reaps it when
// nobody waits).
func (t *Task) exit() {
	k := t.k
	tg := t.tg
	t.exitRobustList(t.MM())
	if t.clearChildTID != 0 {
		var zero [4]byte
		if _, err := t.CopyOut(t.clearChildTID, zero[:]); err == nil {
			k.futexWake(t, t.clearChildTID, 1)
		}
	}
	u, sy := t.CPUTimes()
	tg.mu.Lock()
	delete(tg.tasks, t)
	tg.deadCPU[0] += u
	tg.deadCPU[1] += sy
	last := len(tg.tasks) == 0
	if last && !tg.exiting {
		tg.exiting = true
	}
	tg.mu.Unlock()
	unix.Close(t.wake)

	t.setSeccomp(nil) // a listener's last filtered task hangs it up
	k.mu.Lock()
	delete(k.tasks, t.TID)
	k.freeNSPIDsLocked(tg.pidNS, t.pidNrs, t)
	k.deadSyscalls += t.counters.Total.Load()
	for nr := range uint64(MaxSyscall) {
		if n := t.counters.PerNr[nr].Load(); n != 0 {
			k.deadPerNr[nr] += n
		}
		if n := t.counters.Nanos[nr].Load(); n != 0 {
			k.deadNanos[nr] += n
		}
		if n := t.counters.Errors[nr].Load(); n != 0 {
			k.deadErrors[nr] += n
		}
	}
	k.mu.Unlock()
	if !last {
		return
	}
	tg.mu.Lock()
	fds, m := tg.fds, tg.mm
	tg.fds, tg.mm = nil, nil
	status := tg.exitStatus
	parent := tg.parent
	children := tg.children
	tg.children = nil
	tg.mu.Unlock()
	if fds != nil {
		fds.DecUsers()
	}
	if m != nil {
		m.DecUsers()
	}
	k.putNS(tg.ns.Load(), nil)
	t.finishVfork()
	k.mu.Lock()
	hooks := k.exitHooks
	k.mu.Unlock()
	for _, h := range hooks {
		h(tg)
	}
	k.pidNSExit(tg)
	k.reparent(tg, children)
	// The parent sees the zombie and its exit signal together (exitMu orders them against
	// wait scans), as Linux does under tasklist_lock.
	k.exitMu.Lock()
	tg.mu.Lock()
	tg.zombie = true
	exitSignal := tg.exitSignal
	tg.mu.Unlock()
	if parent != nil && exitSignal != 0 {
		k.SignalGroupInfo(parent, exitSignal, childInfo(tg, status))
	}
	k.exitMu.Unlock()
	tg.exitQueue.Notify(waiter.EventIn | waiter.EventHUp)
	if tg.exited != nil {
		close(tg.exited)
	}
	if parent != nil {
		k.notifyParent(parent, tg)
		return
	}
	// The first process (the sandbox ends with it) or one started from outside (nobody
	// reaps it: it is gone now, its CPU time with the sandbox's reaped time).
	tg.mu.Lock()
	own := tg.deadCPU[0] + tg.deadCPU[1]
	tg.mu.Unlock()
	k.mu.Lock()
	delete(k.groups, tg.PID)
	tg.unregisterGroupNS()
	isInit := k.init == tg
	if !isInit {
		k.reapedCPU += own
	}
	k.mu.Unlock()
	if isInit {
		if status&0x7f != 0 {
			k.exitCode = 128 + status&0x7f
		} else {
			k.exitCode = status >> 8 & 0xff
		}
		k.killAll()
		close(k.done)
	}
}

// reparent hands father's orphans to the init of its PID namespace (or reaps them when
// init is gone).
func (k *Kernel) reparent(father *ThreadGroup, children map[*ThreadGroup]struct{}) {
	if len(children) == 0 {
		return
	}
	init := k.reaperFor(father)
	for c := range children {
		c.mu.Lock()
		c.parent = init
		c.exitSignal = unix.SIGCHLD // the new parent hears of it as of any child
		zombie := c.zombie
		sig := c.pdeathSignal
		c.mu.Unlock()
		if init != nil && init.alive() {
			init.mu.Lock()
			if init.children != nil {
				init.children[c] = struct{}{}
			}
			init.mu.Unlock()
			if zombie {
				init.childExited(c)
			}
		}
		if sig != 0 && !zombie {
			k.SignalGroup(c, unix.Signal(sig))
		}
	}
}

func (tg *ThreadGroup) alive() bool {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return !tg.zombie
}

// childExited records a child's death and wakes waiters.
func (tg *ThreadGroup) childExited(child *ThreadGroup) {
	tg.mu.Lock()
	waiters := make([]*Task, 0, len(tg.childWaiters))
	for w := range tg.childWaiters {
		waiters = append(waiters, w)
	}
	tg.mu.Unlock()
	for _, w := range waiters {
		w.wakeUp()
	}
}

// killAll kills every remaining task (the sandbox is ending).
func (k *Kernel) killAll() {
	k.mu.Lock()
	tasks := make([]*Task, 0, len(k.tasks))
	for _, t := range k.tasks {
		tasks = append(tasks, t)
	}
	k.mu.Unlock()
	for _, t := range tasks {
		t.Kill()
	}
}

// Signal delivers sig to process pid from outside the sandbox (the launcher forwarding
// SIGINT/SIGTERM, sbx kill).
func (k *Kernel) Signal(pid int32, sig unix.Signal) error {
	tg := k.GroupByPID(pid)
	if tg == nil {
		return unix.ESRCH
	}
	k.SignalGroup(tg, sig)
	return nil
}

// InitPID returns the PID of the sandbox's first process.
func (k *Kernel) InitPID() int32 {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.init == nil {
		return 0
	}
	return k.init.PID
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// childInfo is the SigInfo of a child's exit signal, from its wait status.
func childInfo(child *ThreadGroup, status int) SigInfo {
	info := SigInfo{Code: cldCode(status), PID: child.PID, UID: child.Creds().UID, Status: int32(status>>8) & 0xff}
	if sig := status & 0x7f; sig != 0 {
		info.Status = int32(sig)
	}
	return info
}

// cldCode is the CLD_* code of an exit wait status.
func cldCode(status int) int32 {
	switch {
	case status&0x7f == 0:
		return CldExited
	case status&0x80 != 0:
		return CldDumped
	}
	return CldKilled
}
