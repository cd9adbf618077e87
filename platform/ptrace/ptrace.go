// Package ptrace runs app code in stub processes traced with PTRACE_SYSEMU.
//
// Model. An address space is a list of memory-file ranges (the kernel's mm decides what
// they are). Every execution context (one per app thread, used by one goroutine locked to
// one OS thread) runs app code in a stub process of its own for each address space it
// enters; the stub is a child of that OS thread, created with PTRACE_TRACEME, so the
// context's thread is its tracer and no tracee ever changes hands. Threads of one app
// process therefore run in several stub processes that map the same memory-file ranges at
// the same addresses: all app memory is MAP_SHARED memory-file pages, so they see each
// other's writes exactly as threads do.
//
// Keeping stubs in step. Address-space changes are recorded in the address space (its
// current mappings plus a log of recent operations). The calling context's own stub, if it
// has one there, gets the change injected at once. Other stubs catch up before they next run
// app code: a change that removes or restricts access interrupts those running app code
// with the range mapped and returns only once each has stopped (the equivalent of a TLB
// shoot-down: shootDown), and a fault in a stub that is behind is retried after catching
// up instead of being reported. A context sets running before it checks that its stub is
// up to date (startRunning), a change counts itself before it reads running: one of the
// two sees the other.
//
// Stubs are filled on demand. A stub maps only part of its address space's mappings (its
// present set, always the current mappings restricted to some ranges): a new stub starts
// with none, and a fault at an address the mappings cover but the stub lacks maps the
// range and retries instead of being reported. Catching up skips every operation on
// ranges the stub has never used, and only stubs that use a changed range are interrupted.
// A browser process runs ~20 threads, each in a stub of its own, over thousands of
// mappings, of which one thread touches a few dozen: mapping them all into every new stub
// and every change into every stub cost most of a headless screenshot's time.
//
// Injection: the tracer points rip at the stub's `syscall; int3` site with the call in the
// registers and PTRACE_CONTs; the seccomp filter only lets mmap/munmap/mprotect/exit_group
// through from that site. App syscalls never execute on the host: PTRACE_SYSEMU stops the
// stub at syscall entry and the kernel implements the call.
//
// Cost: a tracer/tracee round trip is cheap only when both run on one CPU (a cross-CPU
// wake-up costs tens of µs on small VMs), so each context pins its OS thread and its stubs
// to one CPU; which one follows how tasks wake each other (placement.go).
//
// Locking: addressSpace.mu protects its mappings, log and stub set; stubProc.applied is
// protected by its address space's mu. A context's fields are touched only by its goroutine,
// except interrupt state (atomics).
package ptrace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// Platform is the ptrace platform for one sandbox.
type Platform struct {
	memFile *os.File
	stub    stubImage
	stubFD  *os.File // memfd holding the stub program
	// stubPath is what stubs are executed from; settable once the process confines itself.
	stubPath atomic.Value // string
	ncpu     int
	// cpus is the CPUs the platform's creator could run on: a released context's thread
	// gets them back.
	cpus unix.CPUSet
	// trap selects trap mode (trap.go): app code runs in an untraced stub thread whose
	// syscalls and faults reach a signal handler in the stub.
	trap    bool
	hasFSGS bool
	// cooling holds trap mode's split hand-offs back after failures (handoff.go).
	cooling splitCooling
	// autoSplit lets the hand-off policy split stubs on its own (handoff.go; off).
	autoSplit bool
	// shared runs all threads of an address space in one stub (shared.go; off).
	shared bool
	// policy places contexts on CPUs; byTid finds a context by its thread (placement.go).
	policy *policy
	byTid  sync.Map // int → *context

	mu sync.Mutex
	// contexts are the live contexts. protected by mu
	contexts map[*context]struct{}
	// spaces are the live address spaces. protected by mu
	spaces map[*addressSpace]struct{}
	// vdso is the host's vDSO block and where every stub shows it (vdso.go); nil: none.
	vdso *hostVDSO
}

// New returns a ptrace platform for the memory file memFile.
func New(memFile *os.File) (*Platform, error) {
	return newPlatform(memFile, buildStub(), false)
}

func newPlatform(memFile *os.File, stub stubImage, trap bool) (*Platform, error) {
	p := &Platform{memFile: memFile, stub: stub, trap: trap, contexts: map[*context]struct{}{}, spaces: map[*addressSpace]struct{}{},
		vdso: findHostVDSO()}
	if trap {
		p.hasFSGS = hasFSGSBase()
	}
	fd, err := unix.MemfdCreate("sbx-stub", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd for the stub: %w", err)
	}
	p.stubFD = os.NewFile(uintptr(fd), "sbx-stub")
	if _, err := p.stubFD.Write(p.stub.elf); err != nil {
		p.stubFD.Close()
		return nil, err
	}
	p.stubPath.Store(fmt.Sprintf("/proc/self/fd/%d", fd))
	if unix.SchedGetaffinity(0, &p.cpus) == nil {
		p.ncpu = p.cpus.Count()
	}
	if p.ncpu < 1 {
		p.ncpu = 1
	}
	p.policy = newPolicy(platformCPUs(&p.cpus))
	return p, nil
}

// StubProgram returns the stub executable, for a confined process to place where it can
// still execute it (see SetStubPath).
func (p *Platform) StubProgram() []byte { return p.stub.elf }

// SetStubPath tells the platform where the stub program is once /proc/self/fd is gone.
func (p *Platform) SetStubPath(path string) { p.stubPath.Store(path) }

// Name implements platform.Platform.
func (p *Platform) Name() string {
	if p.trap {
		return "trap"
	}
	return "ptrace"
}

// MaxUserAddress implements platform.Platform.
func (p *Platform) MaxUserAddress() uint64 { return maxUserAddress }

// Close implements platform.Platform.
func (p *Platform) Close() error {
	p.mu.Lock()
	spaces := make([]*addressSpace, 0, len(p.spaces))
	for as := range p.spaces {
		spaces = append(spaces, as)
	}
	p.mu.Unlock()
	for _, as := range spaces {
		as.Release()
	}
	return p.stubFD.Close()
}

