package kernel

import (
	"time"

	"github.com/sbx-dev/sbx/kernel/abi"
	"golang.org/x/sys/unix"
)

// CloneOpts are clone(2)'s arguments after decoding.
type CloneOpts struct {
	Flags            uint64
	Stack, ParentTID uint64
	ChildTID, TLS    uint64
	ExitSignal       unix.Signal
	// ClearSighand (clone3's CLONE_CLEAR_SIGHAND) resets the child's handled signals to
	// SIG_DFL; ignored ones stay ignored.
	ClearSighand bool
}

// cloneNamespaces are the namespace flags (ns.go).
const cloneNamespaces = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER |
	unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// Clone implements clone(2), fork(2) and vfork(2): a new process (copied or shared address
// space) or a new thread of this one. It returns the child's TID.
func (t *Task) Clone(o CloneOpts) (int32, error) {
	f := o.Flags
	if f&unix.CLONE_THREAD != 0 && f&unix.CLONE_SIGHAND == 0 || f&unix.CLONE_SIGHAND != 0 && f&unix.CLONE_VM == 0 {
		return 0, unix.EINVAL
	}
	if f&unix.CLONE_FS != 0 && f&unix.CLONE_NEWNS != 0 {
		return 0, unix.EINVAL
	}
	if f&unix.CLONE_NEWUSER != 0 && f&(unix.CLONE_THREAD|unix.CLONE_FS) != 0 ||
		f&unix.CLONE_NEWPID != 0 && f&unix.CLONE_THREAD != 0 ||
		f&unix.CLONE_NEWIPC != 0 && f&unix.CLONE_SYSVSEM != 0 {
		return 0, unix.EINVAL
	}
	k := t.k
	parentTG := t.tg
	if f&unix.CLONE_PARENT != 0 && (parentTG.PID == k.InitPID() || parentTG.NrIn(parentTG.pidNS) == 1) {
		return 0, unix.EINVAL // an init has no parent to share (Linux: SIGNAL_UNKILLABLE)
	}
	// The child's namespaces and the PID namespace it is numbered in.
	nsSet := parentTG.ns.Load()
	if f&cloneNamespaces != 0 {
		var err error
		if nsSet, err = t.newNamespaces(nsSet, f); err != nil {
			return 0, err
		}
	}
	if f&unix.CLONE_NEWNS != 0 {
		// A new mount namespace no process reached yet goes away with a failed clone.
		done := false
		defer func() {
			if !done {
				nsSet[NSMnt].mnt.Release()
			}
		}()
		defer func() { done = done || nsSet[NSMnt].users.Load() > 0 }()
	}
	pidNS := nsSet[NSPID].pid
	if f&unix.CLONE_THREAD != 0 {
		pidNS = parentTG.pidNS
	}
	if pidNS != nil && pidNS.Level == 0 {
		pidNS = nil
	}
	// The child's address space.
	m := t.MM()
	var childMM = m
	if f&unix.CLONE_VM != 0 {
		m.IncUsers()
	} else {
		as, err := k.Platform.NewAddressSpace()
		if err != nil {
			return 0, unix.ENOMEM
		}
		if childMM, err = m.Fork(as); err != nil {
			as.Release()
			return 0, unix.ENOMEM
		}
	}
	fp, _ := t.ctx.FPState()

	k.mu.Lock()
	tid, err := k.allocPIDLocked()
	var nrs []int32
	if err == nil {
		nrs, err = k.allocNSPIDsLocked(pidNS, nil)
	}
	if err != nil {
		k.mu.Unlock()
		childMM.DecUsers()
		return 0, err
	}
	var tg *ThreadGroup
	if f&unix.CLONE_THREAD != 0 {
		tg = parentTG
		childMM.DecUsers() // threads use the group's MM, not a new reference
	} else {
		p := parentTG
		exitSignal := o.ExitSignal
		if f&unix.CLONE_PARENT != 0 {
			p.mu.Lock()
			pp := p.parent
			p.mu.Unlock()
			if pp != nil {
				p = pp
			}
			// The parent's parent hears of the child as it hears of the parent.
			parentTG.mu.Lock()
			exitSignal = parentTG.exitSignal
			parentTG.mu.Unlock()
		}
		parentTG.mu.Lock()
		tg = &ThreadGroup{k: k, PID: tid, parent: p, children: make(map[*ThreadGroup]struct{}), tasks: make(map[*Task]struct{}), exited: make(chan struct{}),
			mm: childMM, fs: parentTG.fs.share(f&unix.CLONE_FS != 0), creds: parentTG.creds,
			limits: make(map[int][2]uint64, len(parentTG.limits)), comm: parentTG.comm, exe: parentTG.exe,
			pgid: parentTG.pgid, sid: parentTG.sid, noCtty: parentTG.noCtty, dumpable: parentTG.dumpable, noNewPrivs: parentTG.noNewPrivs,
			oomScoreAdj: parentTG.oomScoreAdj, oomScoreAdjMin: parentTG.oomScoreAdjMin,
			sessionKeyring: parentTG.sessionKeyring, prctl: parentTG.prctl.forked(),
			childWaiters: make(map[*Task]struct{}), startTime: time.Now(), exitSignal: exitSignal, pidNS: pidNS, pidNrs: nrs}
		tg.ns.Store(nsSet)
		if f&unix.CLONE_VM == 0 {
			childMM.SetOwner(tid)
		}
		if f&unix.CLONE_NEWNS != 0 {
			enterCopiedMountNS(tg.fs, nsSet[NSMnt].mnt)
		}
		k.getNS(nsSet, nil)
		if f&unix.CLONE_NEWUSER != 0 {
			tg.creds.Caps = nsFullCaps()
		}
		tg.creds.Groups = append([]uint32(nil), parentTG.creds.Groups...)
		for r, l := range parentTG.limits {
			tg.limits[r] = l
		}
		if f&unix.CLONE_FILES != 0 {
			tg.fds = parentTG.fds
			tg.fds.IncUsers()
		} else {
			tg.fds = parentTG.fds.Fork()
		}
		parentTG.mu.Unlock()
		parentTG.sig.mu.Lock()
		tg.sig.actions = parentTG.sig.actions
		parentTG.sig.mu.Unlock()
		if o.ClearSighand {
			for sig, act := range tg.sig.actions {
				if act.Handler != SigIgn {
					tg.sig.actions[sig] = SigAction{}
				}
			}
		}
		p.mu.Lock()
		if p.children != nil {
			p.children[tg] = struct{}{}
		}
		p.mu.Unlock()
	}
	child, err := k.newTaskLocked(tg, tid)
	if err != nil {
		k.freeNSPIDsLocked(pidNS, nrs, nil)
		k.mu.Unlock()
		return 0, err
	}
	child.pidNrs = nrs
	k.setNSTaskLocked(pidNS, nrs, child)
	k.mu.Unlock()
	if f&unix.CLONE_THREAD == 0 {
		tg.registerGroupNS()
	}
	t.inheritSeccomp(child)
	child.Regs = t.Regs
	child.Regs.Rax = 0
	if o.Stack != 0 {
		child.Regs.Rsp = o.Stack
	}
	if f&unix.CLONE_SETTLS != 0 {
		child.Regs.FsBase = o.TLS
	}
	child.pendingFP = fp
	child.name = t.Name()
	child.sigMask.Store(t.sigMask.Load())
	if pol := t.schedPolicy.Load(); pol&unix.SCHED_RESET_ON_FORK == 0 {
		child.schedPolicy.Store(pol) // with SCHED_RESET_ON_FORK the child starts as SCHED_OTHER
	}
	if f&(unix.CLONE_VM|unix.CLONE_VFORK) != unix.CLONE_VM {
		// A new process keeps the alternate signal stack; a thread (or a CLONE_VM child
		// that runs beside us) starts without one.
		child.altStack = t.AltStack()
	}
	if f&unix.CLONE_THREAD != 0 && t.ThreadKeyring() != nil {
		// A new thread of a thread that has a thread keyring gets one of its own.
		child.SetThreadKeyring(ThreadKeyringDue{})
	}
	var tidBytes [4]byte
	seen := t.TIDOf(child)
	abi.PutU32(tidBytes[:], uint32(seen))
	if f&unix.CLONE_PARENT_SETTID != 0 {
		t.CopyOut(o.ParentTID, tidBytes[:])
	}
	if f&unix.CLONE_CHILD_SETTID != 0 {
		// The child's own TID, in its namespace.
		abi.PutU32(tidBytes[:], uint32(child.VisibleTID()))
		childMM.CopyOut(o.ChildTID, tidBytes[:])
	}
	if f&unix.CLONE_CHILD_CLEARTID != 0 {
		child.clearChildTID = o.ChildTID
	}
	if f&unix.CLONE_VFORK != 0 {
		child.vforkDone = make(chan struct{})
	}
	child.Run()
	// Why: a process that clones once mostly clones again (thread pools, fork+exec loops):
	// the next child's goroutine, context and stub start now, off that child's path.
	k.Prestart()
	if child.vforkDone != nil {
		// The parent sleeps until the child execs or exits (it shares our memory meanwhile).
		<-child.vforkDone
	}
	return seen, nil
}

