package ptrace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// Trap mode (the platform named "trap"). Stubs are the same processes as in ptrace mode and
// their address spaces are kept in step the same way, by injecting mmap/munmap/mprotect into
// the stub's main thread, which the context's thread traces. App code, though, runs in a
// second thread of the stub that nothing traces: its seccomp filter traps every syscall
// (SECCOMP_RET_TRAP) into a SIGSYS handler in the stub, which publishes the signal frame
// Linux wrote on its signal stack (the shared area, a memfd the kernel maps too), hands the
// thread to the kernel and waits; the kernel reads and rewrites the registers and FP state
// in that frame, and the handler's rt_sigreturn loads them. Faults and SIGILL/SIGFPE/SIGTRAP
// take the same path, and the kernel interrupts a running app thread with SIGUSR2. No ptrace
// stop is on the syscall path: a round trip is two hand-offs, futex wake-ups or polls (see
// handoff.go).
//
// Address-space changes are injected into the traced main thread at once, as in ptrace
// mode, never left for the handler to make on its way back: a hand-off can be forged (the app
// writes the hand-off word and keeps running), so nothing the kernel does may depend on the
// app thread being parked, and a removed range must be gone from the host before the kernel
// reuses its pages. (Making the calls in the handler would need proof that the thread sleeps
// in the handler first, e.g. FUTEX_CMP_REQUEUE of its futex wait.)
//
// Trust: the shared area is writable by the app while it runs. Everything the kernel reads
// from it is checked (pointers inside the signal stack, sizes, FP-state magic); a forged
// hand-off at most makes the kernel handle a syscall with registers the app chose, which it
// could have made anyway. The handlers cannot be replaced (sigaction is the sbx kernel's),
// and the app thread's filter allows the host nothing but futex wait/wake, rt_sigreturn and
// arch_prctl(ARCH_SET_FS, ARCH_SET_GS) from the stub's read-only code page.

// NewTrap returns the trap platform for the memory file memFile.
func NewTrap(memFile *os.File) (*Platform, error) {
	img, err := buildTrapStub(hasFSGSBase())
	if err != nil {
		return nil, err
	}
	return newPlatform(memFile, img, true)
}

// atHWCap2 and hwcap2FSGSBase: the auxiliary-vector entry and the bit Linux sets when user
// space may use rdfsbase/wrfsbase (arch/x86/include/uapi/asm/hwcap2.h).
const (
	atHWCap2       = 26
	hwcap2FSGSBase = 1 << 1
)

func hasFSGSBase() bool {
	auxv, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return false
	}
	for i := 0; i+16 <= len(auxv); i += 16 {
		if binary.LittleEndian.Uint64(auxv[i:]) == atHWCap2 {
			return binary.LittleEndian.Uint64(auxv[i+8:])&hwcap2FSGSBase != 0
		}
	}
	return false
}

// trapState is what a stub needs in trap mode.
type trapState struct {
	shm []byte // the thread's area, mapped in the kernel
	// base is the area's address in the stub: trapCtrl, or a shared stub's thread area.
	base   uint64
	appTid int
	// curFS and curGS are the app thread's FS and GS bases as last seen or set.
	curFS, curGS uint64
	// frame is the signal frame of the thread's current hand-off, checked.
	frame trapFrame
	// fast says the current hand-off is trapFast's (a patched syscall site, patch.go): the
	// registers are in the control page and there is no frame.
	fast bool
	// ho is the hand-off policy's state (handoff.go).
	ho handoff
}

// trapFrame locates a signal frame in the shared area (offsets into shm).
type trapFrame struct {
	mc     int // struct sigcontext (uc_mcontext)
	info   int // siginfo
	sigset int // uc_sigmask
	fp     int // XSAVE area
	fpSize int
}

// Offsets in the x86-64 signal frame (arch/x86/include/uapi/asm/sigcontext.h,
// include/uapi/asm-generic/ucontext.h).
const (
	ucMcontext   = 40
	ucSigmask    = 40 + 256
	ucSize       = ucSigmask + 8
	scRsp        = 120
	scRip        = 128
	scEflags     = 136
	scCS         = 144
	scSS         = 150
	scErr        = 152
	scTrapno     = 160
	scFpstate    = 184
	siginfoSize  = 128
	fxSWBytes    = 464 // struct _fpx_sw_bytes in the legacy area's software-reserved bytes
	fpMagic1     = 0x46505853
	xsaveHdr     = 512
	xsaveMinSize = 512 + 64
)