// NewAddressSpace implements platform.Platform.
func (p *Platform) NewAddressSpace() (platform.AddressSpace, error) {
	as := &addressSpace{p: p, stubs: map[*stubProc]struct{}{}, shared: p.shared}
	p.mu.Lock()
	p.spaces[as] = struct{}{}
	p.mu.Unlock()
	return as, nil
}

// NewContext implements platform.Platform. The caller's goroutine must be locked to its
// OS thread; the thread is pinned to one CPU together with the stubs it traces (placement.go).
func (p *Platform) NewContext() (platform.Context, error) {
	c := &context{p: p, tid: unix.Gettid(), stubs: map[*addressSpace]*stubProc{}}
	// The thread may have run other goroutines, or an earlier context, before: only what it
	// spends from now on is this context's.
	c.tracerBase = readClock(threadCPUClock(c.tid))
	c.placeNew()
	p.mu.Lock()
	p.contexts[c] = struct{}{}
	p.mu.Unlock()
	return c, nil
}

// opKind is the kind of an address-space operation.
type opKind uint8

const (
	opMap opKind = iota
	opUnmap
	opProtect
)

type op struct {
	kind         opKind
	addr, length uint64
	off          int64
	prot         platform.Prot
	host         *hostFile // opMap of a host file (MapHostFile)
}

// hostFile is the platform's own duplicate of a host file mapped with MapHostFile, kept
// while the address space's mappings or operation log name it (gcHostsLocked). One serves
// every mapping of the same host file with the same access mode (key): a program's
// libraries are mapped piece by piece, and a duplicate per piece would cost the kernel one
// FD per library segment per process.
type hostFile struct {
	fd  int
	key hostFileKey
	// pending counts MapHostFile calls between choosing the file and logging their
	// mapping, which the file must outlive. protected by addressSpace.mu
	pending int
}

// hostFileKey names a host file (device and inode) and the access mode it was opened with.
type hostFileKey struct {
	dev, ino uint64
	acc      int
}

// maxLog bounds the operation log; stubs further behind are rebuilt from the mappings.
const maxLog = 1024

type addressSpace struct {
	p *Platform

	mu sync.Mutex
	// state is the current mappings. protected by mu
	state mappings
	// log holds operations seq-len(log)..seq-1. protected by mu
	log []op
	seq uint64
	// seqA mirrors seq for the lock-free check on every switch.
	seqA atomic.Uint64
	// stubs mirror this address space. protected by mu
	stubs    map[*stubProc]struct{}
	released bool
	// hosts are the host files mapped or to be mapped; sinceGC counts operations since
	// the last scan for unused ones. protected by mu
	hosts   map[*hostFile]struct{}
	sinceGC int
	// patches are the syscall sites the kernel patched (trap mode, patch.go).
	patches patchTable
	// retired are releases of replaced memory waiting for the stubs (retire.go).
	// protected by mu
	retired []retiredMem
	// shared says every thread runs in one stub, sh (shared.go), started by the first
	// Switch. sh is protected by mu
	shared bool
	sh     *sharedStub
}

// stubProc is one stub process: the thread that runs one context's app code in one
// address space.
type stubProc struct {
	pid     int
	ctx     *context
	as      *addressSpace
	applied uint64 // operations applied; protected by as.mu
	// present is the part of as.state the stub has mapped (spans); protected by as.mu.
	present mappings
	// appliedA mirrors applied for the lock-free check in Switch.
	appliedA atomic.Uint64
	// last is the register file read at the last stop (valid until something else is
	// injected into the stub).
	last      platform.Registers
	lastValid bool
	dead      bool
	// trap is the stub's trap-mode state (nil in ptrace mode).
	trap *trapState
	// thread is set on a thread of a shared stub (shared.go): the handle of one context's
	// app thread, whose area is area; it is not in as.stubs (the shared stub's mapper is).
	// mapper is set on a shared stub's main thread, which is.
	thread, mapper *sharedStub
	area           int
	// sock is the kernel's end of the socket the stub receives host files on (its FD
	// stubSockFD); -1 once closed. scratch says the stub's receive buffer is mapped.
	sock    int
	scratch bool
}

func (as *addressSpace) record(o op, restricts bool) error {
	as.mu.Lock()
	if as.released {
		as.mu.Unlock()
		return errors.New("ptrace: address space released")
	}
	switch o.kind {
	case opMap:
		as.state = as.state.insert(mapping{o.addr, o.addr + o.length, o.off, o.prot, o.host})
	case opUnmap:
		as.state = as.state.remove(o.addr, o.addr+o.length)
	case opProtect:
		if as.state.widens(o.addr, o.addr+o.length, o.prot) {
			restricts = false
		}
		as.state = as.state.protect(o.addr, o.addr+o.length, o.prot)
	}
	as.log = append(as.log, o)
	if o.host != nil {
		o.host.pending--
	}
	as.seq++
	as.seqA.Store(as.seq)
	trimmed := len(as.log) > maxLog
	if trimmed {
		as.log = append([]op(nil), as.log[len(as.log)-maxLog/2:]...)
	}
	// Host files are let go in batches: a scan costs the mappings and the log.
	if as.sinceGC++; len(as.hosts) > 0 && (trimmed || as.sinceGC >= 64) {
		as.sinceGC = 0
		as.gcHostsLocked()
	}
	// The caller's own stub (same tracer thread) takes the change now.
	tid := unix.Gettid()
	var firstErr error
	var running []shootDown
	for s := range as.stubs {
		if s.mapper != nil {
			// The one stub of a shared address space takes every change now.
			if !s.dead {
				if err := s.mapper.do(func() error { return s.syncLocked(as.seq - 1) }); err != nil && firstErr == nil {
					firstErr = err
				}
			}
			continue
		}
		if s.ctx.tid == tid && !s.dead {
			// Its thread made the change, and most likely uses the range next; but a new
			// mapping nothing can access (PROT_NONE: a reservation, a guard) is left for a
			// fault to map, which it is once an mprotect allows an access: the mmap,
			// the mprotect (of a range the stub lacks) and an munmap before any access
			// then cost no injection.
			eager := as.seq - 1
			if o.kind == opMap && o.prot == 0 && !s.present.intersects(o.addr, o.addr+o.length) {
				eager = as.seq
			}
			if err := s.syncLocked(eager); err != nil && firstErr == nil {
				firstErr = err
			}
			continue
		}
		if restricts && s.present.intersects(o.addr, o.addr+o.length) {
			if sd, ok := s.ctx.shootDown(s); ok {
				running = append(running, sd)
			}
		}
	}
	as.mu.Unlock()
	// Stubs that run app code with the range mapped stop before the change returns: once
	// it has, no thread reads the old pages or writes where it no longer may (Linux's TLB
	// shoot-down completes before munmap, mprotect or a copy-on-write fault returns). They
	// apply the change before they run app code again.
	for _, sd := range running {
		sd.wait()
	}
	return firstErr
}