// finishVfork releases a vfork parent.
func (t *Task) finishVfork() {
	if t.vforkDone != nil {
		t.vforkOnce.Do(func() { close(t.vforkDone) })
	}
}

// notifyParent tells a parent its child exited (its exit signal is already sent): it wakes
// waiters; a parent that ignores SIGCHLD has its children reaped at once.
func (k *Kernel) notifyParent(parent, child *ThreadGroup) {
	parent.sig.mu.Lock()
	act := parent.sig.actions[unix.SIGCHLD]
	parent.sig.mu.Unlock()
	if act.Handler == SigIgn || act.Flags&saNoCldWait != 0 {
		k.reap(parent, child)
	}
	parent.childExited(child)
}

// saNoCldWait is SA_NOCLDWAIT.
const saNoCldWait = 2

// reap removes a zombie child for good.
func (k *Kernel) reap(parent, child *ThreadGroup) {
	child.mu.Lock()
	own := child.deadCPU[0] + child.deadCPU[1]
	u := child.deadCPU[0] + child.childCPU[0]
	s := child.deadCPU[1] + child.childCPU[1]
	child.mu.Unlock()
	parent.mu.Lock()
	delete(parent.children, child)
	parent.childCPU[0] += u
	parent.childCPU[1] += s
	parent.mu.Unlock()
	k.mu.Lock()
	if k.groups[child.PID] == child {
		delete(k.groups, child.PID)
		child.unregisterGroupNS()
		k.reapedCPU += own
	}
	k.mu.Unlock()
}