// sigcontext order of the general registers, as offsets of platform.Registers fields.
func scRegs(r *platform.Registers) [16]*uint64 {
	return [16]*uint64{&r.R8, &r.R9, &r.R10, &r.R11, &r.R12, &r.R13, &r.R14, &r.R15,
		&r.Rdi, &r.Rsi, &r.Rbp, &r.Rbx, &r.Rdx, &r.Rax, &r.Rcx, &r.Rsp}
}

var errBadFrame = errors.New("trap: the stub's shared area holds no valid signal frame")

// inStack converts a stub address to an offset into shm if [addr, addr+n) lies in the signal
// stack.
func (ts *trapState) inStack(addr uint64, n int) (int, bool) {
	end := ts.base + trapCtrlSize
	if addr < ts.base+0x1000 || addr > end || uint64(n) > end-addr {
		return 0, false
	}
	return int(addr - ts.base), true
}

// readFrame locates and checks the frame the handler published.
func (ts *trapState) readFrame() error {
	le := binary.LittleEndian
	uc, ok1 := ts.inStack(le.Uint64(ts.shm[cUctx:]), ucSize)
	info, ok2 := ts.inStack(le.Uint64(ts.shm[cSiginfo:]), siginfoSize)
	if !ok1 || !ok2 {
		return errBadFrame
	}
	mc := uc + ucMcontext
	fpAddr := le.Uint64(ts.shm[mc+scFpstate:])
	fp, ok := ts.inStack(fpAddr, xsaveMinSize)
	if !ok || fpAddr%64 != 0 || le.Uint32(ts.shm[fp+fxSWBytes:]) != fpMagic1 {
		return errBadFrame
	}
	size := int(le.Uint32(ts.shm[fp+fxSWBytes+16:]))
	if size < xsaveMinSize || size > len(ts.shm)-fp {
		return errBadFrame
	}
	ts.frame = trapFrame{mc: mc, info: info, sigset: uc + ucSigmask, fp: fp, fpSize: size}
	return nil
}

func (ts *trapState) getRegs(r *platform.Registers) {
	le := binary.LittleEndian
	mc := ts.shm[ts.frame.mc:]
	for i, p := range scRegs(r) {
		*p = le.Uint64(mc[8*i:])
	}
	r.Rip = le.Uint64(mc[scRip:])
	r.Eflags = le.Uint64(mc[scEflags:])
	r.Cs = uint64(le.Uint16(mc[scCS:]))
	r.Ss = uint64(le.Uint16(mc[scSS:]))
	r.OrigRax = ^uint64(0)
}

func (ts *trapState) setRegs(r *platform.Registers) {
	le := binary.LittleEndian
	mc := ts.shm[ts.frame.mc:]
	for i, p := range scRegs(r) {
		le.PutUint64(mc[8*i:], *p)
	}
	le.PutUint64(mc[scRip:], r.Rip)
	le.PutUint64(mc[scEflags:], r.Eflags)
	// cs, gs, fs, ss: the 64-bit user segments (Linux forces cs anyway).
	le.PutUint16(mc[scCS:], 0x33)
	le.PutUint16(mc[scCS+2:], 0)
	le.PutUint16(mc[scCS+4:], 0)
	le.PutUint16(mc[scSS:], 0x2b)
	// The app thread runs with no host signal blocked.
	le.PutUint64(ts.shm[ts.frame.sigset:], 0)
	ts.setBases(r)
}

func (ts *trapState) fpState() []byte {
	return append([]byte(nil), ts.shm[ts.frame.fp:ts.frame.fp+ts.frame.fpSize]...)
}

// setFPState writes an XSAVE image into the frame, keeping the frame's own software bytes
// and masking what XRSTOR would refuse (rt_sigreturn checks the rest).
func (ts *trapState) setFPState(state []byte) {
	le := binary.LittleEndian
	fp := ts.shm[ts.frame.fp : ts.frame.fp+ts.frame.fpSize]
	var sw [512 - fxSWBytes]byte
	copy(sw[:], fp[fxSWBytes:512])
	mxcsrMask := le.Uint32(fp[28:])
	if mxcsrMask == 0 {
		mxcsrMask = 0xffbf
	}
	features := le.Uint64(sw[8:])
	n := copy(fp, state)
	clear(fp[n:])
	copy(fp[fxSWBytes:512], sw[:])
	le.PutUint32(fp[24:], le.Uint32(fp[24:])&mxcsrMask)
	le.PutUint32(fp[28:], mxcsrMask)
	le.PutUint64(fp[xsaveHdr:], le.Uint64(fp[xsaveHdr:])&features)
	clear(fp[xsaveHdr+8 : xsaveHdr+64])
}

