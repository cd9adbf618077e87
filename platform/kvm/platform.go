// Package kvm is the KVM platform: the kernel stays an ordinary process; app code runs in
// ring 3 of a KVM virtual machine whose guest-physical memory is the sandbox's memory file.
// The platform builds the guest page tables from the address-space contract; a syscall or
// an exception enters a tiny ring-0 trampoline that exits to the host with an `out`, so a
// round trip is one KVM_RUN, registers passing through kvm_run's sync regs. See README.md.
package kvm

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// HostSyscalls are what the platform needs beyond the kernel's own calls.
var HostSyscalls = []platform.HostSyscall{
	{Nr: unix.SYS_IOCTL, Reason: "KVM: creating vCPUs, running them (KVM_RUN), their registers and FP state"},
	{Nr: unix.SYS_MMAP, Reason: "KVM: mapping each vCPU's kvm_run area"},
	{Nr: unix.SYS_MUNMAP, Reason: "KVM: unmapping a released vCPU's kvm_run area"},
	{Nr: unix.SYS_TGKILL, Reason: "KVM: kicking a vCPU's thread out of KVM_RUN"},
	{Nr: unix.SYS_CLOCK_GETTIME, Reason: "KVM: vCPU thread CPU time"},
}

func init() {
	platform.Register(platform.Constructor{
		Name:         "kvm",
		New:          func(f *os.File) (platform.Platform, error) { return New(f) },
		Probe:        Probe,
		AutoRank:     30, // before trap, where a timing probe says it is faster (verdict.go)
		AutoCheck:    autoCheck,
		HostSyscalls: HostSyscalls,
	})
}

// Platform implements platform.Platform.
type Platform struct {
	m *machine
}

// New creates the VM over memFile.
func New(memFile *os.File) (*Platform, error) {
	m, err := newMachine(memFile)
	if err != nil {
		return nil, err
	}
	return &Platform{m: m}, nil
}

// Name implements platform.Platform.
func (p *Platform) Name() string { return "kvm" }

// MaxUserAddress implements platform.Platform: the supervisor region starts there.
func (p *Platform) MaxUserAddress() uint64 { return supVA }

// VDSO implements platform.Platform: a guest cannot map the host's [vvar] pages, so kvm
// shows no vDSO.
func (p *Platform) VDSO() *platform.VDSO { return nil }

// Close implements platform.Platform.
func (p *Platform) Close() error {
	p.m.close()
	return nil
}

// NewAddressSpace implements platform.Platform.
func (p *Platform) NewAddressSpace() (platform.AddressSpace, error) {
	root := p.m.newTopTable()
	if root == 0 {
		return nil, errNoPrivate
	}
	return &addressSpace{m: p.m, root: root, running: map[*context]bool{}}, nil
}

// NewContext implements platform.Platform.
func (p *Platform) NewContext() (platform.Context, error) {
	v, err := p.m.newVCPU()
	if err != nil {
		return nil, err
	}
	c := &context{v: v, tid: unix.Gettid(), pid: unix.Getpid()}
	c.cpuBase = readThreadClock(c.tid)
	if c.initFP, err = c.getXsave(); err != nil {
		v.release()
		return nil, err
	}
	return c, nil
}

// addressSpace is a page-table tree over the memory file.
type addressSpace struct {
	m    *machine
	mu   sync.Mutex
	root uint64
	// gen counts changes that may leave stale TLB entries; vCPUs reload CR3 when theirs
	// is behind.
	gen     atomic.Uint64
	running map[*context]bool
	// Once the address space has run, the hypervisor may hold shadow copies of its tables:
	// every entry written from then on is logged, and the next vCPU to enter rewrites them
	// from guest ring 0 (trampReplay), which updates the copies.
	ran bool
	log []uint64
	// maps is the truth the page tables cache: every mapping, sorted, non-overlapping.
	// Entries are filled when the app first touches a page (fault), so a mapping of a
	// terabyte costs nothing until used.
	maps []mapping
	// hosts are the host-file regions this address space's mappings use (MapHostFile).
	hosts []*hostRegion
}

type mapping struct {
	start, end, off uint64
	prot            platform.Prot
}