// MapFile implements platform.AddressSpace.
func (as *addressSpace) MapFile(addr, length uint64, off int64, prot platform.Prot) error {
	if addr+length > maxUserAddress || addr+length < addr {
		return unix.EINVAL
	}
	// Replacing an existing mapping restricts what other threads may see there.
	return as.record(op{kind: opMap, addr: addr, length: length, off: off, prot: prot}, true)
}

// MapHostFile implements platform.AddressSpace: stubs receive the file over their socket
// when they apply the mapping (stubProc.mmapHost) and close it once mapped.
func (as *addressSpace) MapHostFile(addr, length uint64, fd int, off int64, prot platform.Prot) error {
	if addr+length > maxUserAddress || addr+length < addr || off < 0 {
		return unix.EINVAL
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	key := hostFileKey{dev: st.Dev, ino: st.Ino, acc: fl & unix.O_ACCMODE}
	as.mu.Lock()
	var h *hostFile
	for k := range as.hosts {
		if k.key == key {
			h = k
			break
		}
	}
	if h == nil {
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			as.mu.Unlock()
			return err
		}
		h = &hostFile{fd: dup, key: key}
		if as.hosts == nil {
			as.hosts = map[*hostFile]struct{}{}
		}
		as.hosts[h] = struct{}{}
	}
	h.pending++
	as.mu.Unlock()
	return as.record(op{kind: opMap, addr: addr, length: length, off: off, prot: prot, host: h}, true)
}

// gcHostsLocked closes the host files neither a mapping nor a logged operation names any
// more (a stub further behind than the log rebuilds from the mappings). Preconditions:
// as.mu held.
func (as *addressSpace) gcHostsLocked() {
	used := make(map[*hostFile]bool, len(as.hosts))
	for _, m := range as.state {
		if m.host != nil {
			used[m.host] = true
		}
	}
	for _, o := range as.log {
		if o.host != nil {
			used[o.host] = true
		}
	}
	for h := range as.hosts {
		if !used[h] && h.pending == 0 {
			unix.Close(h.fd)
			delete(as.hosts, h)
		}
	}
}

// Unmap implements platform.AddressSpace.
func (as *addressSpace) Unmap(addr, length uint64) error {
	if addr >= maxUserAddress || addr+length <= patchLow {
		return nil
	}
	length = min(length, maxUserAddress-addr)
	if addr < patchLow {
		// Nothing of the app's lies below patchLow; a trap stub's slot table does.
		if addr+length >= maxUserAddress {
			as.resetPatches() // the whole address space: an exec
		}
		length -= patchLow - addr
		addr = patchLow
	}
	return as.record(op{kind: opUnmap, addr: addr, length: length}, true)
}

// Protect implements platform.AddressSpace.
func (as *addressSpace) Protect(addr, length uint64, prot platform.Prot) error {
	if addr+length > maxUserAddress {
		return unix.EINVAL
	}
	return as.record(op{kind: opProtect, addr: addr, length: length, prot: prot}, true)
}

// Release implements platform.AddressSpace: its stubs are killed (their tracers reap them).
func (as *addressSpace) Release() {
	as.mu.Lock()
	as.released = true
	for h := range as.hosts {
		unix.Close(h.fd)
	}
	as.hosts = nil
	stubs := make([]*stubProc, 0, len(as.stubs))
	for s := range as.stubs {
		stubs = append(stubs, s)
	}
	as.mu.Unlock()
	tid := unix.Gettid()
	for _, s := range stubs {
		if s.mapper != nil {
			as.mu.Lock()
			s.mapper.close()
			as.mu.Unlock()
			continue
		}
		if s.ctx.tid == tid {
			s.ctx.dropStub(s)
		} else {
			unix.Kill(s.pid, unix.SIGKILL)
		}
	}
	as.releaseAllRetired()
	as.p.mu.Lock()
	delete(as.p.spaces, as)
	as.p.mu.Unlock()
}

func toHostProt(p platform.Prot) uintptr {
	var h uintptr
	if p&platform.ProtRead != 0 {
		h |= unix.PROT_READ
	}
	if p&platform.ProtWrite != 0 {
		h |= unix.PROT_WRITE
	}
	if p&platform.ProtExec != 0 {
		h |= unix.PROT_EXEC
	}
	return h
}