// liveCheck is how long the kernel sleeps on a hand-off before checking that the stub lives;
// after maxUnanswered such sleeps with an interrupt pending (3 s: far beyond any scheduling
// delay of a thread that has not blocked the signal), the stub is killed.
const (
	liveCheck     = 100 * time.Millisecond
	maxUnanswered = 30
)

// awaitEvent waits for the app thread's next hand-off and checks its frame. running says
// the thread runs app code (not its start-up), so a pending interrupt is its to answer.
func (s *stubProc) awaitEvent(running bool) error {
	ts := s.trap
	st := word(ts.shm, cState)
	if ts.ho.split {
		if pollEvent(st, ts.ho.budget()) {
			return s.frameOrFail()
		}
		s.miss()
	} else {
		for range kernelPolls {
			if v := st.Load(); v == stEvent || v == stFast {
				return s.frameOrFail()
			}
		}
	}
	ks := word(ts.shm, cKSleep)
	unanswered := 0 // sleeps that ended with an interrupt pending
	for {
		ks.Store(1)
		v := st.Load()
		if v == stEvent || v == stFast {
			ks.Store(0)
			break
		}
		err := futexWait(ts.shm, cState, v, liveCheck)
		ks.Store(0)
		if v := st.Load(); v == stEvent || v == stFast {
			break
		}
		if err == unix.ETIMEDOUT {
			if err := s.checkAlive(); err != nil {
				return err
			}
			// An app computing without syscalls still has its CPU use measured.
			s.ctx.placeWindow(placeNow())
			// An app thread that does not answer an interrupt has blocked the signal (only a
			// forged rt_sigreturn frame can do that): ask again, then end it.
			if running && s.ctx.interrupt.Load() {
				if unanswered++; unanswered >= maxUnanswered {
					if s.thread != nil {
						s.thread.dead.Store(true)
					}
					unix.Kill(s.pid, unix.SIGKILL)
					return s.fail(errors.New("trap: the app thread blocked the kernel's interrupt"))
				}
				kick(s.runningTag())
			} else {
				unanswered = 0
			}
		}
	}
	return s.frameOrFail()
}

func (s *stubProc) frameOrFail() error {
	if s.trap.fast = word(s.trap.shm, cState).Load() == stFast; s.trap.fast {
		return nil
	}
	if err := s.trap.readFrame(); err != nil {
		return s.fail(err)
	}
	return nil
}

// checkAlive reports a stub that died (its main thread's end reaches the tracer).
func (s *stubProc) checkAlive() error {
	if s.thread != nil {
		if !s.thread.alive(s) {
			s.dead = true
			return fmt.Errorf("%w: stub %d thread %d ended", platform.ErrContextDead, s.pid, s.trap.appTid)
		}
		return nil
	}
	if s.trap != nil && s.trap.appTid > 0 && unix.Tgkill(s.pid, s.trap.appTid, 0) == unix.ESRCH {
		// The app thread ended its host thread (exit is allowed from the stub's code).
		s.dead = true
		unix.Kill(s.pid, unix.SIGKILL)
		return fmt.Errorf("%w: stub %d's app thread %d ended", platform.ErrContextDead, s.pid, s.trap.appTid)
	}
	var status unix.WaitStatus
	pid, err := unix.Wait4(s.pid, &status, unix.WNOHANG|unix.WALL, nil)
	if err != nil && err != unix.EINTR {
		return s.fail(err)
	}
	if pid == s.pid && (status.Exited() || status.Signaled()) {
		s.dead = true
		return fmt.Errorf("%w: stub %d ended (%v)", platform.ErrContextDead, s.pid, status)
	}
	return nil
}

// resumeApp hands the app thread back to the stub.
func (s *stubProc) resumeApp() {
	ts := s.trap
	if word(ts.shm, cStubSleep).Load() != 0 {
		// The stub's poll ran out (or it does not poll): it sleeps. Noted before the
		// policy sets the next poll; the flag is read again after the store below, which
		// decides the wake-up.
		s.miss()
	}
	s.beforeResume()
	word(ts.shm, cState).Store(stResume)
	if word(ts.shm, cStubSleep).Load() != 0 {
		futexWake(ts.shm, cState)
	}
}