// cut removes [start, end) from the mappings, returning the removed parts.
func (as *addressSpace) cut(start, end uint64) []mapping {
	i := sort.Search(len(as.maps), func(i int) bool { return as.maps[i].end > start })
	j := i
	var cut, keep []mapping
	for ; j < len(as.maps) && as.maps[j].start < end; j++ {
		r := as.maps[j]
		if r.start < start {
			keep = append(keep, mapping{r.start, start, r.off, r.prot})
		}
		if r.end > end {
			keep = append(keep, mapping{end, r.end, r.off + (end - r.start), r.prot})
		}
		lo, hi := max(r.start, start), min(r.end, end)
		cut = append(cut, mapping{lo, hi, r.off + (lo - r.start), r.prot})
	}
	as.maps = append(as.maps[:i], append(keep, as.maps[j:]...)...)
	return cut
}

// add records m, whose range cut has emptied.
func (as *addressSpace) add(m mapping) {
	i := sort.Search(len(as.maps), func(i int) bool { return as.maps[i].start >= m.start })
	as.maps = append(as.maps, mapping{})
	copy(as.maps[i+1:], as.maps[i:])
	as.maps[i] = m
}

func (as *addressSpace) lookup(va uint64) (mapping, bool) {
	i := sort.Search(len(as.maps), func(i int) bool { return as.maps[i].end > va })
	if i < len(as.maps) && as.maps[i].start <= va {
		return as.maps[i], true
	}
	return mapping{}, false
}

func pteFlags(prot platform.Prot) uint64 {
	f := uint64(ptePresent | pteUser)
	if prot&platform.ProtWrite != 0 {
		f |= pteWrite
	}
	if prot&platform.ProtExec == 0 {
		f |= pteNX
	}
	return f
}

func checkRange(addr, length uint64) error {
	if addr%pageSize != 0 || length%pageSize != 0 || addr+length < addr || addr+length > supVA {
		return unix.EINVAL
	}
	return nil
}

// clearPTEs removes the entries in [start, end). Called with mu held.
func (as *addressSpace) clearPTEs(start, end uint64) {
	as.m.forEachPTE(as.root, start, end, func(_ uint64, e *uint64, g uint64) {
		*e = 0
		as.logged(g)
	})
}

// faultBatch is how many pages around a fault get entries at once.
const faultBatch = 16

// fill writes entries for the pages of m in [start, end). Called with mu held.
func (as *addressSpace) fill(m mapping, start, end uint64) error {
	start, end = max(start, m.start), min(end, m.end)
	if start >= end || m.prot == 0 {
		return nil
	}
	off := m.off + (start - m.start)
	if off < memFileMax {
		if err := as.m.ensureMemory(off, end-start); err != nil {
			return err
		}
	}
	f := pteFlags(m.prot)
	for va := start; va < end; va += pageSize {
		e, g := as.m.walk(as.root, va, true, as.logp())
		if e == nil {
			return unix.ENOMEM
		}
		*e = (off+va-start)&pteAddr | f
		as.logged(g)
	}
	return nil
}