// syncLocked brings the stub up to date: operations from the log number eager on are
// applied as they are, earlier ones only where they touch the stub's present set (the rest
// of the address space it maps on demand, fillLocked). Preconditions: s.as.mu held; called
// on s's tracer.
func (s *stubProc) syncLocked(eager uint64) error {
	as := s.as
	if s.applied == as.seq {
		return nil
	}
	first := as.seq - uint64(len(as.log))
	if s.applied < first {
		// Too far behind: start again from nothing present.
		return s.rebuildLocked()
	}
	for _, o := range as.log[s.applied-first:] {
		var err error
		end := o.addr + o.length
		switch o.kind {
		case opMap:
			// s.applied numbers o.
			if s.applied < eager && !s.present.intersects(o.addr, end) {
				break // left for a fault to map
			}
			if o.host != nil {
				err = s.mmapHost(o.addr, o.length, o.host, o.off, o.prot)
				if err != nil && !s.dead {
					// A mapping since replaced, of a file since sealed against writing (the
					// host refuses a writable mapping now): what counts is the current state.
					return s.rebuildLocked()
				}
			} else {
				err = s.mmap(o.addr, o.length, o.off, o.prot)
			}
			if err == nil {
				s.present = s.present.insert(span(o.addr, end))
			}
		case opUnmap:
			if !s.present.intersects(o.addr, end) {
				break
			}
			_, err = s.inject(sysMunmap, uintptr(o.addr), uintptr(o.length), 0, 0, 0, 0)
			s.present = s.present.remove(o.addr, end)
		case opProtect:
			switch {
			case !s.present.intersects(o.addr, end):
			case s.present.covers(o.addr, end):
				_, err = s.inject(sysMprotect, uintptr(o.addr), uintptr(o.length), toHostProt(o.prot), 0, 0, 0)
			default:
				// Partly present: mprotect would stop at the first hole. Let the range go;
				// faults map it again with its protection then.
				_, err = s.inject(sysMunmap, uintptr(o.addr), uintptr(o.length), 0, 0, 0, 0)
				s.present = s.present.remove(o.addr, end)
			}
		}
		if err != nil {
			return err
		}
		s.applied++
	}
	s.appliedA.Store(s.applied)
	as.releaseRetiredLocked()
	return nil
}

// rebuildLocked empties the stub's address space: it maps the current mappings as it
// faults on them. Preconditions: as for syncLocked.
func (s *stubProc) rebuildLocked() error {
	as := s.as
	if _, err := s.inject(sysMunmap, patchLow, maxUserAddress-patchLow, 0, 0, 0, 0); err != nil {
		return err
	}
	s.present = nil
	s.applied = as.seq
	s.appliedA.Store(s.applied)
	as.releaseRetiredLocked()
	return nil
}

// fill maps, after a fault at addr, the part of the mapping there that the stub lacks,
// catching up first; it reports whether the app should retry the access. Preconditions:
// called on s's tracer.
func (s *stubProc) fill(addr uint64) (bool, error) {
	as := s.as
	as.mu.Lock()
	defer as.mu.Unlock()
	if s.applied != as.seq {
		// The mapping may have come after this stub last synced.
		if err := s.syncLocked(as.seq); err != nil {
			return false, err
		}
		return true, nil
	}
	return s.fillLocked(addr)
}

// fillLocked maps the gap around addr of the mapping there that the stub lacks.
// Preconditions: s is up to date; as for syncLocked.
func (s *stubProc) fillLocked(addr uint64) (bool, error) {
	as := s.as
	i := as.state.find(addr)
	if i >= len(as.state) || as.state[i].start > addr || s.present.intersects(addr, addr+1) {
		return false, nil // a fault the app's own mappings explain
	}
	m := as.state[i]
	lo, hi := s.present.gapAround(addr, m.start, m.end)
	off := m.off + int64(lo-m.start)
	var err error
	if m.host != nil {
		err = s.mmapHost(lo, hi-lo, m.host, off, m.prot)
	} else {
		err = s.mmap(lo, hi-lo, off, m.prot)
	}
	if err != nil {
		return false, err
	}
	s.present = s.present.insert(span(lo, hi))
	return true, nil
}

// taskSize is x86-64 TASK_SIZE with 4-level paging: the end of user address space.
const taskSize = 0x7ffffffff000

// memFD is the memory file's FD number inside every stub.
const memFD = 0

func (s *stubProc) mmap(addr, length uint64, off int64, prot platform.Prot) error {
	r, err := s.inject(sysMmap, uintptr(addr), uintptr(length), toHostProt(prot),
		unix.MAP_SHARED|unix.MAP_FIXED, memFD, uintptr(off))
	if err != nil {
		return err
	}
	if r != uintptr(addr) {
		return fmt.Errorf("ptrace: stub mmap at %#x returned %#x", addr, r)
	}
	return nil
}

// Receiving host files. A stub holds the memory file (FD 0) and its end of a socket
// (stubSockFD) and nothing else, so a file it receives takes the lowest free number,
// stubRecvFD: the tracer sends the file on its end, injects recvmsg into a scratch page it
// mapped above the app's addresses, then mmap and close. The scratch page's contents need
// not be trusted (a trap stub's app thread may write it): they only say where the byte and
// the control message land; the FD number is the lowest free one whatever they say, and a
// message that did not arrive whole leaves no FD there, so mmap fails.
const (
	stubSockFD  = 1
	stubRecvFD  = 2
	scratchAddr = StubBase + 0x20000
)

// scratchMsghdr is the struct msghdr (and its iovec and buffers) recvmsg gets, at scratchAddr.
func scratchMsghdr() []byte {
	b := make([]byte, 120)
	le := binary.LittleEndian
	le.PutUint64(b[16:], scratchAddr+64) // msg_iov
	le.PutUint64(b[24:], 1)              // msg_iovlen
	le.PutUint64(b[32:], scratchAddr+96) // msg_control
	le.PutUint64(b[40:], 24)             // msg_controllen: CMSG_SPACE(sizeof(int))
	le.PutUint64(b[64:], scratchAddr+80) // iov_base
	le.PutUint64(b[72:], 1)              // iov_len
	return b
}