// runningTag is the value of context.running while the kernel waits for s's app thread.
func (s *stubProc) runningTag() int64 {
	if s.trap != nil {
		return int64(s.pid)<<32 | int64(s.trap.appTid)
	}
	return int64(s.pid)
}

// kick interrupts the app code running under the tag.
func kick(tag int64) {
	if pid, tid := int(tag>>32), int(tag&0xffffffff); pid != 0 {
		unix.Tgkill(pid, tid, trapInterruptSignal)
	} else {
		unix.Tgkill(tid, tid, unix.SIGSTOP)
	}
}

// newTrapStub starts a trap stub for as, traced (its main thread) by this context's thread.
func (c *context) newTrapStub(as *addressSpace) (*stubProc, error) {
	s, err := c.spawnTrapStub()
	if err != nil {
		return nil, err
	}
	return c.attach(s, as)
}

// execTrapStub starts a trap-mode stub traced by the calling thread, with an area of size
// bytes shared with it, and brings it to its exec stop with the vDSO moved and the trace
// options set. The caller owns shm; on an error nothing is left behind.
func (c *context) execTrapStub(size int) (s *stubProc, shm []byte, err error) {
	fd, err := unix.MemfdCreate("sbx-stub-shared", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, nil, fmt.Errorf("trap: shared area: %w", err)
	}
	shmFile := os.NewFile(uintptr(fd), "sbx-stub-shared")
	defer shmFile.Close()
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		return nil, nil, fmt.Errorf("trap: shared area: %w", err)
	}
	shm, err = unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("trap: shared area: %w", err)
	}
	path, _ := c.p.stubPath.Load().(string)
	sock, stubEnd, err := stubSocket()
	if err != nil {
		unix.Munmap(shm)
		return nil, nil, err
	}
	// FD 0 the memory file, 1 the socket for host files (stubSockFD), 2 the shared area,
	// which the stub maps and closes.
	attr := &syscall.ProcAttr{
		Env:   []string{},
		Files: []uintptr{c.p.memFile.Fd(), uintptr(stubEnd), uintptr(fd)},
		Sys:   &syscall.SysProcAttr{Ptrace: true, Pdeathsig: syscall.SIGKILL},
	}
	forked := platform.Forking() // until the exec stop: the child holds the kernel's FDs
	pid, err := syscall.ForkExec(path, []string{"sbx-stub"}, attr)
	unix.Close(stubEnd)
	if err != nil {
		forked()
		unix.Close(sock)
		unix.Munmap(shm)
		return nil, nil, fmt.Errorf("trap: starting a stub: %w", err)
	}
	s = &stubProc{pid: pid, ctx: c, sock: sock}
	fail := func(err error) (*stubProc, []byte, error) {
		s.kill()
		unix.Munmap(shm)
		return nil, nil, err
	}
	st, err := s.wait() // the exec stop
	forked()
	if err != nil {
		return fail(err)
	}
	if !st.Stopped() || st.StopSignal() != unix.SIGTRAP {
		return fail(fmt.Errorf("trap: stub did not stop after exec: %v", st))
	}
	if err := s.moveVDSO(); err != nil {
		return fail(err)
	}
	if err := unix.PtraceSetOptions(pid, unix.PTRACE_O_EXITKILL|unix.PTRACE_O_TRACESYSGOOD); err != nil {
		return fail(fmt.Errorf("trap: options: %w", err))
	}
	return s, shm, nil
}

