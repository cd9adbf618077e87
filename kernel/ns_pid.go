package kernel

import "golang.org/x/sys/unix"

// PID namespaces (pid_namespaces(7)). A process numbered in namespace N at level L has a
// number in N and in each of its ancestors; the root namespace's is Task.TID/ThreadGroup.PID,
// the others are kept in pidNrs (index L-1) and in each namespace's own tables.

// allocNSPIDsLocked numbers a new task in ns and its ancestors below the root. group is
// true when the task starts a new process. Preconditions: k.mu held.
func (k *Kernel) allocNSPIDsLocked(ns *PIDNS, t *Task) ([]int32, error) {
	if ns == nil || ns.Level == 0 {
		return nil, nil
	}
	nrs := make([]int32, ns.Level)
	for p := ns; p.Level > 0; p = p.Parent {
		p.mu.Lock()
		if p.initGone {
			p.mu.Unlock()
			k.freeNSPIDsLocked(ns, nrs, t)
			return nil, unix.ENOMEM // pid_namespaces(7): after init is gone
		}
		nr := int32(0)
		for range pidMax {
			c := p.next
			p.next++
			if p.next >= pidMax {
				p.next = 2
			}
			if _, used := p.byNr[c]; !used {
				if _, used := p.groups[c]; !used {
					nr = c
					break
				}
			}
		}
		if nr == 0 {
			p.mu.Unlock()
			k.freeNSPIDsLocked(ns, nrs, t)
			return nil, errAgain
		}
		p.byNr[nr] = t
		nrs[p.Level-1] = nr
		p.mu.Unlock()
	}
	return nrs, nil
}

// freeNSPIDsLocked forgets a task's numbers in the namespaces (its thread numbers).
func (k *Kernel) freeNSPIDsLocked(ns *PIDNS, nrs []int32, t *Task) {
	for p := ns; p != nil && p.Level > 0; p = p.Parent {
		if nr := nrs[p.Level-1]; nr != 0 {
			p.mu.Lock()
			if o, ok := p.byNr[nr]; ok && o == t {
				delete(p.byNr, nr)
			}
			p.mu.Unlock()
		}
	}
}

// registerGroupNS records a new process under its numbers (its PID in each namespace).
func (tg *ThreadGroup) registerGroupNS() {
	for p := tg.pidNS; p != nil && p.Level > 0; p = p.Parent {
		nr := tg.pidNrs[p.Level-1]
		p.mu.Lock()
		p.groups[nr] = tg
		if nr == 1 && p == tg.pidNS {
			p.init = tg
		}
		p.mu.Unlock()
	}
}

// unregisterGroupNS forgets a reaped process's numbers.
func (tg *ThreadGroup) unregisterGroupNS() {
	for p := tg.pidNS; p != nil && p.Level > 0; p = p.Parent {
		nr := tg.pidNrs[p.Level-1]
		p.mu.Lock()
		if p.groups[nr] == tg {
			delete(p.groups, nr)
		}
		p.mu.Unlock()
	}
}

// within reports whether namespace home is ns or a descendant of it.
func within(home, ns *PIDNS) bool {
	for p := home; p != nil; p = p.Parent {
		if p == ns {
			return true
		}
		if p.Level < ns.Level {
			return false
		}
	}
	return false
}

// NrIn is the process's PID in namespace ns (0: not visible there).
func (tg *ThreadGroup) NrIn(ns *PIDNS) int32 {
	if ns == nil || ns.Level == 0 {
		return tg.PID
	}
	if tg.pidNS == nil || !within(tg.pidNS, ns) {
		return 0
	}
	return tg.pidNrs[ns.Level-1]
}

// NrIn is the thread's TID in namespace ns (0: not visible there).
func (t *Task) NrIn(ns *PIDNS) int32 {
	if ns == nil || ns.Level == 0 {
		return t.TID
	}
	if t.tg.pidNS == nil || !within(t.tg.pidNS, ns) {
		return 0
	}
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return t.pidNrs[ns.Level-1]
}

// PIDOf is process g's PID as task t sees it (0 when g is outside t's PID namespace).
func (t *Task) PIDOf(g *ThreadGroup) int32 {
	if g == nil {
		return 0
	}
	return g.NrIn(t.tg.pidNS)
}

// TIDOf is thread o's TID as task t sees it.
func (t *Task) TIDOf(o *Task) int32 { return o.NrIn(t.tg.pidNS) }

// VisibleTID is t's own TID in its PID namespace (gettid).
func (t *Task) VisibleTID() int32 { return t.NrIn(t.tg.pidNS) }