// mmapHost maps host file h into the stub. Preconditions: as for inject.
func (s *stubProc) mmapHost(addr, length uint64, h *hostFile, off int64, prot platform.Prot) error {
	if s.sock < 0 {
		return s.fail(errors.New("ptrace: the stub's file socket is closed"))
	}
	if !s.scratch {
		r, err := s.inject(sysMmap, scratchAddr, 4096, unix.PROT_READ|unix.PROT_WRITE,
			unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED, ^uintptr(0), 0)
		if err != nil {
			return err
		}
		if r != scratchAddr {
			return s.fail(fmt.Errorf("ptrace: stub scratch page at %#x", r))
		}
		// The page is fresh (zero): only the words that are not are written, a poke each.
		hdr := scratchMsghdr()
		for i := 0; i < len(hdr); i += 8 {
			if binary.LittleEndian.Uint64(hdr[i:]) == 0 {
				continue
			}
			if _, err := unix.PtracePokeData(s.pid, uintptr(scratchAddr+i), hdr[i:i+8]); err != nil {
				return s.fail(err)
			}
		}
		s.scratch = true
	}
	if err := unix.Sendmsg(s.sock, []byte{0}, unix.UnixRights(h.fd), nil, 0); err != nil {
		return s.fail(fmt.Errorf("ptrace: sending a host file to a stub: %w", err))
	}
	// A message left unreceived would hand the wrong file to the next receive: any failure
	// from here on ends the stub.
	if n, err := s.inject(sysRecvmsg, stubSockFD, scratchAddr, unix.MSG_CMSG_CLOEXEC, 0, 0, 0); err != nil || n != 1 {
		return s.fail(fmt.Errorf("ptrace: stub recvmsg of a host file: %d, %v", n, err))
	}
	r, err := s.inject(sysMmap, uintptr(addr), uintptr(length), toHostProt(prot),
		unix.MAP_SHARED|unix.MAP_FIXED, stubRecvFD, uintptr(off))
	if _, cerr := s.inject(sysClose, stubRecvFD, 0, 0, 0, 0, 0); cerr != nil {
		return s.fail(cerr)
	}
	if err != nil {
		return err
	}
	if r != uintptr(addr) {
		return fmt.Errorf("ptrace: stub mmap of a host file at %#x returned %#x", addr, r)
	}
	return nil
}

// closeSock closes the kernel's end of the stub's file socket.
func (s *stubProc) closeSock() {
	if s.sock >= 0 {
		unix.Close(s.sock)
		s.sock = -1
	}
}

// inject runs one syscall in the stub at its injection site. Preconditions: the stub is
// stopped and traced by the calling thread.
func (s *stubProc) inject(nr, a0, a1, a2, a3, a4, a5 uintptr) (uintptr, error) {
	s.lastValid = false
	regs := platform.Registers{Rax: uint64(nr), OrigRax: ^uint64(0), Rdi: uint64(a0), Rsi: uint64(a1), Rdx: uint64(a2),
		R10: uint64(a3), R8: uint64(a4), R9: uint64(a5), Rip: s.ctx.p.stub.site, Cs: 0x33, Ss: 0x2b,
		Rsp: StubBase + stubSize - 64, Eflags: 0x202}
	return s.injectRegs(regs)
}

// injectRegs runs the stub's main thread from regs (rip: an injection or clone site) to
// its next int3 and returns rax. Preconditions: as for inject.
func (s *stubProc) injectRegs(regs platform.Registers) (uintptr, error) {
	nr := regs.Rax
	if err := setRegs(s.pid, &regs); err != nil {
		return 0, s.fail(err)
	}
	if err := unix.PtraceCont(s.pid, 0); err != nil {
		return 0, s.fail(err)
	}
	status, err := s.wait()
	// A kick (Interrupt, or another thread's shoot-down) sent while the stub was running
	// may land now: drop it, the caller syncs before the stub runs app code again.
	for err == nil && status.Stopped() && status.StopSignal() == unix.SIGSTOP {
		if err := unix.PtraceCont(s.pid, 0); err != nil {
			return 0, s.fail(err)
		}
		status, err = s.wait()
	}
	if err != nil {
		return 0, err
	}
	if !status.Stopped() || status.StopSignal() != unix.SIGTRAP {
		return 0, s.fail(fmt.Errorf("ptrace: injected syscall %d: unexpected stop %v", nr, status))
	}
	if err := getRegs(s.pid, &regs); err != nil {
		return 0, s.fail(err)
	}
	if int64(regs.Rax) < 0 && int64(regs.Rax) > -4096 {
		return 0, unix.Errno(-int64(regs.Rax))
	}
	return uintptr(regs.Rax), nil
}

func (s *stubProc) fail(err error) error {
	s.dead = true
	return fmt.Errorf("%w: %v", platform.ErrContextDead, err)
}

// wait waits for the stub's next stop; a dead stub is an error.
func (s *stubProc) wait() (unix.WaitStatus, error) {
	var status unix.WaitStatus
	for {
		_, err := unix.Wait4(s.pid, &status, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return status, s.fail(err)
		}
		break
	}
	if status.Exited() || status.Signaled() {
		s.dead = true
		return status, fmt.Errorf("%w: stub %d ended (%v)", platform.ErrContextDead, s.pid, status)
	}
	return status, nil
}

type context struct {
	p   *Platform
	tid int
	// tracerBase is the tracer thread's CPU time when the context was made.
	tracerBase time.Duration
	cpu        int
	stubs      map[*addressSpace]*stubProc

	// running is the tag of the stub currently (or about to be) running app code
	// (stubProc.runningTag), or 0.
	running atomic.Int64
	// stopWait, when set, is closed by the context's goroutine when its stub next stops
	// running app code (stopped): what address-space changes that interrupted it wait for.
	stopWait atomic.Pointer[chan struct{}]
	// interrupt is set by Interrupt and consumed by Switch.
	interrupt atomic.Bool
	// initFP is the FP state of a fresh stub, for SetFPState(nil).
	initFP []byte
	fpBuf  []byte
	// lastPID is the stub the context last switched into.
	lastPID int
	// pendingFP is FP state set before the context had a stub.
	pendingFP []byte
	// spare is a stub started ahead (Prestart) for the next address space the context
	// enters; it belongs to none yet.
	spare *stubProc
	// pl is the context's placement on CPUs (placement.go).
	pl placement

	// cpuMu guards stubs against CPUTime readers on other goroutines (the owning thread
	// changes it under cpuMu) and the times of stubs that are gone. deadUser and deadSys
	// are protected by cpuMu; released is set by Release.
	cpuMu             sync.Mutex
	deadUser, deadSys time.Duration
	released          bool
}

