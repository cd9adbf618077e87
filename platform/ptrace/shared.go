package ptrace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// Shared stubs (trap mode, Platform.SetSharedStubs): every app thread of one address space
// runs in one host stub process, so in one host mm, instead of one stub process per thread.
// A mapping change is then one injection that every thread sees at once (the host's TLB
// shoot-down does the rest), a page one thread faulted in is there for all, and a new
// thread is a host clone in the existing stub.
//
//   - The stub's main thread is the mapper: traced by an injector thread of the kernel's,
//     one per shared stub (run), which makes every injection (mapping changes, fills after
//     faults, host-file maps, clones) on behalf of the contexts (do), one at a time; a
//     request is made with as.mu held, so the mappings it applies are the current ones.
//     Changes are applied synchronously in record(): when MapFile/Unmap/Protect return, the
//     host mm has them, so no thread needs interrupting and no replaced page lingers.
//   - App thread i runs with its own area at sharedAreas+i*trapCtrlSize (control page, then
//     its signal stack), all mapped from one memfd by the stub and by the kernel. The
//     handler finds its area from its stack pointer (it runs on the thread's signal stack,
//     inside the area; areas are aligned to their size). The kernel reads only the area
//     of the thread a context owns and checks it as before, so a thread that writes another
//     thread's area (it can: they share an mm, as Linux threads can write each other's
//     stacks) can at most forge a hand-off of that thread, with registers it chose.
//   - A thread is made by an injected clone(CLONE_VM|CLONE_THREAD|...) at the stub's clone
//     site, with its area in r12; it sets its signal stack (the stack_t the kernel wrote in
//     its area) and installs the app filter under the shared filter (sharedFilter), then
//     parks in the handler. It ends when the kernel sets C_EXIT and resumes it: the handler
//     calls exit. The area is reused only once CLONE_CHILD_CLEARTID cleared its C_TID word
//     and the thread is gone (tgkill 0: ESRCH); a thread that does not end in time ends
//     the whole stub.
//   - Syscall patching is off in shared address spaces: the trampoline (trapFast) runs on
//     the app's stack and finds its control page at a fixed address, which one area per
//     thread no longer is (see platform/README.md).

// SetSharedStubs turns shared stubs on or off for address spaces made from now on (trap
// mode only; off by default).
func (p *Platform) SetSharedStubs(on bool) { p.shared = on && p.trap }

// sharedStub is one address space's shared stub.
type sharedStub struct {
	as   *addressSpace
	main *stubProc // the mapper: in as.stubs, traced by the injector thread
	reqs chan func()
	// finished closes when the injector has reaped the stub and closed its socket.
	finished chan struct{}
	shm      []byte // every thread area, mapped in the kernel
	dead     atomic.Bool

	mu sync.Mutex
	// closed: the address space let the stub go. areas: in use. refs: thread handles,
	// plus one while open (the areas stay mapped in the kernel until none is left).
	// owner is the thread handle the stub's CPU time is counted for (less base).
	// protected by mu
	closed         bool
	areas          []areaUse
	refs           int
	owner          *stubProc
	baseU, baseSys time.Duration
}

// areaUse is the state of a thread area: free, in use, or left by a thread told to end
// (its TID and when), which is reused once the thread is gone.
type areaUse struct {
	used, ending bool
	tid          int
	since        time.Time
}

// endingGrace is how long a thread told to end may take before the stub is ended.
const endingGrace = time.Second