// VisiblePID translates a root namespace process (or thread) ID, such as a process group
// or a signal's sender, into t's numbers: 0 when it is outside t's namespace.
func (t *Task) VisiblePID(id int32) int32 {
	ns := t.tg.pidNS
	if ns == nil || id <= 0 {
		return id
	}
	if g := t.k.GroupByPID(id); g != nil {
		return g.NrIn(ns)
	}
	if o := t.k.TaskByTID(id); o != nil {
		return o.NrIn(ns)
	}
	return 0
}

// RootPID translates a PID in t's namespace into the root namespace's (0: none).
func (t *Task) RootPID(nr int32) int32 {
	ns := t.tg.pidNS
	if ns == nil || nr <= 0 {
		return nr
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if g := ns.groups[nr]; g != nil {
		return g.PID
	}
	if o := ns.byNr[nr]; o != nil {
		return o.TID
	}
	return 0
}

// GroupByPID finds a process by its PID in t's namespace.
func (t *Task) GroupByPID(nr int32) *ThreadGroup {
	ns := t.tg.pidNS
	if ns == nil {
		return t.k.GroupByPID(nr)
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return ns.groups[nr]
}

// TaskByTID finds a live thread by its TID in t's namespace.
func (t *Task) TaskByTID(nr int32) *Task {
	ns := t.tg.pidNS
	if ns == nil {
		return t.k.TaskByTID(nr)
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return ns.byNr[nr]
}

// pidNSExit is run when a process exits: the init of a PID namespace takes every other
// process of the namespace with it (SIGKILL), and no process can be made there again.
func (k *Kernel) pidNSExit(tg *ThreadGroup) {
	ns := tg.pidNS
	if ns == nil {
		return
	}
	ns.mu.Lock()
	if ns.init != tg {
		ns.mu.Unlock()
		return
	}
	ns.initGone = true
	victims := make([]*Task, 0, len(ns.byNr))
	for _, o := range ns.byNr {
		victims = append(victims, o)
	}
	ns.mu.Unlock()
	for _, o := range victims {
		if o.tg != tg {
			o.Kill()
		}
	}
}

// reaperFor is the process that adopts the orphans of father: a subreaper ancestor, else
// the init of father's PID namespace, or the sandbox's first process.
func (k *Kernel) reaperFor(father *ThreadGroup) *ThreadGroup {
	// The nearest living ancestor in father's PID namespace that is a child subreaper
	// (PR_SET_CHILD_SUBREAPER) comes first, as Linux's find_new_reaper has it.
	for a := father.Parent(); a != nil && a.pidNS == father.pidNS; a = a.Parent() {
		a.mu.Lock()
		sub, dead := a.prctl.Subreaper, a.zombie || a.exiting
		a.mu.Unlock()
		if sub && !dead {
			return a
		}
	}
	if ns := father.pidNS; ns != nil {
		ns.mu.Lock()
		r := ns.init
		ns.mu.Unlock()
		if r != nil && r != father && r.alive() {
			return r
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.init
}

// setNSTaskLocked points a new task's reserved numbers at it. Preconditions: k.mu held.
func (k *Kernel) setNSTaskLocked(ns *PIDNS, nrs []int32, t *Task) {
	for p := ns; p != nil && p.Level > 0; p = p.Parent {
		p.mu.Lock()
		p.byNr[nrs[p.Level-1]] = t
		p.mu.Unlock()
	}
}

// Parent returns the parent process (nil for the first one).
func (tg *ThreadGroup) Parent() *ThreadGroup {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.parent
}

// SeenSigInfo is si as task t receives it: the sender's PID and UID in t's namespaces
// (signals carry root namespace numbers; a sender outside shows as 0, kernel signals keep
// their fields).
func (t *Task) SeenSigInfo(si SigInfo) SigInfo {
	if t.tg.pidNS == nil && t.tg.UserNS().IsRoot() {
		return si
	}
	if si.Addr == 0 && si.Code != SITimer && si.PID != 0 {
		si.PID = t.VisiblePID(si.PID)
		si.UID = t.tg.UserNS().MapUID(si.UID)
	}
	return si
}

// InitIgnores reports whether a signal t sends to process tg is dropped because tg is the
// init of t's PID namespace (pid_namespaces(7)): from inside, init gets only the signals
// it has a handler for, never SIGKILL or SIGSTOP.
func (t *Task) InitIgnores(tg *ThreadGroup, sig unix.Signal) bool {
	ns := t.tg.pidNS
	if ns == nil || sig == 0 || tg.NrIn(ns) != 1 {
		return false
	}
	if sig == unix.SIGKILL || sig == unix.SIGSTOP {
		return true
	}
	tg.sig.mu.Lock()
	h := tg.sig.actions[sig].Handler
	tg.sig.mu.Unlock()
	return h == SigDfl || h == SigIgn
}

// Within reports whether p is q or a descendant of it.
func (p *PIDNS) Within(q *PIDNS) bool { return within(p, q) }