// CPU clock ids (include/linux/posix-timers.h): a process's user time, its user+system
// time, and a thread's.
func processCPUClock(pid, which int) int32 { return int32(^pid)<<3 | int32(which) }
func threadCPUClock(tid int) int32         { return processCPUClock(tid, 2|4) }

func readClock(id int32) time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(id, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// stubCPU returns a stub process's user and system time: the precise scheduler clock,
// split in the proportion of the tick-sampled user and user+system clocks.
func stubCPU(pid int) (user, sys time.Duration) {
	total := readClock(processCPUClock(pid, 2))
	virt, prof := readClock(processCPUClock(pid, 1)), readClock(processCPUClock(pid, 0))
	user = total
	if prof > 0 {
		user = time.Duration(float64(total) * float64(virt) / float64(prof))
	}
	return user, total - user
}

// CPUTime implements platform.Context: the stubs' time, plus the tracer thread's (the
// kernel's work for this context) as system time.
func (c *context) CPUTime() (user, sys time.Duration) {
	c.cpuMu.Lock()
	defer c.cpuMu.Unlock()
	user, sys = c.deadUser, c.deadSys
	if c.released {
		return user, sys
	}
	for _, s := range c.stubs {
		u, sy := time.Duration(0), time.Duration(0)
		if s.thread != nil {
			u, sy = s.thread.cpuFor(s)
		} else {
			u, sy = stubCPU(s.pid)
		}
		user += u
		sys += sy
	}
	return user, sys + c.tracerTime()
}

// tracerTime is the tracer thread's CPU time spent for this context.
func (c *context) tracerTime() time.Duration {
	return max(readClock(threadCPUClock(c.tid))-c.tracerBase, 0)
}

// stubSocket returns the kernel's and a new stub's ends of the socket the stub receives
// host files on.
func stubSocket() (kernelEnd, stubEnd int, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, -1, fmt.Errorf("ptrace: stub file socket: %w", err)
	}
	return fds[0], fds[1], nil
}

// newStub starts a stub for as, traced by this context's thread.
func (c *context) newStub(as *addressSpace) (*stubProc, error) {
	s, err := c.spawnStub()
	if err != nil {
		return nil, err
	}
	return c.attach(s, as)
}

// spawnStub starts a stub, traced by this context's thread, and runs it up to the point
// where it waits for an address space: emptied but for its own page and the vDSO.
func (c *context) spawnStub() (*stubProc, error) {
	path, _ := c.p.stubPath.Load().(string)
	sock, stubEnd, err := stubSocket()
	if err != nil {
		return nil, err
	}
	attr := &syscall.ProcAttr{
		Env:   []string{},
		Files: []uintptr{c.p.memFile.Fd(), uintptr(stubEnd)},
		Sys:   &syscall.SysProcAttr{Ptrace: true, Pdeathsig: syscall.SIGKILL},
	}
	forked := platform.Forking() // until the exec stop: the child holds the kernel's FDs
	pid, err := syscall.ForkExec(path, []string{"sbx-stub"}, attr)
	unix.Close(stubEnd)
	if err != nil {
		forked()
		unix.Close(sock)
		return nil, fmt.Errorf("ptrace: starting a stub: %w", err)
	}
	s := &stubProc{pid: pid, ctx: c, sock: sock}
	// The exec stop.
	st, err := s.wait()
	forked()
	if err != nil {
		return nil, err
	}
	if !st.Stopped() || st.StopSignal() != unix.SIGTRAP {
		unix.Kill(pid, unix.SIGKILL)
		return nil, fmt.Errorf("ptrace: stub did not stop after exec: %v", st)
	}
	if err := s.moveVDSO(); err != nil {
		s.kill()
		return nil, err
	}
	if err := unix.PtraceSetOptions(pid, unix.PTRACE_O_EXITKILL|unix.PTRACE_O_TRACESYSGOOD); err != nil {
		s.kill()
		return nil, fmt.Errorf("ptrace: options: %w", err)
	}
	if c.cpu >= 0 {
		var set unix.CPUSet
		set.Set(c.cpu)
		unix.SchedSetaffinity(pid, &set)
	}
	// Run the stub's prologue up to its first int3.
	if err := unix.PtraceCont(pid, 0); err != nil {
		s.kill()
		return nil, err
	}
	st, err = s.wait()
	if err != nil {
		return nil, err
	}
	var regs platform.Registers
	if !st.Stopped() || st.StopSignal() != unix.SIGTRAP || getRegs(pid, &regs) != nil || regs.Rax != 0 {
		s.kill()
		return nil, fmt.Errorf("ptrace: stub prologue failed (stop %v, seccomp result %d)", st, int64(regs.Rax))
	}
	// Empty the address space but for the stub's own page and the vDSO.
	for _, r := range c.p.emptyRanges([2]uint64{StubBase, StubBase + stubSize}) {
		if _, err := s.inject(sysMunmap, uintptr(r[0]), uintptr(r[1]-r[0]), 0, 0, 0, 0); err != nil {
			s.kill()
			return nil, err
		}
	}
	if c.initFP == nil {
		buf := make([]byte, 16384)
		if n, err := getXState(pid, buf); err == nil {
			c.initFP = buf[:n]
		}
	}
	return s, nil
}

// attach makes a started stub (spawnStub, spawnTrapStub) one of as's and brings it up to
// date with as's mappings. On error the stub is gone.
func (c *context) attach(s *stubProc, as *addressSpace) (*stubProc, error) {
	s.as = as
	as.mu.Lock()
	if as.released {
		as.mu.Unlock()
		c.discard(s)
		return nil, errors.New("ptrace: address space released")
	}
	as.stubs[s] = struct{}{}
	err := s.syncLocked(as.seq)
	as.mu.Unlock()
	if err != nil {
		c.dropStub(s)
		return nil, err
	}
	return s, nil
}