// spawnTrapStub starts a trap-mode stub, traced by this context's thread, up to its app
// thread's first hand-off, its address space emptied but for its own page, its shared
// area and the vDSO.
func (c *context) spawnTrapStub() (*stubProc, error) {
	s, shm, err := c.execTrapStub(trapCtrlSize)
	if err != nil {
		return nil, err
	}
	pid := s.pid
	s.trap = &trapState{shm: shm, base: trapCtrl}
	fail := func(err error) (*stubProc, error) {
		s.kill()
		unix.Munmap(shm)
		return nil, err
	}
	// The start-up code runs to its first int3 (rax: the filter's result, rbx: the app
	// thread's TID), its app thread to its first hand-off.
	if err := unix.PtraceCont(pid, 0); err != nil {
		return fail(err)
	}
	st, err := s.wait()
	if err != nil {
		return fail(err)
	}
	var regs platform.Registers
	if !st.Stopped() || st.StopSignal() != unix.SIGTRAP || getRegs(pid, &regs) != nil || regs.Rax != 0 || int64(regs.Rbx) <= 0 {
		return fail(fmt.Errorf("trap: stub start-up failed (stop %v, result %d, thread %d)", st, int64(regs.Rax), int64(regs.Rbx)))
	}
	s.trap.appTid = int(regs.Rbx)
	// Empty the address space but for the slot table, the stub's image, its shared area
	// and the vDSO.
	for _, r := range c.p.emptyRanges([2]uint64{trapTable, trapTable + trapTableSize}, [2]uint64{StubBase, StubBase + trapImageSize},
		[2]uint64{trapCtrl, trapCtrl + trapCtrlSize}) {
		if _, err := s.inject(sysMunmap, uintptr(r[0]), uintptr(r[1]-r[0]), 0, 0, 0, 0); err != nil {
			return fail(err)
		}
	}
	if err := s.awaitEvent(false); err != nil {
		return fail(err)
	}
	if signo := int32(binary.LittleEndian.Uint32(shm[s.trap.frame.info:])); signo != int32(unix.SIGSYS) {
		return fail(fmt.Errorf("trap: stub's app thread failed to start (signal %d, error %d)", signo,
			int32(binary.LittleEndian.Uint32(shm[cInitErr:]))))
	}
	if c.initFP == nil {
		c.initFP = s.trap.fpState()
	}
	return s, nil
}