// MapFile implements platform.AddressSpace.
func (as *addressSpace) MapFile(addr, length uint64, offset int64, prot platform.Prot) error {
	if err := checkRange(addr, length); err != nil || offset < 0 || offset%pageSize != 0 || uint64(offset)+length > memFileMax {
		return unix.EINVAL
	}
	if length == 0 {
		return nil
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	end := addr + length
	as.cut(addr, end)
	as.clearPTEs(addr, end)
	as.add(mapping{addr, end, uint64(offset), prot})
	as.changed()
	as.dropUnusedHostsLocked()
	return nil
}

// MapHostFile implements platform.AddressSpace: the file range becomes guest memory of its
// own (a memory slot above the memory file's range), mapped like a memory-file range.
func (as *addressSpace) MapHostFile(addr, length uint64, fd int, offset int64, prot platform.Prot) error {
	if err := checkRange(addr, length); err != nil || offset < 0 || offset%pageSize != 0 {
		return unix.EINVAL
	}
	if length == 0 {
		return nil
	}
	r, err := as.m.addHost(fd, offset, length)
	if err != nil {
		return err
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	end := addr + length
	as.cut(addr, end)
	as.clearPTEs(addr, end)
	as.add(mapping{addr, end, r.gpa, prot})
	as.hosts = append(as.hosts, r)
	as.changed()
	as.dropUnusedHostsLocked()
	return nil
}

// dropUnusedHostsLocked deletes the host regions no mapping uses any more. Called with mu held.
func (as *addressSpace) dropUnusedHostsLocked() {
	if len(as.hosts) == 0 {
		return
	}
	keep := as.hosts[:0]
	for _, r := range as.hosts {
		used := false
		for _, m := range as.maps {
			if m.off < r.gpa+r.len && m.off+(m.end-m.start) > r.gpa {
				used = true
				break
			}
		}
		if used {
			keep = append(keep, r)
		} else {
			as.m.dropHost(r)
		}
	}
	as.hosts = keep
}

// Unmap implements platform.AddressSpace.
func (as *addressSpace) Unmap(addr, length uint64) error {
	if err := checkRange(addr, length); err != nil {
		return err
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	as.cut(addr, addr+length)
	as.clearPTEs(addr, addr+length)
	as.changed()
	as.dropUnusedHostsLocked()
	return nil
}

// Protect implements platform.AddressSpace.
func (as *addressSpace) Protect(addr, length uint64, prot platform.Prot) error {
	if err := checkRange(addr, length); err != nil {
		return err
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	end := addr + length
	for _, m := range as.cut(addr, end) {
		m.prot = prot
		as.add(m)
	}
	f := pteFlags(prot)
	as.m.forEachPTE(as.root, addr, end, func(_ uint64, e *uint64, g uint64) {
		if prot == 0 {
			*e = 0
		} else {
			*e = *e&pteAddr | f
		}
		as.logged(g)
	})
	as.changed()
	return nil
}

// resolve handles a page fault at va from the mappings: it fills entries and reports
// true (retry) when the mapping allows the access, else false (a fault for the kernel).
func (as *addressSpace) resolve(va uint64, errc uint64) (retry, mapped bool, err error) {
	as.mu.Lock()
	defer as.mu.Unlock()
	m, ok := as.lookup(va)
	if !ok {
		return false, false, nil
	}
	switch {
	case m.prot == 0,
		errc&2 != 0 && m.prot&platform.ProtWrite == 0,
		errc&16 != 0 && m.prot&platform.ProtExec == 0:
		return false, true, nil
	}
	page := va &^ (pageSize - 1)
	if e, _ := as.m.walk(as.root, page, false, nil); e != nil && *e&ptePresent != 0 {
		return false, true, nil // already there: a fault the kernel must see
	}
	lo := page &^ (faultBatch*pageSize - 1)
	if err := as.fill(m, lo, lo+faultBatch*pageSize); err != nil {
		return false, true, err
	}
	as.gen.Add(1)
	return true, true, nil
}

// changed records a page-table change and kicks the vCPUs running in the address space,
// which reload CR3 before they run app code again. Called with mu held.
func (as *addressSpace) changed() {
	as.gen.Add(1)
	for c := range as.running {
		c.kick()
	}
}

// Release implements platform.AddressSpace: its page-table pages are reused once emptied
// (machine.retire). A tree a vCPU still runs on is left alone, never reused.
func (as *addressSpace) Release() {
	as.mu.Lock()
	defer as.mu.Unlock()
	root := as.root
	as.root, as.log = 0, nil
	as.maps = nil
	as.dropUnusedHostsLocked()
	if root != 0 && len(as.running) == 0 {
		as.m.retire(root, as.ran)
	}
}

// context is one vCPU on its locked OS thread.
type context struct {
	v        *vcpu
	tid, pid int
	as       *addressSpace
	seenGen  uint64
	initFP   []byte

	interrupt atomic.Bool
	kickMu    sync.Mutex // orders kicks before the vCPU's release
	cpuBase   time.Duration
	guestNs   atomic.Int64
	// guestSince is when the current KVM_RUN started (0: not in one), so CPUTime counts a
	// vCPU that has been running app code for a long time.
	guestSince atomic.Int64
	released   atomic.Bool
	deadCPU    time.Duration
}

// kick makes KVM_RUN return (immediate_exit for a vCPU about to enter, a signal for one
// inside); the run loop then looks at why.
func (c *context) kick() {
	c.kickMu.Lock()
	defer c.kickMu.Unlock()
	if c.released.Load() {
		return
	}
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&c.v.run.RequestInterruptWindow)), 1<<8)
	unix.Tgkill(c.pid, c.tid, unix.SIGURG)
}

// Interrupt implements platform.Context.
func (c *context) Interrupt() {
	c.interrupt.Store(true)
	c.kick()
}

// Switch implements platform.Context.
func (c *context) Switch(pas platform.AddressSpace, regs *platform.Registers) (platform.Event, error) {
	as := pas.(*addressSpace)
	if c.interrupt.Swap(false) {
		return platform.Event{Kind: platform.EventInterrupted}, nil
	}
	as.mu.Lock()
	if as.root == 0 {
		as.mu.Unlock()
		return platform.Event{}, errors.New("kvm: switch into a released address space")
	}
	as.running[c] = true
	as.ran = true
	log := as.log
	as.log = nil
	// Entries of released trees are rewritten (to zero) by whichever vCPU enters next;
	// their pages are free for new tables once it has.
	zapLog, zapped := as.m.takeZaps()
	log = append(log, zapLog...)
	flush := false
	if c.as != as {
		if err := c.v.setCR3(as.root); err != nil {
			as.mu.Unlock()
			as.m.freeLater(zapLog, zapped)
			return platform.Event{}, err
		}
		c.as = as
		c.seenGen = as.gen.Load()
		// A root page may be a reused one the vCPU ran on before: reload CR3 in any case,
		// so no translation of the old tree survives.
		flush = true
	} else if g := as.gen.Load(); g != c.seenGen {
		flush, c.seenGen = true, g
	}
	as.mu.Unlock()
	defer func() {
		as.mu.Lock()
		delete(as.running, c)
		as.mu.Unlock()
	}()
	for {
		start := time.Now()
		c.guestSince.Store(start.UnixNano())
		e, err := c.v.enter(regs, log, flush)
		c.guestSince.Store(0)
		c.guestNs.Add(int64(time.Since(start)))
		if err != nil {
			as.m.freeLater(zapLog, zapped)
			return platform.Event{}, err
		}
		if e.intr && !c.v.inUser {
			// Stopped in ring 0 before app code ran (a kick before or during the
			// trampoline): the replay and the CR3 reload may not have run, and run on the
			// next entry (rewriting an entry twice is harmless).
		} else {
			flush, log = false, nil
			if zapped != nil {
				as.m.freeZapped(zapped)
				zapLog, zapped = nil, nil
			}
		}
		if e.intr {
			// Clear immediate_exit before looking at why, so a kick racing with us is
			// either seen below or makes the next KVM_RUN return at once.
			c.v.run.ImmediateExit = 0
			if c.interrupt.Swap(false) {
				if log != nil || flush {
					// Not applied yet: back to the address space, and a CR3 reload on
					// the next entry.
					as.mu.Lock()
					as.log = append(log, as.log...)
					as.mu.Unlock()
					as.m.freeLater(zapLog, zapped)
					c.as = nil
				}
				return platform.Event{Kind: platform.EventInterrupted}, nil
			}
			if g := as.gen.Load(); g != c.seenGen {
				as.mu.Lock()
				flush, c.seenGen = true, as.gen.Load()
				log, as.log = append(log, as.log...), nil
				as.mu.Unlock()
			}
			continue // a Go runtime signal, or a page-table change
		}
		if e.syscall {
			regs.OrigRax = regs.Rax
			return platform.Event{Kind: platform.EventSyscall}, nil
		}
		if e.vector == 6 && as.int80At(regs.Rip) {
			// PVM raises #UD for int $0x80 from user mode instead of taking its gate: the
			// same syscall entry, with rip past the instruction as the gate leaves it.
			regs.Rip += 2
			regs.OrigRax = regs.Rax
			return platform.Event{Kind: platform.EventSyscall}, nil
		}
		if e.vector == 14 && as.gen.Load() != c.seenGen {
			// The fault may come from a stale translation: retry with a fresh TLB.
			as.mu.Lock()
			flush, c.seenGen = true, as.gen.Load()
			log, as.log = append(log, as.log...), nil
			as.mu.Unlock()
			continue
		}
		if e.vector == 14 && e.cr2 < supVA {
			retry, mapped, err := as.resolve(e.cr2, e.errc)
			if err != nil {
				return platform.Event{}, err
			}
			if retry {
				as.mu.Lock()
				flush, c.seenGen = true, as.gen.Load()
				log, as.log = append(log, as.log...), nil
				as.mu.Unlock()
				continue
			}
			ev := exceptionEvent(e, regs)
			if mapped {
				ev.Code = 2 // SEGV_ACCERR, as Linux for a mapping that forbids the access
			}
			return ev, nil
		}
		ev := exceptionEvent(e, regs)
		return ev, nil
	}
}

// int80At reports whether the app's executable memory-file mapping holds int $0x80 (cd 80)
// at va.
func (as *addressSpace) int80At(va uint64) bool {
	as.mu.Lock()
	m, ok := as.lookup(va)
	as.mu.Unlock()
	if !ok || m.prot&platform.ProtExec == 0 || va+2 > m.end || m.off >= memFileMax || as.m.memFD < 0 {
		return false
	}
	var insn [2]byte
	n, err := unix.Pread(as.m.memFD, insn[:], int64(m.off+(va-m.start)))
	return err == nil && n == 2 && insn == [2]byte{0xcd, 0x80}
}

// exceptionEvent turns an exception into the signal Linux would send.
func exceptionEvent(e exit, regs *platform.Registers) platform.Event {
	const (
		siKernel   = 0x80
		segvMapErr = 1
		segvAccErr = 2
		illIllOpn  = 2
		fpeIntDiv  = 1
		trapBrkpt  = 1
		trapTrace  = 2
		busAdrAln  = 1
	)
	ev := platform.Event{Kind: platform.EventSignal}
	switch e.vector {
	case 14:
		ev.Kind, ev.Signo, ev.Addr = platform.EventFault, int32(unix.SIGSEGV), e.cr2
		ev.Code = segvMapErr
		if e.errc&1 != 0 {
			ev.Code = segvAccErr
		}
		switch {
		case e.errc&16 != 0:
			ev.Access.Exec = true
		case e.errc&2 != 0:
			ev.Access.Write = true
		default:
			ev.Access.Read = true
		}
	case 0:
		ev.Signo, ev.Code, ev.Addr = int32(unix.SIGFPE), fpeIntDiv, regs.Rip
	case 1:
		ev.Signo, ev.Code = int32(unix.SIGTRAP), trapTrace
	case 3:
		ev.Signo, ev.Code = int32(unix.SIGTRAP), siKernel
	case 6:
		ev.Signo, ev.Code, ev.Addr = int32(unix.SIGILL), illIllOpn, regs.Rip
	case 16, 19:
		ev.Signo, ev.Addr = int32(unix.SIGFPE), regs.Rip
	case 17:
		ev.Signo, ev.Code, ev.Addr = int32(unix.SIGBUS), busAdrAln, regs.Rip
	case 12:
		ev.Signo, ev.Code = int32(unix.SIGBUS), siKernel
	default: // #GP, #OF, #BR, #NP, ...
		ev.Signo, ev.Code = int32(unix.SIGSEGV), siKernel
	}
	return ev
}

func (c *context) getXsave() ([]byte, error) {
	buf := make([]byte, 4096)
	if _, err := ioctl(c.v.fd, kvmGetXsave, uintptr(unsafe.Pointer(&buf[0]))); err != nil {
		return nil, fmt.Errorf("kvm: KVM_GET_XSAVE: %w", err)
	}
	return buf, nil
}

// FPState implements platform.Context.
func (c *context) FPState() ([]byte, error) { return c.getXsave() }

// SetFPState implements platform.Context.
func (c *context) SetFPState(state []byte) error {
	if len(state) == 0 {
		state = c.initFP
	}
	buf := make([]byte, 4096)
	copy(buf, state)
	if _, err := ioctl(c.v.fd, kvmSetXsave, uintptr(unsafe.Pointer(&buf[0]))); err != nil {
		return fmt.Errorf("kvm: KVM_SET_XSAVE: %w", err)
	}
	return nil
}

// CPUTime implements platform.Context: time inside KVM_RUN counts as user time, the rest
// of the thread's CPU time as system time.
func (c *context) CPUTime() (user, sys time.Duration) {
	user = time.Duration(c.guestNs.Load())
	if s := c.guestSince.Load(); s != 0 {
		user += max(time.Duration(time.Now().UnixNano()-s), 0)
	}
	var total time.Duration
	if c.released.Load() {
		total = c.deadCPU
	} else {
		total = readThreadClock(c.tid) - c.cpuBase
	}
	return user, max(total-user, 0)
}

// Release implements platform.Context.
func (c *context) Release() {
	c.kickMu.Lock()
	c.deadCPU = readThreadClock(c.tid) - c.cpuBase
	c.released.Store(true)
	c.kickMu.Unlock()
	c.v.release()
}

func readThreadClock(tid int) time.Duration {
	var ts unix.Timespec
	clk := int32(^tid<<3 | 6) // MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)
	if unix.ClockGettime(clk, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// logp returns where walk logs the entries it writes.
func (as *addressSpace) logp() *[]uint64 {
	if as.ran {
		return &as.log
	}
	return nil
}

// logged records a written entry for the replay, once the address space has run.
func (as *addressSpace) logged(gpa uint64) {
	if as.ran {
		as.log = append(as.log, gpa)
	}
}