// discard ends a stub that belongs to no address space (a spare, or one attach could not
// use), counting its CPU time as the context's.
func (c *context) discard(s *stubProc) {
	c.cpuMu.Lock()
	u, sy := stubCPU(s.pid)
	c.deadUser += u
	c.deadSys += sy
	c.cpuMu.Unlock()
	s.kill()
	if s.trap != nil {
		unix.Munmap(s.trap.shm)
		s.trap.shm = nil
	}
}

// Prestart implements platform.Prestarter: it starts, on the calling thread (the
// context's own), the stub the context's first Switch into an address space it has no
// stub for takes, so that the stub's start-up (a fork, an exec, its prologue) overlaps
// whatever the kernel does before the task runs.
func (c *context) Prestart() error {
	if c.spare != nil || c.p.shared {
		// Shared stubs: a thread is a clone in its address space's stub, started by Switch.
		return nil
	}
	var s *stubProc
	var err error
	if c.p.trap {
		s, err = c.spawnTrapStub()
	} else {
		s, err = c.spawnStub()
	}
	if err != nil {
		return err
	}
	c.spare = s
	return nil
}

// stubFor returns the pre-started stub, attached to as, or starts a new one.
func (c *context) stubFor(as *addressSpace) (*stubProc, error) {
	if as.shared {
		as.mu.Lock()
		sh, err := as.sharedLocked()
		as.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return sh.newThread(c)
	}
	if s := c.spare; s != nil {
		c.spare = nil
		return c.attach(s, as)
	}
	if c.p.trap {
		return c.newTrapStub(as)
	}
	return c.newStub(as)
}

// kill ends and reaps a stub. Preconditions: called on its tracer thread.
func (s *stubProc) kill() {
	s.closeSock()
	unix.Kill(s.pid, unix.SIGKILL)
	var status unix.WaitStatus
	for {
		_, err := unix.Wait4(s.pid, &status, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || status.Exited() || status.Signaled() {
			return
		}
	}
}

func (c *context) dropStub(s *stubProc) {
	if sh := s.thread; sh != nil {
		u, sy := sh.dropThread(s)
		c.cpuMu.Lock()
		c.deadUser += u
		c.deadSys += sy
		if c.stubs[s.as] == s {
			delete(c.stubs, s.as)
		}
		c.cpuMu.Unlock()
		sh.endThread(s)
		return
	}
	s.as.mu.Lock()
	delete(s.as.stubs, s)
	s.as.releaseRetiredLocked()
	s.as.mu.Unlock()
	c.cpuMu.Lock()
	u, sy := stubCPU(s.pid) // before the stub's clock goes with it
	c.deadUser += u
	c.deadSys += sy
	if c.stubs[s.as] == s {
		delete(c.stubs, s.as)
	}
	c.cpuMu.Unlock()
	s.kill()
	s.closeSock()
	if s.trap != nil {
		unix.Munmap(s.trap.shm)
		s.trap.shm = nil
	}
}

// shootDown is a stub interrupted because an address-space change restricted what it has
// mapped, which the change waits for (wait).
type shootDown struct {
	c   *context
	s   *stubProc
	tag int64
	// ch is closed when c's goroutine next sees its stub stop (context.stopped).
	ch chan struct{}
}

// shootDown interrupts the context if it is running app code in s and says so.
// Preconditions: s.as.mu held, the change already counted in s.as.seqA (a context that
// starts running s after this call checks seqA after it sets running, and catches up).
func (c *context) shootDown(s *stubProc) (shootDown, bool) {
	tag := s.runningTag()
	for {
		p := c.stopWait.Load()
		if p == nil {
			ch := make(chan struct{})
			if !c.stopWait.CompareAndSwap(nil, &ch) {
				continue
			}
			p = &ch
		}
		// The channel is in place before running is read: a stop after this read closes it.
		if c.running.Load() != tag {
			return shootDown{}, false
		}
		kick(tag)
		return shootDown{c: c, s: s, tag: tag, ch: *p}, true
	}
}

// wait returns once the stub has stopped running app code: its context saw it stop after
// the change was made, so it catches up before it runs app code again. A trap-mode app
// thread is asked again every liveCheck; one that does not answer for maxUnanswered of them
// has blocked the kernel's signal (only a forged rt_sigreturn frame can) and is ended, as
// awaitEvent ends one that ignores an interrupt. A ptrace stub cannot block SIGSTOP.
func (sd shootDown) wait() {
	t := time.NewTimer(liveCheck)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-sd.ch:
			return
		case <-t.C:
		}
		if sd.c.running.Load() != sd.tag {
			// Stopped, and perhaps running again after catching up; the close is on its way.
			<-sd.ch
			return
		}
		if sd.s.trap != nil && n >= maxUnanswered {
			unix.Kill(sd.s.pid, unix.SIGKILL)
			return
		}
		kick(sd.tag)
		t.Reset(liveCheck)
	}
}

// stopped notes that the context's stub no longer runs app code, releasing the address-space
// changes that wait for it (shootDown). Preconditions: called by the context's goroutine.
func (c *context) stopped() {
	c.running.Store(0)
	if c.stopWait.Load() != nil {
		if p := c.stopWait.Swap(nil); p != nil {
			close(*p)
		}
	}
}

// startRunning notes that the context is about to run app code in s and reports whether
// s is still up to date: a change recorded before this call either saw running set (and
// interrupts the stub) or is seen here (the caller catches up first).
func (c *context) startRunning(s *stubProc) bool {
	c.running.Store(s.runningTag())
	// A thread of a shared stub keeps no position of its own: the stub's mapper applies
	// every change before the change returns.
	if s.thread == nil && s.appliedA.Load() != s.as.seqA.Load() {
		c.stopped()
		return false
	}
	return true
}

// Interrupt implements platform.Context.
func (c *context) Interrupt() {
	c.interrupt.Store(true)
	if tag := c.running.Load(); tag != 0 {
		kick(tag)
	}
}