// switchTrap runs app code in s until an event (trap mode's Switch).
func (c *context) switchTrap(as *addressSpace, s *stubProc, regs *platform.Registers) (platform.Event, error) {
	ts := s.trap
	le := binary.LittleEndian
	keep := false                    // resume the current frame unchanged
	fills, lastFault := 0, uint64(0) // faults retried in a row at one address (shared stubs)
	for {
		// An app resumed between the original instructions of a patched site (a restarted
		// syscall rewinds rip by 2; a signal frame saved there; a shoot-down that stopped
		// it there, after which its stub maps the patch; every read's return) goes on as
		// those instructions would: the bytes at rip are the patch's now, which the app
		// never runs from there. At a syscall instruction, it makes that syscall at once;
		// at a read site's cmp, the platform makes the cmp.
		if !keep {
			if site, off, ok := as.patchedInside(regs.Rip, 2, 4); ok {
				if off == 4 {
					afterCmp(site, regs)
				} else {
					if c.interrupt.Swap(false) {
						return platform.Event{Kind: platform.EventInterrupted}, nil
					}
					return syscallAt(regs), nil
				}
			}
		}
		if s.thread == nil && s.appliedA.Load() != as.seqA.Load() {
			as.mu.Lock()
			err := s.syncLocked(as.seq)
			as.mu.Unlock()
			if err != nil {
				return platform.Event{}, err
			}
		}
		// Cleared before running is set: an interrupt from now on is noted again.
		word(ts.shm, cPendInt).Store(0)
		if !c.startRunning(s) {
			continue // a change came in meanwhile
		}
		if keep {
			// Stopped inside the trampoline, which hands the interrupt on (C_PENDINT).
			if c.interrupt.Load() {
				word(ts.shm, cPendInt).Store(1)
			}
		} else if c.interrupt.Swap(false) {
			c.stopped()
			return platform.Event{Kind: platform.EventInterrupted}, nil
		}
		if !keep {
			// A trap flag to set goes through a frame (rt_sigreturn), not trapFast's popfq.
			if ts.fast && regs.Eflags&eflagsTF != 0 {
				if err := s.upgrade(); err != nil {
					c.stopped()
					return platform.Event{}, err
				}
			}
			if ts.fast {
				ts.setFastRegs(regs)
			} else {
				ts.setRegs(regs)
			}
		}
		keep = false
		s.resumeApp()
		err := s.awaitEvent(true)
		c.stopped()
		if err != nil {
			return platform.Event{}, err
		}
		if ts.fast {
			ts.getFastRegs(regs)
		} else {
			ts.getRegs(regs)
		}
		if c.p.hasFSGS {
			ts.curFS = le.Uint64(ts.shm[cFSBase:])
			regs.FsBase = ts.curFS
			ts.curGS = le.Uint64(ts.shm[cGSBase:])
			regs.GsBase = ts.curGS
		}
		if ts.fast {
			k := word(ts.shm, cSlot).Load()
			if k == ^uint32(0) {
				// The kernel's interrupt reached the trampoline.
				if c.interrupt.Swap(false) {
					return platform.Event{Kind: platform.EventInterrupted}, nil
				}
				continue
			}
			site, ok := as.slot(k)
			if !ok {
				// A jump into the entries from no patched site: as a jump to an address
				// the app may not execute.
				regs.Rip = StubBase + trapEntryOff + uint64(min(k, trapSlots-1))*trapEntrySize
				return platform.Event{Kind: platform.EventFault, Signo: int32(unix.SIGSEGV), Code: 2, Addr: regs.Rip,
					Access: platform.AccessType{Exec: true}}, nil
			}
			return as.fastSyscall(site, regs), nil
		}
		info := ts.shm[ts.frame.info:]
		signo := int32(le.Uint32(info[0:]))
		code := int32(le.Uint32(info[8:]))
		addr := le.Uint64(info[16:])
		switch signo {
		case int32(unix.SIGSYS):
			const sysSeccomp = 1
			if code == sysSeccomp {
				// Linux rolled rax back to the syscall number; rip is after the instruction.
				regs.OrigRax = regs.Rax
				return platform.Event{Kind: platform.EventSyscall, Patchable: regs.Rip < maxUserAddress}, nil
			}
			return platform.Event{Kind: platform.EventSignal, Signo: signo, Code: code, Addr: addr}, nil
		case trapInterruptSignal:
			if c.interrupt.Swap(false) {
				return platform.Event{Kind: platform.EventInterrupted}, nil
			}
			continue // a shoot-down: catch up and go on
		case int32(unix.SIGSEGV), int32(unix.SIGBUS):
			// A thread that ran a site's old mov and met its patch at site+5 faulted in
			// page 0 (patch.go): it makes the syscall the old code would have.
			if _, off, ok := as.patchedInside(regs.Rip); ok && off == 5 {
				return syscallAt(regs), nil
			}
			ev := platform.Event{Kind: platform.EventFault, Signo: signo, Code: code, Addr: addr}
			mc := ts.shm[ts.frame.mc:]
			if le.Uint64(mc[scTrapno:]) == 14 { // #PF: the error code says which access
				e := le.Uint64(mc[scErr:])
				ev.Access = platform.AccessType{Write: e&2 != 0, Exec: e&16 != 0}
				ev.Access.Read = !ev.Access.Write && !ev.Access.Exec
			}
			var retry bool
			var err error
			if s.thread != nil {
				// Bounded: a fault that keeps coming back at one address is the app's
				// (retries there only cover another thread's fill racing this fault).
				if addr != lastFault {
					lastFault, fills = addr, 0
				}
				if fills++; fills <= maxFillRetries {
					retry, err = s.thread.fill(addr, signo, code, ev.Access)
				}
			} else {
				retry, err = s.fill(addr)
			}
			if err != nil {
				return platform.Event{}, err
			} else if retry {
				continue // a mapping the stub lacked
			}
			return ev, nil
		case int32(unix.SIGTRAP):
			if inTrampoline(regs.Rip) {
				// The app's trap flag single-steps the trampoline: to the app a patched
				// site is one instruction, as the syscall was.
				keep = true
				continue
			}
			return platform.Event{Kind: platform.EventSignal, Signo: signo, Code: code, Addr: addr}, nil
		case int32(unix.SIGILL):
			// The app ran a read site's patch from inside (patch.go): from its cmp (site+4),
			// or from its syscall (site+2), which reaches site+7.
			if site, off, ok := as.patchedInside(regs.Rip, 4, 7); ok && off != 5 {
				if off == 4 {
					afterCmp(site, regs)
					continue
				}
				regs.Rip = site.site + 2
				return syscallAt(regs), nil
			}
			return platform.Event{Kind: platform.EventSignal, Signo: signo, Code: code, Addr: addr}, nil
		case int32(unix.SIGFPE):
			return platform.Event{Kind: platform.EventSignal, Signo: signo, Code: code, Addr: addr}, nil
		}
		return platform.Event{Kind: platform.EventInterrupted}, nil
	}
}

// maxFillRetries bounds the faults a shared stub's thread retries in a row.
const maxFillRetries = 16

// eflagsTF is the trap flag.
const eflagsTF = 0x100