// sharedFor returns as's shared stub, starting it. Preconditions: as.mu held.
func (as *addressSpace) sharedLocked() (*sharedStub, error) {
	if as.released {
		return nil, errors.New("ptrace: address space released")
	}
	if as.sh != nil {
		if as.sh.dead.Load() {
			return nil, fmt.Errorf("%w: the address space's stub ended", platform.ErrContextDead)
		}
		return as.sh, nil
	}
	sh := &sharedStub{as: as, reqs: make(chan func()), finished: make(chan struct{}), refs: 1, areas: make([]areaUse, maxAreas)}
	ready := make(chan error, 1)
	go sh.run(ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	as.sh = sh
	as.stubs[sh.main] = struct{}{}
	// Up to date with nothing present: threads fault in what they use.
	if err := sh.do(func() error { return sh.main.syncLocked(as.seq) }); err != nil {
		return nil, err
	}
	return sh, nil
}

// run is the injector: it starts the stub, traces its main thread and makes every
// injection asked for, until the address space lets the stub go.
func (sh *sharedStub) run(ready chan<- error) {
	defer close(sh.finished)
	runtime.LockOSThread()
	p := sh.as.p
	c := &context{p: p, tid: unix.Gettid(), stubs: map[*addressSpace]*stubProc{}}
	// Not pinned: it sleeps but for requests, and a pinned injector waited for its one CPU
	// behind the app threads on it (measured: no faster pinned on a loaded 2-CPU machine).
	c.cpu = -1
	defer runtime.UnlockOSThread()
	s, err := c.spawnSharedStub(sh)
	if err != nil {
		ready <- err
		return
	}
	s.mapper = sh
	s.as = sh.as
	sh.main = s
	ready <- nil
	for f := range sh.reqs {
		f()
	}
	s.kill()
	s.closeSock()
}

// do runs f on the injector thread. Preconditions: sh.as.mu held (every request is made
// under it, so requests never overlap and close never races a send).
func (sh *sharedStub) do(f func() error) error {
	if sh.closed {
		return errors.New("ptrace: address space released")
	}
	if sh.main.dead || sh.dead.Load() {
		return fmt.Errorf("%w: the address space's stub ended", platform.ErrContextDead)
	}
	done := make(chan error, 1)
	sh.reqs <- func() { done <- f() }
	err := <-done
	if sh.main.dead {
		sh.kill()
	}
	return err
}

// kill ends the stub and every thread in it (the injector reaps it).
func (sh *sharedStub) kill() {
	sh.dead.Store(true)
	unix.Kill(sh.main.pid, unix.SIGKILL)
}

// close lets the stub go (the address space's Release). Preconditions: sh.as.mu held.
func (sh *sharedStub) close() {
	sh.kill()
	delete(sh.as.stubs, sh.main)
	sh.mu.Lock()
	if sh.closed {
		sh.mu.Unlock()
		return
	}
	sh.closed = true
	close(sh.reqs)
	sh.unrefLocked()
	sh.mu.Unlock()
	// Gone when Release returns: its process reaped, its socket closed.
	<-sh.finished
}

func (sh *sharedStub) unrefLocked() {
	if sh.refs--; sh.refs == 0 && sh.shm != nil {
		unix.Munmap(sh.shm)
		sh.shm = nil
	}
}

// spawnSharedStub starts a shared stub traced by the calling (injector) thread, up to its
// first int3: confined with the shared filter, no app thread yet, its address space emptied
// but for its image, the slot table, the thread areas and the vDSO.
func (c *context) spawnSharedStub(sh *sharedStub) (*stubProc, error) {
	s, shm, err := c.execTrapStub(sharedAreasSize)
	if err != nil {
		return nil, err
	}
	sh.shm = shm
	pid := s.pid
	fail := func(err error) (*stubProc, error) {
		s.kill()
		return nil, err
	}
	var regs platform.Registers
	if err := getRegs(pid, &regs); err != nil {
		return fail(err)
	}
	regs.R15 = 1 // a shared stub
	if err := setRegs(pid, &regs); err != nil {
		return fail(err)
	}
	if err := unix.PtraceCont(pid, 0); err != nil {
		return fail(err)
	}
	st, err := s.wait()
	if err != nil {
		return fail(err)
	}
	if !st.Stopped() || st.StopSignal() != unix.SIGTRAP || getRegs(pid, &regs) != nil || regs.Rax != 0 || regs.Rbx != 1 {
		return fail(fmt.Errorf("trap: shared stub start-up failed (stop %v, result %d, %d)", st, int64(regs.Rax), int64(regs.Rbx)))
	}
	for _, r := range c.p.emptyRanges([2]uint64{trapTable, trapTable + trapTableSize}, [2]uint64{StubBase, StubBase + trapImageSize},
		[2]uint64{sharedAreas, sharedAreas + sharedAreasSize}) {
		if _, err := s.inject(sysMunmap, uintptr(r[0]), uintptr(r[1]-r[0]), 0, 0, 0, 0); err != nil {
			return fail(err)
		}
	}
	return s, nil
}

// newThread starts an app thread for context c in the shared stub, up to its first
// hand-off. Preconditions: called on c's thread.
func (sh *sharedStub) newThread(c *context) (*stubProc, error) {
	as := sh.as
	sh.mu.Lock()
	i := sh.freeAreaLocked()
	if i < 0 || sh.closed {
		sh.mu.Unlock()
		return nil, fmt.Errorf("ptrace: no thread area left in the address space's stub (%d threads)", maxAreas)
	}
	sh.areas[i] = areaUse{used: true}
	sh.refs++
	area := sh.shm[i*trapCtrlSize : (i+1)*trapCtrlSize]
	sh.mu.Unlock()
	base := uint64(sharedAreas + i*trapCtrlSize)
	clear(area[:0x1000])
	le := binary.LittleEndian
	le.PutUint64(area[cSS:], base+0x1000)            // ss_sp
	le.PutUint64(area[cSS+16:], trapCtrlSize-0x1000) // ss_size
	s := &stubProc{pid: sh.main.pid, ctx: c, as: as, sock: -1, thread: sh, area: i,
		trap: &trapState{shm: area, base: base}}
	as.mu.Lock()
	var tid uintptr
	err := sh.do(func() error {
		var err error
		tid, err = sh.main.injectRegs(platform.Registers{Rax: 56, OrigRax: ^uint64(0), Rdi: cloneFlags,
			Rsi: base + 0x1000, R10: base + cTid, R12: base, Rip: c.p.stub.cloneSite, Cs: 0x33, Ss: 0x2b,
			Rsp: StubBase + stubSize - 64, Eflags: 0x202})
		return err
	})
	as.mu.Unlock()
	if err != nil || tid == 0 {
		sh.mu.Lock()
		sh.areas[i] = areaUse{}
		sh.unrefLocked()
		sh.mu.Unlock()
		if err == nil {
			err = errors.New("trap: clone in the shared stub returned 0")
		}
		return nil, err
	}
	s.trap.appTid = int(tid)
	if c.cpu >= 0 {
		var set unix.CPUSet
		set.Set(c.cpu)
		unix.SchedSetaffinity(int(tid), &set)
	}
	if err := s.awaitEvent(false); err != nil {
		sh.endThread(s)
		return nil, err
	}
	if signo := int32(le.Uint32(area[s.trap.frame.info:])); signo != int32(unix.SIGSYS) {
		s.dead = true
		sh.endThread(s)
		return nil, fmt.Errorf("trap: shared stub's new thread failed to start (signal %d, error %d)", signo,
			int32(le.Uint32(area[cInitErr:])))
	}
	if c.initFP == nil {
		c.initFP = s.trap.fpState()
	}
	return s, nil
}

// endThread tells a thread of the stub to end (its context lets it go): the handler calls
// exit when resumed. Its area is reused once the thread is gone (freeAreaLocked); one that
// does not end in time (it was left running, or its area was tampered with) ends the
// whole stub. A thread the kernel found broken ends the stub at once.
func (sh *sharedStub) endThread(s *stubProc) {
	ts := s.trap
	if s.dead && !sh.dead.Load() {
		sh.kill()
	}
	if !sh.dead.Load() && ts.appTid > 0 {
		word(ts.shm, cExit).Store(1)
		word(ts.shm, cState).Store(stResume)
		futexWake(ts.shm, cState)
	}
	sh.mu.Lock()
	sh.areas[s.area] = areaUse{used: true, ending: true, tid: ts.appTid, since: time.Now()}
	if sh.owner == s {
		sh.owner = nil
	}
	sh.unrefLocked()
	sh.mu.Unlock()
	s.dead = true
}

// freeAreaLocked returns a free area, reclaiming those of threads that have ended, or -1.
// Preconditions: sh.mu held.
func (sh *sharedStub) freeAreaLocked() int {
	free := -1
	for k := range sh.areas {
		a := &sh.areas[k]
		if a.ending && !sh.dead.Load() && sh.shm != nil {
			area := sh.shm[k*trapCtrlSize:]
			// CLONE_CHILD_CLEARTID cleared the word at the thread's exit (the app could
			// clear it too, so the host must also know the thread no more).
			if word(area, cTid).Load() == 0 && unix.Tgkill(sh.main.pid, a.tid, 0) == unix.ESRCH {
				*a = areaUse{}
			} else if time.Since(a.since) > endingGrace {
				sh.kill()
			}
		}
		if !a.used && free < 0 {
			free = k
		}
	}
	return free
}

// alive reports whether a thread of the stub still runs.
func (sh *sharedStub) alive(s *stubProc) bool {
	return !sh.dead.Load() && unix.Tgkill(s.pid, s.trap.appTid, 0) != unix.ESRCH
}

// fill handles a fault of one of the stub's threads at addr: it maps the gap of the
// mapping there that the stub lacks and reports whether the thread should retry. A fault
// at a range already mapped is retried when another thread filled it (or widened its
// protection) since: a missing mapping, or an access the mapping allows.
func (sh *sharedStub) fill(addr uint64, signo, code int32, acc platform.AccessType) (bool, error) {
	as := sh.as
	as.mu.Lock()
	defer as.mu.Unlock()
	m := sh.main
	if sh.closed || m.applied != as.seq {
		// Every change is applied as it is recorded (record); a stub behind failed.
		return false, fmt.Errorf("%w: the address space's stub is behind", platform.ErrContextDead)
	}
	i := as.state.find(addr)
	if i >= len(as.state) || as.state[i].start > addr {
		return false, nil
	}
	if m.present.intersects(addr, addr+1) {
		if signo != int32(unix.SIGSEGV) {
			return false, nil
		}
		const segvMaperr = 1
		return code == segvMaperr || protAllows(as.state[i].prot, acc), nil
	}
	var retry bool
	err := sh.do(func() error {
		var err error
		retry, err = m.fillLocked(addr)
		return err
	})
	return retry, err
}

// protAllows reports whether a mapping with prot allows the access (x86: write and exec
// imply read).
func protAllows(prot platform.Prot, acc platform.AccessType) bool {
	switch {
	case acc.Write:
		return prot&platform.ProtWrite != 0
	case acc.Exec:
		return prot&platform.ProtExec != 0
	}
	return prot&(platform.ProtRead|platform.ProtWrite|platform.ProtExec) != 0
}

// cpuFor returns the stub's CPU time counted for thread handle s: the whole stub's time is
// counted for one of its threads at a time (host thread clocks of another process cannot
// be read), so the process's total is right.
func (sh *sharedStub) cpuFor(s *stubProc) (user, sys time.Duration) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.owner == nil {
		sh.owner = s
	}
	if sh.owner != s || sh.dead.Load() {
		return 0, 0
	}
	u, sy := stubCPU(s.pid)
	return max(u-sh.baseU, 0), max(sy-sh.baseSys, 0)
}

// dropThread accounts a dropped thread handle's CPU time and lets its base move on.
func (sh *sharedStub) dropThread(s *stubProc) (user, sys time.Duration) {
	u, sy := sh.cpuFor(s)
	sh.mu.Lock()
	if sh.owner == s {
		sh.baseU += u
		sh.baseSys += sy
	}
	sh.mu.Unlock()
	return u, sy
}