// Switch implements platform.Context.
func (c *context) Switch(pas platform.AddressSpace, regs *platform.Registers) (platform.Event, error) {
	as := pas.(*addressSpace)
	c.placeSwitch()
	s := c.stubs[as]
	if s == nil || s.dead {
		if s != nil {
			c.dropStub(s)
		}
		var err error
		s, err = c.stubFor(as)
		if err != nil {
			return platform.Event{}, err
		}
		c.cpuMu.Lock()
		c.stubs[as] = s
		c.cpuMu.Unlock()
		if c.pendingFP != nil {
			if len(c.pendingFP) > 0 {
				if s.trap != nil {
					s.trap.setFPState(c.pendingFP)
				} else {
					setXState(s.pid, c.pendingFP)
				}
			}
			c.pendingFP = nil
		}
	}
	c.lastPID = s.pid
	if s.trap != nil {
		return c.switchTrap(as, s, regs)
	}
	for {
		// Most switches find the stub up to date: check without the lock first.
		if s.appliedA.Load() != as.seqA.Load() {
			as.mu.Lock()
			err := s.syncLocked(as.seq)
			as.mu.Unlock()
			if err != nil {
				return platform.Event{}, err
			}
		}
		if !c.startRunning(s) {
			continue // a change came in meanwhile
		}
		if c.interrupt.Swap(false) {
			c.stopped()
			return platform.Event{Kind: platform.EventInterrupted}, nil
		}
		regs.Cs, regs.Ss, regs.Ds, regs.Es, regs.Fs, regs.Gs = 0x33, 0x2b, 0, 0, 0, 0
		// After a syscall stop usually only rax (the result) changed: poke just that word.
		if s.lastValid && onlyRaxDiffers(&s.last, regs) {
			if err := pokeRax(s.pid, regs.Rax); err != nil {
				c.stopped()
				return platform.Event{}, s.fail(err)
			}
		} else if err := setRegs(s.pid, regs); err != nil {
			c.stopped()
			return platform.Event{}, s.fail(err)
		}
		s.lastValid = false
		if err := ptraceRaw(unix.PTRACE_SYSEMU, s.pid, 0, 0); err != nil {
			c.stopped()
			return platform.Event{}, s.fail(err)
		}
		status, err := s.wait()
		c.stopped()
		if err != nil {
			return platform.Event{}, err
		}
		if err := getRegs(s.pid, regs); err != nil {
			return platform.Event{}, s.fail(err)
		}
		s.last, s.lastValid = *regs, true
		sig := status.StopSignal()
		if sig == unix.SIGTRAP|0x80 {
			return platform.Event{Kind: platform.EventSyscall}, nil
		}
		signo, code, addr, _ := getSiginfo(s.pid)
		switch sig {
		case unix.SIGSTOP:
			// Our own interrupt (suppressed: SYSEMU resumes with no signal).
			if c.interrupt.Swap(false) {
				return platform.Event{Kind: platform.EventInterrupted}, nil
			}
			continue // a shoot-down: catch up and go on
		case unix.SIGSEGV, unix.SIGBUS:
			if retry, err := s.fill(addr); err != nil {
				return platform.Event{}, err
			} else if retry {
				continue // a mapping the stub lacked
			}
			return platform.Event{Kind: platform.EventFault, Signo: signo, Code: code, Addr: addr}, nil
		case unix.SIGILL, unix.SIGFPE, unix.SIGTRAP:
			return platform.Event{Kind: platform.EventSignal, Signo: signo, Code: code, Addr: addr}, nil
		}
		// Anything else reaching a stub (it has no business getting signals) is dropped;
		// report an interruption so the kernel re-examines the task.
		return platform.Event{Kind: platform.EventInterrupted}, nil
	}
}

// FPState implements platform.Context: the XSAVE area of the current stub.
func (c *context) FPState() ([]byte, error) {
	s := c.current()
	if s == nil {
		return append([]byte(nil), c.initFP...), nil
	}
	if s.trap != nil {
		if s.trap.fast {
			if err := s.upgrade(); err != nil {
				return nil, err
			}
		}
		return s.trap.fpState(), nil
	}
	if c.fpBuf == nil {
		c.fpBuf = make([]byte, 16384)
	}
	n, err := getXState(s.pid, c.fpBuf)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), c.fpBuf[:n]...), nil
}

// SetFPState implements platform.Context.
func (c *context) SetFPState(state []byte) error {
	s := c.current()
	if s == nil {
		// No stub yet: the state is installed in the first one.
		c.pendingFP = append([]byte(nil), state...)
		return nil
	}
	if len(state) == 0 {
		if c.initFP == nil {
			return nil
		}
		state = c.initFP
	}
	if s.trap != nil {
		if s.trap.fast {
			if err := s.upgrade(); err != nil {
				return err
			}
		}
		s.trap.setFPState(state)
		return nil
	}
	return setXState(s.pid, append([]byte(nil), state...))
}

// current returns the stub the context last ran in.
func (c *context) current() *stubProc {
	pid := c.lastPID
	for _, s := range c.stubs {
		if s.pid == pid {
			return s
		}
	}
	for _, s := range c.stubs {
		return s
	}
	return nil
}

// Release implements platform.Context.
func (c *context) Release() {
	for _, s := range c.stubs {
		c.dropStub(s)
	}
	if c.spare != nil {
		c.discard(c.spare)
		c.spare = nil
	}
	c.unplace()
	// Release runs on the context's own thread, whose clock ends with it.
	c.cpuMu.Lock()
	c.deadSys += c.tracerTime()
	c.released = true
	c.cpuMu.Unlock()
	c.p.mu.Lock()
	delete(c.p.contexts, c)
	c.p.mu.Unlock()
	// The thread outlives the context (its goroutine unlocks it, and the Go runtime runs
	// other goroutines on it): unpinned, or every thread a context once had would run the
	// kernel's other work on one CPU.
	if c.cpu >= 0 && c.p.ncpu > 1 {
		unix.SchedSetaffinity(0, &c.p.cpus)
	}
	runtime.KeepAlive(c)
}

// onlyRaxDiffers reports whether b equals a except for rax.
func onlyRaxDiffers(a, b *platform.Registers) bool {
	x := *a
	x.Rax = b.Rax
	return x == *b
}