// WaitOpts select the children wait4/waitid report.
type WaitOpts struct {
	PID    int32 // >0 that child, -1 any, 0 our process group, <-1 process group -PID
	NoHang bool
	NoReap bool // WNOWAIT
	Exited bool // report exits (waitid WEXITED; always for wait4)
	// Stopped and Continued report job-control stops (WUNTRACED/WSTOPPED) and
	// continues (WCONTINUED).
	Stopped, Continued bool
	// Clone (__WCLONE) waits for "clone" children only, those whose exit signal is not
	// SIGCHLD, instead of the others; All (__WALL) for both.
	Clone, All bool
}

// WaitResult is a reaped (or observed) child.
type WaitResult struct {
	PID    int32
	Status int // wait status word
	UID    uint32
	// Code is waitid's si_code: CLD_EXITED, CLD_KILLED, CLD_DUMPED, CLD_STOPPED or
	// CLD_CONTINUED.
	Code int32
	// User and Sys are an exited child's CPU time, with its reaped children's (rusage).
	User, Sys time.Duration
}

// Wait implements the core of wait4/waitid. It returns (zero, nil) with NoHang when children
// match but none has exited.
func (t *Task) Wait(o WaitOpts) (WaitResult, error) {
	tg := t.tg
	pgid, _ := tg.IDs()
	// PIDs and process groups are the caller's namespace's numbers; the tables the root's.
	if o.PID > 0 {
		if o.PID = t.RootPID(o.PID); o.PID == 0 {
			o.PID = pidMax // no such process: matches no child
		}
	} else if o.PID < -1 {
		if o.PID = -t.RootPID(-o.PID); o.PID == 0 {
			o.PID = -pidMax
		}
	}
	for {
		t.k.exitMu.Lock()
		tg.mu.Lock()
		matched := false
		var found *ThreadGroup
		var stop *WaitResult // a stop or continue, reported without reaping
		for c := range tg.children {
			switch {
			case o.PID > 0 && c.PID != o.PID:
				continue
			case o.PID == 0 || o.PID < -1:
				want := pgid
				if o.PID < -1 {
					want = -o.PID
				}
				if g, _ := c.IDs(); g != want {
					continue
				}
			}
			c.mu.Lock()
			if !o.All && (c.exitSignal != unix.SIGCHLD) != o.Clone {
				c.mu.Unlock()
				continue
			}
			matched = true
			switch {
			case o.Exited && c.zombie:
				found = c
			case o.Stopped && c.waitStop && c.stopped:
				found, stop = c, &WaitResult{PID: t.PIDOf(c), Status: 0x7f | int(c.stopSig)<<8, UID: c.creds.UID, Code: CldStopped}
			case o.Continued && c.waitCont:
				found, stop = c, &WaitResult{PID: t.PIDOf(c), Status: 0xffff, UID: c.creds.UID, Code: CldContinued}
			}
			if stop != nil && !o.NoReap {
				c.waitStop, c.waitCont = false, false
			}
			c.mu.Unlock()
			if found != nil {
				break
			}
		}
		if found == nil {
			tg.childWaiters[t] = struct{}{}
		}
		tg.mu.Unlock()
		t.k.exitMu.Unlock()
		if stop != nil {
			return *stop, nil
		}
		if found != nil {
			found.mu.Lock()
			res := WaitResult{PID: t.PIDOf(found), Status: found.exitStatus, UID: found.creds.UID, Code: cldCode(found.exitStatus),
				User: found.deadCPU[0] + found.childCPU[0], Sys: found.deadCPU[1] + found.childCPU[1]}
			found.mu.Unlock()
			if !o.NoReap {
				t.k.reap(tg, found)
			}
			return res, nil
		}
		if !matched {
			tg.mu.Lock()
			delete(tg.childWaiters, t)
			tg.mu.Unlock()
			return WaitResult{}, unix.ECHILD
		}
		if o.NoHang {
			tg.mu.Lock()
			delete(tg.childWaiters, t)
			tg.mu.Unlock()
			return WaitResult{}, nil
		}
		err := t.sleep(nil, time.Time{})
		tg.mu.Lock()
		delete(tg.childWaiters, t)
		tg.mu.Unlock()
		if err == unix.EINTR {
			// The child's own SIGCHLD may be what woke us: a child that exited meanwhile is
			// reported rather than EINTR, as Linux does.
			o2 := o
			o2.NoHang = true
			if r, err := t.Wait(o2); err == nil && r.PID != 0 {
				return r, nil
			}
			if ok, _ := t.hasDeliverable(); ok || t.killed.Load() {
				return WaitResult{}, unix.EINTR
			}
			t.interrupted.Store(false) // a stale wake-up: keep waiting
		}
	}
}
