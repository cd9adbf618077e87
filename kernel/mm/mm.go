// Package mm implements application address spaces: the VMAs that are the kernel's truth
// about app memory, backed by ranges of the sandbox's memory file, and mirrored into a
// platform.AddressSpace.
//
// Model: every VMA maps one contiguous range of virtual memory-file offsets, which get
// physical space in the memory file only where touched (memfile.go). Private VMAs own their
// range exclusively (freed when unmapped); shared VMAs hold a reference on a SharedRange
// owned by a kernel file (tmpfs, memfd, shared anonymous memory) and never free it
// themselves. The platform maps the touched parts of a VMA; the first access to another part
// faults into the kernel, which touches and maps its chunk (spans.go). Private file
// mappings of host files with a read-only FD map the host file itself until a page is
// written (direct.go); others are filled lazily, at the first fault or kernel access of each
// page (lazy.go), so that a program's libraries are not copied in whole at every exec; any
// other fault means SIGSEGV (or SIGBUS past the end of a mapped file).
//
// Locking: MM.mu protects the VMA list, the mapped spans, brk and the platform address
// space calls made on its behalf. MemoryFile has its own locks, taken under MM.mu.
package mm

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// Source is a file that can back a private mapping: its contents are copied in.
type Source interface {
	ReadAt(p []byte, off int64) (int, error)
}

// SharedSource is a file whose pages live in the memory file and can be mapped shared.
type SharedSource interface {
	Source
	// MapShared returns the memory-file offset of [off, off+length) of the file, holding a
	// reference released by the returned function.
	MapShared(off, length int64) (memOff int64, release func(), err error)
}

// MappingCounter is a Source that counts the mappings of it, as Linux's vm_ops open and
// close do (System V shm_nattch): OpenMapping is called for every VMA of it that comes to
// be (a map, a split, a fork's copy, the old range mremap keeps) and CloseMapping for every
// one that goes (an unmap, a detach, exit, exec). pid is the owner of the address space
// doing it (SetOwner). VMAs of such a source are never merged, as Linux never merges away
// a VMA with a close operation, so every piece keeps counting.
type MappingCounter interface {
	OpenMapping(pid int32)
	CloseMapping(pid int32)
}

// openedLocked tells v's source, if it counts its mappings, that v came to be.
// Preconditions: m.mu held.
func (m *MM) openedLocked(v *VMA) {
	if c, ok := v.Source.(MappingCounter); ok {
		c.OpenMapping(m.owner.Load())
	}
}

// SetOwner records the thread group ID of the process the address space is for: the pid
// its sources that count mappings are told of (MappingCounter).
func (m *MM) SetOwner(pid int32) { m.owner.Store(pid) }

// SyncSource is a SharedSource whose pages have a home outside the memory file (a host
// file): SyncShared writes [off, off+length) of the file back to it (msync).
type SyncSource interface {
	SharedSource
	SyncShared(off, length int64) error
}

// HostSource is a file whose pages may live in a host file of their own (a host-backed
// memfd, shared with host processes): its shared mappings map that file through the
// platform (MapHostFile) instead of the memory file; private ones copy from it as usual.
type HostSource interface {
	Source
	// HostBacked reports whether the file's pages are in a host file now.
	HostBacked() bool
	// MapHost returns the host FD and the virtual memory-file offset naming [off,
	// off+length) of the file (never touched: it keys futexes in shared mappings), holding
	// a reference released by the returned function.
	MapHost(off, length int64) (fd int, ident int64, release func(), err error)
	// Bytes returns the kernel's view of [off, off+n) of the file (EFAULT past its end).
	Bytes(off, n int64) ([]byte, error)
}

// HostViewSource is a HostSource whose kernel view may be read-only (a file a host peer
// passed, open read-only or sealed against writing): BytesFor gives the view for a read or,
// with write, a store, and fails (EFAULT) where it has none.
type HostViewSource interface {
	HostSource
	BytesFor(off, n int64, write bool) ([]byte, error)
}

// VMA is one mapping.
type VMA struct {
	Start, End uint64
	Prot       platform.Prot
	MaxProt    platform.Prot
	Shared     bool
	GrowsDown  bool
	// memOff is the memory-file offset of Start.
	memOff int64
	// release drops this VMA's share of a SharedSource range; nil for private VMAs.
	release *sharedRef
	// Source and FileOff are the backing file and the file offset of Start, if any.
	Source  Source
	FileOff int64
	// Name is what /proc/PID/maps shows: a path, "[heap]", "[stack]", or "".
	Name string
	// AnonName is an anonymous mapping's PR_SET_VMA_ANON_NAME name (anonname.go).
	AnonName string
	Dev, Ino uint64
	// lazy is the fill state of a lazily filled private file mapping (lazy.go); nil when
	// the VMA's memory-file range is always valid.
	lazy *lazyFill
	// cow says the private range may be shared with another address space since a fork:
	// the platform maps it without write, and the first write copies (cow.go).
	cow bool
	// dontFork (MADV_DONTFORK) leaves the mapping out of a fork's child; wipeOnFork
	// (MADV_WIPEONFORK) gives the child zero-filled memory in its place.
	dontFork, wipeOnFork bool
	// locked is VM_LOCKED (mlock.go); lockOnFault says it was locked without populating.
	locked, lockOnFault bool
	// host is the source of a shared mapping of a host file (HostSource), hostFD its FD;
	// memOff is then the file's identity range, never touched.
	host   HostSource
	hostFD int
	// direct is the host file a private file mapping maps straight from (direct.go);
	// copied says this piece is a private copy of its pages in the memory file instead.
	direct *directFile
	copied bool
}

// platformProt is the protection the platform gives v's pages (a lazy VMA's mapped ones).
func (v *VMA) platformProt() platform.Prot {
	if v.cow || v.directMapped() {
		return v.Prot &^ platform.ProtWrite
	}
	return v.Prot
}

// sharedRef counts VMAs (pieces of one split mapping, and their copies in forked address
// spaces, each under its own MM's lock: hence atomic) using one shared range.
type sharedRef struct {
	refs    atomic.Int32
	release func()
}

func newSharedRef(release func()) *sharedRef {
	r := &sharedRef{release: release}
	r.refs.Store(1)
	return r
}

func (r *sharedRef) inc() { r.refs.Add(1) }
func (r *sharedRef) dec() {
	if r.refs.Add(-1) == 0 && r.release != nil {
		r.release()
	}
}

// MM is one address space.
type MM struct {
	mf *MemoryFile
	as platform.AddressSpace

	// peakSize and peakRSS are the largest VmSize and VmRSS seen (usage.go).
	peakSize, peakRSS atomic.Uint64
	// hwmRSS and hwmAt are the resident total the last release measured and when
	// (noteReleaseLocked); guarded by mu.
	hwmRSS uint64
	hwmAt  time.Time

	mu sync.Mutex
	// vmas is sorted by Start and non-overlapping. protected by mu
	vmas []*VMA
	// brk state. protected by mu
	brkStart, brkEnd uint64
	// mmapBase is the top of the mmap area (allocation is top-down below it). protected by mu
	mmapBase uint64
	// maxAddr is the exclusive upper bound of app addresses.
	maxAddr uint64

	// Process layout recorded by the loader, for /proc. protected by mu
	Layout Layout

	// limitAS and limitData are RLIMIT_AS and RLIMIT_DATA in bytes (SetLimits). protected by mu
	limitAS, limitData uint64
	// lockFuture and lockFutureOnFault are mlockall's MCL_FUTURE and MCL_ONFAULT.
	// protected by mu
	lockFuture, lockFutureOnFault bool

	// mapped is what the platform address space maps (spans.go). protected by mu
	mapped spans

	// vdso is the platform's vDSO this address space shows (SetVDSO), or nil.
	vdso *platform.VDSO

	users users
	// owner is the thread group ID SetOwner recorded.
	owner atomic.Int32
	// faultGen counts fault-time fills (see HandleFault).
	faultGen atomic.Uint64

	// trapMu guards traps: how many syscalls trapped at each syscall site not yet patched
	// (CountTrap).
	trapMu sync.Mutex
	traps  map[uint64]uint32
}

// CountTrap counts a syscall trapped at rip, the end of its syscall instruction, and
// returns how many trapped there in this address space (the kernel's patching policy;
// kernel/patch.go). Counts stop growing at the largest uint32 and are forgotten in bulk
// beyond 1<<16 sites.
func (m *MM) CountTrap(rip uint64) uint32 {
	m.trapMu.Lock()
	defer m.trapMu.Unlock()
	if m.traps == nil || len(m.traps) > 1<<16 {
		m.traps = map[uint64]uint32{}
	}
	n := m.traps[rip]
	if n < ^uint32(0) {
		n++
		m.traps[rip] = n
	}
	return n
}

// Layout is where the loader put things, for /proc/PID/{cmdline,environ,auxv,stat}.
type Layout struct {
	ArgStart, ArgEnd, EnvStart, EnvEnd uint64
	StackTop, StackStart               uint64
	StartCode, EndCode, StartData      uint64
	Auxv                               []uint64
}

// New returns an empty address space backed by mf, mirrored into as.
func New(mf *MemoryFile, as platform.AddressSpace, maxAddr uint64) *MM {
	m := &MM{mf: mf, as: as, maxAddr: maxAddr, mmapBase: maxAddr, limitAS: noLimit, limitData: noLimit}
	m.users.n.Store(1)
	return m
}

// noLimit is RLIM_INFINITY.
const noLimit = ^uint64(0)

// SetLimits records the process's RLIMIT_AS and RLIMIT_DATA (bytes), which mmap, mremap and
// brk then honour as Linux's may_expand_vm does.
func (m *MM) SetLimits(as, data uint64) {
	m.mu.Lock()
	m.limitAS, m.limitData = as, data
	m.mu.Unlock()
}

// isData reports whether v counts as data for RLIMIT_DATA: private, writable, not stack.
func isData(prot platform.Prot, shared, stack bool) bool {
	return prot&platform.ProtWrite != 0 && !shared && !stack
}

// mayExpandLocked reports whether the address space may grow by length bytes, of which
// replacing bytes already mapped (MAP_FIXED over [addr, addr+replace)) are given back;
// data says the new bytes count against RLIMIT_DATA. Preconditions: m.mu held.
func (m *MM) mayExpandLocked(length uint64, data bool, addr, replace uint64) bool {
	if m.limitAS == noLimit && (m.limitData == noLimit || !data) {
		return true
	}
	var total, dataVM, overlap, dataOverlap uint64
	for _, v := range m.vmas {
		n := v.End - v.Start
		d := isData(v.Prot, v.Shared, v.GrowsDown || v.Name == "[stack]")
		total += n
		if d {
			dataVM += n
		}
		if replace > 0 && v.End > addr && v.Start < addr+replace {
			o := min(v.End, addr+replace) - max(v.Start, addr)
			overlap += o
			if d {
				dataOverlap += o
			}
		}
	}
	if total-overlap+length > m.limitAS {
		return false
	}
	return !data || dataVM-dataOverlap+length <= m.limitData
}

// SetMmapBase sets the top of the top-down mmap area (ASLR is the loader's business).
func (m *MM) SetMmapBase(base uint64) {
	m.mu.Lock()
	m.mmapBase = base
	m.mu.Unlock()
}

// MaxAddr returns the exclusive upper bound of app addresses.
func (m *MM) MaxAddr() uint64 { return m.maxAddr }

// AddressSpace returns the platform address space this MM fills.
func (m *MM) AddressSpace() platform.AddressSpace { return m.as }

// MemoryFile returns the memory file backing this address space.
func (m *MM) MemoryFile() *MemoryFile { return m.mf }

func pageUp(x uint64) uint64   { return (x + PageSize - 1) &^ (PageSize - 1) }
func pageDown(x uint64) uint64 { return x &^ (PageSize - 1) }

// findLocked returns the index of the first VMA with End > addr.
func (m *MM) findLocked(addr uint64) int {
	return sort.Search(len(m.vmas), func(i int) bool { return m.vmas[i].End > addr })
}

// vmaAtLocked returns the VMA containing addr, or nil.
func (m *MM) vmaAtLocked(addr uint64) *VMA {
	i := m.findLocked(addr)
	if i < len(m.vmas) && m.vmas[i].Start <= addr {
		return m.vmas[i]
	}
	return nil
}

// isFreeLocked reports whether [start, end) overlaps no VMA.
func (m *MM) isFreeLocked(start, end uint64) bool {
	i := m.findLocked(start)
	return i == len(m.vmas) || m.vmas[i].Start >= end
}

// findFreeLocked finds a free range of length bytes, top-down below the mmap base, or at
// hint if it is free.
func (m *MM) findFreeLocked(hint, length uint64) (uint64, error) {
	if hint != 0 {
		hint = pageDown(hint)
		if hint >= minMmapAddr && hint+length <= m.maxAddr && hint+length > hint && m.isFreeLocked(hint, hint+length) {
			return hint, nil
		}
	}
	top := m.mmapBase
	for i := len(m.vmas) - 1; i >= -1; i-- {
		var lo uint64 = minMmapAddr
		if i >= 0 {
			lo = m.vmas[i].End
		}
		if lo >= top {
			if i >= 0 && m.vmas[i].Start < top {
				top = m.vmas[i].Start
			}
			continue
		}
		if top-lo >= length {
			return top - length, nil
		}
		if i >= 0 {
			top = m.vmas[i].Start
		}
	}
	// Nothing below the base: try above it (the area between the base and the stack).
	for i := 0; i <= len(m.vmas); i++ {
		lo := m.mmapBase
		if i > 0 && m.vmas[i-1].End > lo {
			lo = m.vmas[i-1].End
		}
		hi := m.maxAddr
		if i < len(m.vmas) {
			hi = m.vmas[i].Start
		}
		if hi > lo && hi-lo >= length {
			return lo, nil
		}
	}
	return 0, unix.ENOMEM
}

// The range MAP_32BIT mappings are placed in (arch/x86/kernel/sys_x86_64.c).
const (
	low32Begin = 0x40000000
	low32End   = 0x80000000
)

// findFreeLowLocked finds a free range of length bytes for MAP_32BIT: at hint if it is
// free and ends below 2 GiB, else the lowest free range in [1 GiB, 2 GiB).
func (m *MM) findFreeLowLocked(hint, length uint64) (uint64, error) {
	if length > low32End-low32Begin {
		return 0, unix.ENOMEM
	}
	if hint != 0 {
		hint = pageUp(hint)
		if hint >= minMmapAddr && hint+length <= low32End && m.isFreeLocked(hint, hint+length) {
			return hint, nil
		}
	}
	lo := uint64(low32Begin)
	for _, v := range m.vmas {
		if v.End <= lo {
			continue
		}
		if v.Start >= lo+length {
			break
		}
		lo = v.End
	}
	if lo+length > low32End {
		return 0, unix.ENOMEM
	}
	return lo, nil
}

// minMmapAddr is vm.mmap_min_addr: 128 KiB (Linux's default is 64 KiB), so the trap
// platform's slot table for patched syscall sites (0x10000, platform/ptrace/patch.go) lies
// below every app mapping on every platform.
const minMmapAddr = 0x20000

// insertLocked adds v, which must not overlap, and mirrors its touched parts into the
// platform (a lazy VMA's inaccessible until its pages fault in), where nothing may be
// mapped in its range.
func (m *MM) insertLocked(v *VMA) error {
	if v.lazy != nil {
		i, j := v.lazyPages(v.Start, v.End)
		v.lazy.mapped.clearRange(i, j)
	}
	if err := m.mapRangeLocked(v, v.Start, v.End); err != nil {
		return err
	}
	i := m.findLocked(v.Start)
	m.vmas = append(m.vmas, nil)
	copy(m.vmas[i+1:], m.vmas[i:])
	m.vmas[i] = v
	return nil
}

// splitLocked makes addr a VMA boundary if it falls inside a VMA.
func (m *MM) splitLocked(addr uint64) {
	i := m.findLocked(addr)
	if i == len(m.vmas) || m.vmas[i].Start >= addr {
		return
	}
	v := m.vmas[i]
	w := *v
	delta := addr - v.Start
	w.Start = addr
	w.memOff += int64(delta)
	if w.Source != nil {
		w.FileOff += int64(delta)
	}
	if w.release != nil {
		w.release.inc()
	}
	if w.lazy != nil {
		w.lazy.refs++
	}
	if w.direct != nil {
		w.direct.inc()
	}
	m.openedLocked(&w)
	v.End = addr
	m.vmas = append(m.vmas, nil)
	copy(m.vmas[i+2:], m.vmas[i+1:])
	m.vmas[i+1] = &w
}

// removeLocked unmaps [start, end) (page aligned), freeing private memory.
func (m *MM) removeLocked(start, end uint64) error {
	m.splitLocked(start)
	m.splitLocked(end)
	i := m.findLocked(start)
	j := i
	for j < len(m.vmas) && m.vmas[j].Start < end {
		m.dropLocked(m.vmas[j])
		j++
	}
	if j > i {
		m.vmas = append(m.vmas[:i], m.vmas[j:]...)
	}
	return m.unmapRangeLocked(start, end)
}

// MapOpts describes an mmap request after argument decoding.
type MapOpts struct {
	Addr, Length uint64
	Prot         platform.Prot
	MaxProt      platform.Prot // what mprotect may later grant (file opened read-only: no write for shared)
	Fixed        bool
	NoReplace    bool
	NoReserve    bool // MAP_NORESERVE: not counted by the overcommit heuristic
	Shared       bool
	GrowsDown    bool
	// Low32 is MAP_32BIT: without Fixed, the mapping goes in the second GiB of the address
	// space (x86-64's legacy placement for 32-bit pointers), bottom-up.
	Low32  bool
	Source Source // nil for anonymous memory
	// Hold keeps Source readable while a private mapping exists, which lets the mapping
	// be filled lazily; without it the file is copied in at once.
	Hold     Holder
	Offset   int64
	Name     string
	Dev, Ino uint64
}

// Map implements the address-space part of mmap(2) and returns the mapped address.
func (m *MM) Map(o MapOpts) (uint64, error) {
	if o.Length == 0 {
		return 0, unix.EINVAL
	}
	length := pageUp(o.Length)
	if length < o.Length || length > m.maxAddr {
		return 0, unix.ENOMEM
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var addr uint64
	if o.Fixed || o.NoReplace {
		addr = o.Addr
		if addr%PageSize != 0 {
			return 0, unix.EINVAL
		}
		if addr+length > m.maxAddr || addr+length < addr {
			return 0, unix.ENOMEM
		}
		if addr < minMmapAddr {
			return 0, unix.EPERM
		}
		if o.NoReplace && !m.isFreeLocked(addr, addr+length) {
			return 0, unix.EEXIST
		}
	} else if o.Low32 {
		var err error
		if addr, err = m.findFreeLowLocked(o.Addr, length); err != nil {
			return 0, err
		}
	} else {
		var err error
		if addr, err = m.findFreeLocked(o.Addr, length); err != nil {
			return 0, err
		}
	}
	var replace uint64
	if o.Fixed {
		replace = length
	}
	if !m.mayExpandLocked(length, isData(o.Prot, o.Shared, o.GrowsDown), addr, replace) {
		return 0, unix.ENOMEM
	}
	if !o.NoReserve && accountable(o.Prot, o.Shared) && !enoughMemory(length) {
		return 0, unix.ENOMEM
	}
	v := &VMA{Start: addr, End: addr + length, Prot: o.Prot, MaxProt: o.MaxProt, Shared: o.Shared,
		GrowsDown: o.GrowsDown, Source: o.Source, FileOff: o.Offset, Name: o.Name, Dev: o.Dev, Ino: o.Ino}
	if v.MaxProt == 0 {
		v.MaxProt = platform.ProtRead | platform.ProtWrite | platform.ProtExec
	}
	hs, isHost := o.Source.(HostSource)
	isHost = isHost && o.Shared && hs.HostBacked()
	switch ss, ok := o.Source.(SharedSource); {
	case isHost:
		fd, ident, release, err := hs.MapHost(o.Offset, int64(length))
		if err != nil {
			return 0, err
		}
		v.memOff, v.host, v.hostFD = ident, hs, fd
		v.release = newSharedRef(release)
	case o.Shared && ok:
		off, release, err := ss.MapShared(o.Offset, int64(length))
		if err != nil {
			return 0, err
		}
		v.memOff = off
		v.release = newSharedRef(release)
	case o.Shared && o.Source == nil:
		off, err := m.mf.Allocate(int64(length))
		if err != nil {
			return 0, err
		}
		mf := m.mf
		mf.MarkShmem(off, int64(length))
		v.memOff = off
		v.release = newSharedRef(func() { mf.Free(off, int64(length)) })
		v.Name = "/dev/zero (deleted)"
	default:
		// Private (or a shared mapping of a file whose pages are not in the memory file:
		// a read-only host file, where a private copy is indistinguishable).
		if ok, err := m.mapDirect(v, o, length); err != nil {
			return 0, err
		} else if ok {
			break
		}
		if !o.Shared && m.mapCachedLocked(v, o, length) {
			break
		}
		off, err := m.mf.Allocate(int64(length))
		if err != nil {
			return 0, err
		}
		v.memOff = off
		if o.Source != nil && o.Hold != nil {
			v.lazy = newLazyFill(o.Source, o.Hold, off, o.Offset, int(length/PageSize))
		} else if o.Source != nil {
			if err := m.mf.fillFrom(o.Source, off, int64(length), o.Offset); err != nil {
				m.mf.Free(off, int64(length))
				return 0, err
			}
		}
	}
	m.openedLocked(v)
	if o.Fixed {
		if err := m.removeLocked(addr, addr+length); err != nil {
			m.dropLocked(v)
			return 0, err
		}
	}
	if m.lockFuture {
		v.locked, v.lockOnFault = true, m.lockFutureOnFault
	}
	if err := m.insertLocked(v); err != nil {
		m.dropLocked(v)
		return 0, err
	}
	if v.locked && !v.lockOnFault {
		m.populateLocked(v)
	}
	return addr, nil
}

func (m *MM) dropLocked(v *VMA) {
	if c, ok := v.Source.(MappingCounter); ok {
		c.CloseMapping(m.owner.Load())
	}
	if v.release != nil {
		v.release.dec()
	} else {
		m.mf.DecRef(v.memOff, int64(v.End-v.Start))
	}
	if v.lazy != nil {
		v.lazy.dec()
	}
	if v.direct != nil {
		v.direct.dec()
	}
}

// Unmap implements munmap(2).
func (m *MM) Unmap(addr, length uint64) error {
	if addr%PageSize != 0 || length == 0 {
		return unix.EINVAL
	}
	end := pageUp(addr + length)
	if end < addr || end > m.maxAddr {
		return unix.EINVAL
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.noteReleaseLocked(addr, end)
	return m.removeLocked(addr, end)
}

// Protect implements mprotect(2).
func (m *MM) Protect(addr, length uint64, prot platform.Prot, growsDown bool) error {
	if addr%PageSize != 0 {
		return unix.EINVAL
	}
	end := pageUp(addr + length)
	if end < addr {
		return unix.ENOMEM
	}
	if length == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if growsDown {
		if v := m.vmaAtLocked(addr); v != nil && v.GrowsDown {
			addr = v.Start
		}
	}
	// As on Linux, the mappings from addr on change up to the first hole (ENOMEM) or the
	// first mapping that may not get prot (EACCES); the first page must be mapped.
	var newlyAccountable uint64
	var tailErr error
	for a := addr; a < end; {
		v := m.vmaAtLocked(a)
		if v == nil {
			end, tailErr = a, unix.ENOMEM
			break
		}
		if prot&^v.MaxProt != 0 {
			end, tailErr = a, unix.EACCES
			break
		}
		if accountable(prot, v.Shared) && !accountable(v.Prot, v.Shared) {
			newlyAccountable += min(end, v.End) - max(a, v.Start)
		}
		a = v.End
	}
	if end == addr {
		return tailErr
	}
	if newlyAccountable > 0 && !enoughMemory(newlyAccountable) {
		return unix.ENOMEM
	}
	m.splitLocked(addr)
	m.splitLocked(end)
	// Contiguous ordinary VMAs change in one platform call; lazy ones page run by page run.
	var runStart, runEnd uint64
	var runProt platform.Prot
	flush := func() error {
		if runEnd > runStart {
			return m.protectLocked(runStart, runEnd, runProt)
		}
		return nil
	}
	for i := m.findLocked(addr); i < len(m.vmas) && m.vmas[i].Start < end; i++ {
		v := m.vmas[i]
		v.Prot = prot
		pp := v.platformProt()
		if v.lazy == nil && v.Start == runEnd && pp == runProt {
			runEnd = v.End
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		runStart, runEnd, runProt = v.Start, v.End, pp
		if v.lazy != nil {
			if err := m.protectRunsLocked(v, v.Start, v.End, pp); err != nil {
				return err
			}
			runStart, runEnd = 0, 0
		}
	}
	m.mergeLocked()
	if err := flush(); err != nil {
		return err
	}
	return tailErr
}

// counted says v's source counts its mappings (MappingCounter): v is never merged.
func counted(v *VMA) bool {
	_, ok := v.Source.(MappingCounter)
	return ok
}

// mergeLocked joins adjacent VMAs that are indistinguishable continuations of each other.
func (m *MM) mergeLocked() {
	out := m.vmas[:0]
	for _, v := range m.vmas {
		if n := len(out); n > 0 {
			p := out[n-1]
			if p.End == v.Start && p.Prot == v.Prot && p.MaxProt == v.MaxProt && p.Shared == v.Shared &&
				p.GrowsDown == v.GrowsDown && p.Name == v.Name && p.AnonName == v.AnonName && p.Source == v.Source &&
				p.memOff+int64(p.End-p.Start) == v.memOff && (p.Source == nil || p.FileOff+int64(p.End-p.Start) == v.FileOff) &&
				p.release == v.release && p.lazy == v.lazy && p.cow == v.cow && p.dontFork == v.dontFork && p.wipeOnFork == v.wipeOnFork &&
				p.locked == v.locked && p.lockOnFault == v.lockOnFault &&
				p.direct == v.direct && p.copied == v.copied && !counted(v) {
				if v.release != nil {
					v.release.dec()
				}
				if v.direct != nil {
					v.direct.refs--
				}
				if v.lazy != nil {
					v.lazy.refs--
				}
				p.End = v.End
				continue
			}
		}
		out = append(out, v)
	}
	for i := len(out); i < len(m.vmas); i++ {
		m.vmas[i] = nil
	}
	m.vmas = out
}

// Remap implements mremap(2). With dontUnmap (MREMAP_DONTUNMAP) the mapping moves and its
// old range stays mapped with the same protection: empty for private anonymous memory,
// the same pages for a shared mapping (the pages of a private file mapping are not moved
// that way here: EINVAL). An oldLen of 0 maps the pages of a shared mapping a second time.
func (m *MM) Remap(oldAddr, oldLen, newLen uint64, mayMove, fixed, dontUnmap bool, newAddr uint64) (uint64, error) {
	if fixed && !mayMove || dontUnmap && (!mayMove || oldLen != newLen) {
		return 0, unix.EINVAL
	}
	if oldAddr%PageSize != 0 || pageUp(newLen) == 0 {
		return 0, unix.EINVAL
	}
	oldLen, newLen = pageUp(oldLen), pageUp(newLen)
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.vmaAtLocked(oldAddr)
	if v == nil {
		return 0, unix.EFAULT
	}
	// The old range must lie in one mapping as Linux sees it, which may be several pieces
	// here (a copy-on-write break or a page-cache fill splits a VMA at chunk boundaries):
	// v becomes the last piece in the range, end the mapping's end.
	end := m.mappingEndLocked(v)
	if oldLen != 0 && oldAddr+oldLen > end {
		return 0, unix.EFAULT
	}
	keepOld := dontUnmap
	if oldLen == 0 {
		// Duplicating a mapping is only possible for shared mappings.
		if !v.Shared || !mayMove {
			return 0, unix.EINVAL
		}
		oldLen, keepOld = min(newLen, end-oldAddr), true
	}
	if dontUnmap {
		for a := oldAddr; a < oldAddr+oldLen; {
			w := m.vmaAtLocked(a)
			if !w.Shared && w.Source != nil {
				return 0, unix.EINVAL // a private file mapping
			}
			a = w.End
		}
	}
	v = m.vmaAtLocked(oldAddr + oldLen - 1)
	if fixed {
		if newAddr%PageSize != 0 || newAddr+newLen > m.maxAddr {
			return 0, unix.EINVAL
		}
		if newAddr < oldAddr+oldLen && oldAddr < newAddr+newLen {
			return 0, unix.EINVAL
		}
	}
	if newLen > oldLen && !m.mayExpandLocked(newLen-oldLen, isData(v.Prot, v.Shared, v.GrowsDown), 0, 0) {
		return 0, unix.ENOMEM
	}
	if !fixed && !keepOld && newLen <= oldLen {
		if newLen < oldLen {
			if err := m.removeLocked(oldAddr+newLen, oldAddr+oldLen); err != nil {
				return 0, err
			}
		}
		return oldAddr, nil
	}
	// Grow in place when the following range is free.
	if !fixed && !keepOld && oldAddr+oldLen == v.End && m.isFreeLocked(v.End, oldAddr+newLen) && oldAddr+newLen <= m.maxAddr {
		if err := m.extendLocked(v, oldAddr+newLen); err != nil {
			return 0, err
		}
		return oldAddr, nil
	}
	if !mayMove {
		return 0, unix.ENOMEM
	}
	// Move: the pieces keep their memory-file ranges; only app addresses change.
	dst := newAddr
	if !fixed {
		var err error
		if dst, err = m.findFreeLocked(0, newLen); err != nil {
			return 0, err
		}
	} else if err := m.removeLocked(dst, dst+newLen); err != nil {
		return 0, err
	}
	m.splitLocked(oldAddr)
	m.splitLocked(oldAddr + oldLen)
	i := m.findLocked(oldAddr)
	var moved []*VMA
	j := i
	for ; j < len(m.vmas) && m.vmas[j].Start < oldAddr+oldLen; j++ {
		moved = append(moved, m.vmas[j])
	}
	m.vmas = append(m.vmas[:i], m.vmas[j:]...)
	if err := m.unmapRangeLocked(oldAddr, oldAddr+oldLen); err != nil {
		return 0, err
	}
	var last *VMA
	for _, w := range moved {
		if keepOld {
			if err := m.insertLocked(m.refillLocked(w)); err != nil {
				return 0, err
			}
		}
		delta := w.Start - oldAddr
		size := w.End - w.Start
		w.Start, w.End = dst+delta, dst+delta+size
		if err := m.insertLocked(w); err != nil {
			return 0, err
		}
		last = w
	}
	if newLen > oldLen && last != nil {
		if err := m.extendLocked(last, dst+newLen); err != nil {
			return 0, err
		}
	}
	m.mergeLocked()
	return dst, nil
}

// refillLocked returns what stays at v's place when v moves away keeping its old range
// (MREMAP_DONTUNMAP, or an old size of 0): for shared memory a second piece of the same
// pages, for private anonymous memory fresh empty memory (v's pages go with it). v is a
// shared mapping or private anonymous memory. Preconditions: m.mu held.
func (m *MM) refillLocked(v *VMA) *VMA {
	w := *v
	if v.Shared {
		if w.release != nil {
			w.release.inc()
		}
		if w.direct != nil {
			w.direct.inc()
		}
		if w.lazy != nil {
			w.lazy.refs++
		}
		m.openedLocked(&w)
		return &w
	}
	w.memOff, w.cow, w.lazy, w.direct, w.copied, w.release = 0, false, nil, nil, false, nil
	if off, err := m.mf.Allocate(int64(v.End - v.Start)); err == nil {
		w.memOff = off
	}
	return &w
}

// mappingEndLocked returns the end of the mapping v is a piece of, as Linux would show it:
// the following pieces continue it while they are adjacent and differ only in how the
// memory behind them is kept (memory-file range, lazy fill, copy-on-write state), which
// nothing the app did set apart. Preconditions: m.mu held, v in m.vmas.
func (m *MM) mappingEndLocked(v *VMA) uint64 {
	end := v.End
	for i := m.findLocked(v.Start) + 1; i < len(m.vmas); i++ {
		w := m.vmas[i]
		if w.Start != end || w.Prot != v.Prot || w.MaxProt != v.MaxProt || w.Shared != v.Shared ||
			w.GrowsDown != v.GrowsDown || w.Name != v.Name || w.AnonName != v.AnonName || w.Source != v.Source ||
			(v.Source != nil && w.FileOff != v.FileOff+int64(end-v.Start)) || w.host != v.host ||
			w.dontFork != v.dontFork || w.wipeOnFork != v.wipeOnFork || w.locked != v.locked ||
			(v.Shared && v.Source == nil && w.release != v.release) { // (two shared anonymous mappings)
			break
		}
		end = w.End
	}
	return end
}

// extendLocked grows the mapping ending at v.End up to end with a new piece of the same
// kind (a VMA maps one contiguous memory-file range, so growth is a new adjacent VMA).
func (m *MM) extendLocked(v *VMA, end uint64) error {
	size := end - v.End
	w := &VMA{Start: v.End, End: end, Prot: v.Prot, MaxProt: v.MaxProt, Shared: v.Shared, GrowsDown: v.GrowsDown,
		Source: v.Source, Name: v.Name, AnonName: v.AnonName, Dev: v.Dev, Ino: v.Ino,
		dontFork: v.dontFork, wipeOnFork: v.wipeOnFork, locked: v.locked, lockOnFault: v.lockOnFault}
	if v.Source != nil {
		w.FileOff = v.FileOff + int64(v.End-v.Start)
	}
	if v.host != nil {
		fd, ident, release, err := v.host.MapHost(w.FileOff, int64(size))
		if err != nil {
			return err
		}
		w.memOff, w.host, w.hostFD, w.release = ident, v.host, fd, newSharedRef(release)
	} else if ss, ok := v.Source.(SharedSource); ok && v.Shared {
		off, release, err := ss.MapShared(w.FileOff, int64(size))
		if err != nil {
			return err
		}
		w.memOff, w.release = off, newSharedRef(release)
	} else {
		if v.Shared && v.Source == nil {
			return unix.ENOMEM // growing shared anonymous memory in place is not supported
		}
		off, err := m.mf.Allocate(int64(size))
		if err != nil {
			return err
		}
		w.memOff = off
		if v.direct != nil {
			// The file again, mapped as the rest (a copy of pages is made at the first write).
			w.direct = v.direct
			w.direct.inc()
		} else if v.lazy != nil && v.lazy.entry == nil {
			w.lazy = newLazyFill(v.Source, v.lazy.hold, off, w.FileOff, int(size/PageSize))
		} else if v.Source != nil {
			if err := m.mf.fillFrom(v.Source, off, int64(size), w.FileOff); err != nil {
				m.mf.Free(off, int64(size))
				return err
			}
		}
	}
	if err := m.insertLocked(w); err != nil {
		return err
	}
	m.openedLocked(w)
	if w.locked && !w.lockOnFault {
		m.populateLocked(w) // a locked mapping's new part is brought in, as by mlock
	}
	return nil
}

// Brk implements brk(2): it returns the new break (the old one on failure).
func (m *MM) Brk(addr uint64) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if addr < m.brkStart || m.brkStart == 0 || addr > m.maxAddr {
		return m.brkEnd // (rounding a larger one up would wrap to 0 and unmap everything)
	}
	oldTop, newTop := pageUp(m.brkEnd), pageUp(addr)
	switch {
	case newTop > oldTop:
		if !m.isFreeLocked(oldTop, newTop) || newTop > m.maxAddr {
			return m.brkEnd
		}
		// RLIMIT_DATA bounds the heap (Linux adds the data segment, a few pages).
		if m.limitData != noLimit && addr-m.brkStart > m.limitData {
			return m.brkEnd
		}
		if !m.mayExpandLocked(newTop-oldTop, false, 0, 0) {
			return m.brkEnd
		}
		v := &VMA{Start: oldTop, End: newTop, Prot: platform.ProtRead | platform.ProtWrite,
			MaxProt: platform.ProtRead | platform.ProtWrite | platform.ProtExec, Name: "[heap]"}
		off, err := m.mf.Allocate(int64(newTop - oldTop))
		if err != nil {
			return m.brkEnd
		}
		v.memOff = off
		if err := m.insertLocked(v); err != nil {
			m.mf.Free(off, int64(newTop-oldTop))
			return m.brkEnd
		}
	case newTop < oldTop:
		if err := m.removeLocked(newTop, oldTop); err != nil {
			return m.brkEnd
		}
	}
	m.brkEnd = addr
	return addr
}

// SetBrk sets the initial program break (the loader calls it).
func (m *MM) SetBrk(start uint64) {
	m.mu.Lock()
	m.brkStart, m.brkEnd = start, start
	m.mu.Unlock()
}

// Advise implements the parts of madvise(2) with observable effects.
func (m *MM) Advise(addr, length uint64, advice int) error {
	if addr%PageSize != 0 {
		return unix.EINVAL
	}
	end := pageUp(addr + length)
	if end < addr {
		return unix.EINVAL
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var set func(v *VMA) error
	switch advice {
	case unix.MADV_DONTNEED, unix.MADV_FREE:
		m.noteReleaseLocked(addr, end)
		set = m.discardLocked
	case unix.MADV_REMOVE:
		m.noteReleaseLocked(addr, end)
		set = m.removePagesLocked
	case unix.MADV_DONTFORK:
		set = func(v *VMA) error { v.dontFork = true; return nil }
	case unix.MADV_DOFORK:
		set = func(v *VMA) error { v.dontFork = false; return nil }
	case unix.MADV_WIPEONFORK:
		set = func(v *VMA) error { v.wipeOnFork = true; return nil }
	case unix.MADV_KEEPONFORK:
		set = func(v *VMA) error { v.wipeOnFork = false; return nil }
	case unix.MADV_NORMAL, unix.MADV_RANDOM, unix.MADV_SEQUENTIAL, unix.MADV_WILLNEED,
		unix.MADV_MERGEABLE, unix.MADV_UNMERGEABLE,
		unix.MADV_HUGEPAGE, unix.MADV_NOHUGEPAGE, unix.MADV_DONTDUMP, unix.MADV_DODUMP,
		unix.MADV_COLD, unix.MADV_PAGEOUT:
	default:
		return unix.EINVAL
	}
	for a := addr; a < end; {
		v := m.vmaAtLocked(a)
		if v == nil {
			return unix.ENOMEM
		}
		if (advice == unix.MADV_WIPEONFORK || advice == unix.MADV_FREE) && (v.Shared || v.Source != nil) {
			return unix.EINVAL // private anonymous memory only
		}
		if advice == unix.MADV_REMOVE {
			// Memory with a file behind it (shared anonymous memory is a tmpfs file on
			// Linux) whose mapping may write it.
			switch {
			case !v.Shared && v.Source == nil:
				return unix.EINVAL
			case !v.Shared || v.MaxProt&platform.ProtWrite == 0:
				return unix.EACCES
			}
		}
		a = v.End
	}
	if set == nil || length == 0 {
		return nil
	}
	m.splitLocked(addr)
	m.splitLocked(end)
	for i := m.findLocked(addr); i < len(m.vmas) && m.vmas[i].Start < end; i++ {
		if err := set(m.vmas[i]); err != nil {
			return err
		}
	}
	m.mergeLocked()
	return nil
}

// HolePuncher is a SharedSource whose pages can be given back (tmpfs: MADV_REMOVE punches
// a hole in the file, as fallocate(FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE)).
type HolePuncher interface {
	PunchHole(off, length int64) error
}

// removePagesLocked implements MADV_REMOVE on the whole of v, a shared mapping that may
// write: the pages behind it are freed (they read as zero again), in the file for a
// file's mapping. Preconditions: m.mu held.
func (m *MM) removePagesLocked(v *VMA) error {
	n := int64(v.End - v.Start)
	if hp, ok := v.Source.(HolePuncher); ok {
		return hp.PunchHole(v.FileOff, n)
	}
	if v.host != nil {
		if hp, ok := v.host.(HolePuncher); ok {
			return hp.PunchHole(v.FileOff, n)
		}
	}
	if v.Source != nil {
		return unix.EOPNOTSUPP // a host file's shared pages
	}
	m.mf.punch(v.memOff, n) // shared anonymous memory
	return nil
}

// discardLocked implements MADV_DONTNEED on the whole of v: private pages go back to zero
// (anonymous) or to the file's contents. Preconditions: m.mu held.
func (m *MM) discardLocked(v *VMA) error {
	if v.Shared {
		return nil
	}
	if v.lazy != nil {
		return m.discardLazyLocked(v, v.Start, v.End)
	}
	if v.direct != nil {
		if v.copied {
			return m.discardDirectLocked(v)
		}
		return nil // the file's own pages
	}
	n := int64(v.End - v.Start)
	if v.cow {
		// Others may share the pages: this address space gets a fresh range instead,
		// untouched (mapped again at the next access).
		off, err := m.mf.Allocate(n)
		if err != nil {
			return err
		}
		if err := m.unmapRangeLocked(v.Start, v.End); err != nil {
			m.mf.Free(off, n)
			return err
		}
		m.mf.DecRef(v.memOff, n)
		v.memOff, v.cow = off, false
	} else {
		m.mf.punch(v.memOff, n)
	}
	if v.Source != nil {
		// Private file pages go back to the file's contents.
		if err := m.mf.fillFrom(v.Source, v.memOff, n, v.FileOff); err != nil {
			return err
		}
		return m.mapRangeLocked(v, v.Start, v.End)
	}
	return nil
}

// Mincore implements mincore(2): every mapped page is reported resident.
func (m *MM) Mincore(addr, length uint64) ([]byte, error) {
	if addr%PageSize != 0 {
		return nil, unix.EINVAL
	}
	end := pageUp(addr + length)
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]byte, (end-addr)/PageSize)
	for a := addr; a < end; a += PageSize {
		if m.vmaAtLocked(a) == nil {
			return nil, unix.ENOMEM
		}
		out[(a-addr)/PageSize] = 1
	}
	return out, nil
}

// Sync implements msync(2): every page of [addr, addr+length) must be mapped (ENOMEM),
// and the shared mappings of host files in it are written back. invalidate
// (MS_INVALIDATE) is refused on locked memory (EBUSY).
func (m *MM) Sync(addr, length uint64, invalidate bool) error {
	if addr%PageSize != 0 {
		return unix.EINVAL
	}
	end := pageUp(addr + length)
	if end < addr {
		return unix.ENOMEM
	}
	type span struct {
		src      SyncSource
		off, len int64
	}
	var todo []span
	m.mu.Lock()
	for a := addr; a < end; {
		v := m.vmaAtLocked(a)
		if v == nil {
			m.mu.Unlock()
			return unix.ENOMEM
		}
		if invalidate && v.locked {
			m.mu.Unlock()
			return unix.EBUSY
		}
		if ss, ok := v.Source.(SyncSource); ok && v.Shared && v.release != nil {
			lo, hi := max(a, v.Start), min(end, v.End)
			todo = append(todo, span{ss, v.FileOff + int64(lo-v.Start), int64(hi - lo)})
		}
		a = v.End
	}
	m.mu.Unlock()
	for _, s := range todo {
		if err := s.src.SyncShared(s.off, s.len); err != nil {
			return unix.EIO
		}
	}
	return nil
}

// CheckMapped returns ENOMEM unless every page of [addr, addr+length) is mapped (msync).
func (m *MM) CheckMapped(addr, length uint64) error {
	if addr%PageSize != 0 {
		return unix.EINVAL
	}
	end := pageUp(addr + length)
	m.mu.Lock()
	defer m.mu.Unlock()
	for a := addr; a < end; {
		v := m.vmaAtLocked(a)
		if v == nil {
			return unix.ENOMEM
		}
		a = v.End
	}
	return nil
}

// FaultCode returns the si_code for a fault at addr: SEGV_MAPERR when nothing is mapped
// there, SEGV_ACCERR when the mapping forbids the access.
func (m *MM) FaultCode(addr uint64) int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.vmaAtLocked(addr) == nil {
		return 1 // SEGV_MAPERR
	}
	return 2 // SEGV_ACCERR
}

// Usage returns the sizes /proc reports: total mapped (VmSize) and the resident set
// (VmRSS), in bytes.
func (m *MM) Usage() (size, rss uint64) {
	u := m.Stats()
	return u.Size, u.RSS.Total()
}

// Maps renders /proc/PID/maps.
func (m *MM) Maps() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	for i := 0; i < len(m.vmas); i++ {
		v := m.vmas[i]
		// Pieces of one file mapping split only by what Linux keeps inside one VMA (a
		// copy-on-write chunk, a patched page: anonymous pages of a private file mapping)
		// show as one line, as there.
		if j := i + 1; j < len(m.vmas) && m.continuesLocked(m.vmas[i], m.vmas[j]) {
			w := *v
			for ; j < len(m.vmas) && m.continuesLocked(m.vmas[j-1], m.vmas[j]); j++ {
				w.End = m.vmas[j].End
			}
			b.WriteString(m.mapsLineLocked(&w))
			i = j - 1
			continue
		}
		b.WriteString(m.mapsLineLocked(v))
	}
	for _, v := range m.vdsoMapsLocked() {
		b.WriteString(vdsoMapsLine(v))
	}
	return b.String()
}

// continuesLocked reports whether w is the rest of v's private file mapping: adjacent,
// the same file at the next offset, the same protection and name. Preconditions: m.mu held.
func (m *MM) continuesLocked(v, w *VMA) bool {
	if v.Source == nil && w.Source == nil {
		// Private anonymous memory made by two calls, or split here (a COW chunk, a grown
		// mapping) but nothing the app can see apart: Linux merges such neighbours.
		return !v.Shared && !w.Shared && w.Start == v.End && w.Prot == v.Prot && w.Name == v.Name &&
			w.AnonName == v.AnonName && w.GrowsDown == v.GrowsDown && w.dontFork == v.dontFork &&
			w.wipeOnFork == v.wipeOnFork && w.locked == v.locked && v.host == nil && w.host == nil
	}
	return v.Source != nil && w.Source != nil && !v.Shared && !w.Shared && w.Start == v.End &&
		w.FileOff == v.FileOff+int64(v.End-v.Start) && w.Prot == v.Prot && w.Name == v.Name &&
		w.AnonName == v.AnonName && w.Dev == v.Dev && w.Ino == v.Ino
}

// vdsoMapsLocked are the vDSO's mappings (none without one). Preconditions: m.mu held.
func (m *MM) vdsoMapsLocked() []platform.VDSOMap {
	if m.vdso == nil {
		return nil
	}
	return m.vdso.Maps
}

// vdsoMapsLine is a vDSO mapping's line of /proc/PID/maps.
func vdsoMapsLine(v platform.VDSOMap) string {
	perm := []byte("---p")
	for i, p := range []platform.Prot{platform.ProtRead, platform.ProtWrite, platform.ProtExec} {
		if v.Prot&p != 0 {
			perm[i] = "rwx"[i]
		}
	}
	line := fmt.Sprintf("%08x-%08x %s 00000000 00:00 0 ", v.Start, v.End, perm)
	return line + strings.Repeat(" ", max(0, 73-len(line))) + v.Name + "\n"
}

// SetVDSO records the platform's vDSO (nil: none), which every address space of the
// platform shows above maxAddr: /proc/PID/maps lists it and the kernel's reads of app
// memory read its image. The app cannot unmap, move or change it: those addresses are
// beyond what mmap, munmap, mremap and mprotect accept.
func (m *MM) SetVDSO(v *platform.VDSO) {
	m.mu.Lock()
	m.vdso = v
	m.mu.Unlock()
}

// VDSO returns the vDSO recorded by SetVDSO.
func (m *MM) VDSO() *platform.VDSO {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.vdso
}

// mapsLineLocked is v's line of /proc/PID/maps. Preconditions: m.mu held.
func (m *MM) mapsLineLocked(v *VMA) string {
	perm := []byte("---p")
	if v.Prot&platform.ProtRead != 0 {
		perm[0] = 'r'
	}
	if v.Prot&platform.ProtWrite != 0 {
		perm[1] = 'w'
	}
	if v.Prot&platform.ProtExec != 0 {
		perm[2] = 'x'
	}
	if v.Shared {
		perm[3] = 's'
	}
	var off int64
	if v.Source != nil {
		off = v.FileOff
	}
	line := fmt.Sprintf("%08x-%08x %s %08x %02x:%02x %d ", v.Start, v.End, perm, off, (v.Dev>>8)&0xfff, v.Dev&0xff, v.Ino)
	name := v.Name
	if v.AnonName != "" { // over "/dev/zero (deleted)" too
		name = "[anon:" + v.AnonName + "]"
		if v.Shared {
			name = "[anon_shmem:" + v.AnonName + "]"
		}
	}
	if name == "" && v.Start <= m.brkEnd && v.End > m.brkStart && m.brkStart != 0 {
		name = "[heap]"
	}
	if name != "" {
		if len(line) < 73 {
			line += strings.Repeat(" ", 73-len(line))
		}
		line += name
	}
	return strings.TrimRight(line, " ") + "\n"
}

// Smaps is /proc/PID/smaps: each mapping's maps line and its memory, the per-mapping
// figures smaps_rollup sums (Stats' RSS). Pages shared copy-on-write or through the page
// cache count whole in each process (Pss equals Rss).
func (m *MM) Smaps() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	row := func(name string, bytes uint64) { fmt.Fprintf(&b, "%-16s%8d kB\n", name+":", bytes/1024) }
	block := func(line string, size, rss, anon, file, shmem, locked uint64, flags string) {
		b.WriteString(line)
		row("Size", size)
		row("KernelPageSize", PageSize)
		row("MMUPageSize", PageSize)
		row("Rss", rss)
		row("Pss", rss)
		row("Pss_Dirty", anon+shmem)
		row("Shared_Clean", 0)
		row("Shared_Dirty", 0)
		row("Private_Clean", file)
		row("Private_Dirty", anon+shmem)
		row("Referenced", rss)
		row("Anonymous", anon)
		for _, z := range []string{"KSM", "LazyFree", "AnonHugePages", "ShmemPmdMapped", "FilePmdMapped", "Shared_Hugetlb",
			"Private_Hugetlb", "Swap", "SwapPss"} {
			row(z, 0)
		}
		row("Locked", locked)
		b.WriteString("THPeligible:           0\n")
		b.WriteString("VmFlags:" + flags + " \n")
	}
	for i := 0; i < len(m.vmas); i++ {
		v := m.vmas[i]
		var anon, file, shmem uint64
		add := func(v *VMA) {
			r := m.vmaResidentLocked(v)
			anon, file, shmem = anon+r.Anon, file+r.File, shmem+r.Shmem
		}
		add(v)
		line := m.mapsLineLocked(v)
		size := v.End - v.Start
		// One block per line of maps: the pieces Maps shows as one (continuesLocked).
		if j := i + 1; j < len(m.vmas) && m.continuesLocked(v, m.vmas[j]) {
			w := *v
			for ; j < len(m.vmas) && m.continuesLocked(m.vmas[j-1], m.vmas[j]); j++ {
				x := m.vmas[j]
				add(x)
				w.End = x.End
			}
			line, size = m.mapsLineLocked(&w), w.End-w.Start
			i = j - 1
		}
		rss := anon + file + shmem
		var locked uint64
		if v.locked {
			locked = rss
		}
		block(line, size, rss, anon, file, shmem, locked, vmFlags(v))
	}
	// The vDSO's pages are the host's, not the sandbox's memory: no figures but the size.
	for _, v := range m.vdsoMapsLocked() {
		flags := " rd mr pf io de dd" // [vvar*] (Linux: VM_PFNMAP|VM_IO|VM_DONTEXPAND|VM_DONTDUMP)
		if v.Prot&platform.ProtExec != 0 {
			flags = " rd ex mr mw me de"
		}
		block(vdsoMapsLine(v), v.End-v.Start, 0, 0, 0, 0, 0, flags)
	}
	return b.String()
}

// vmFlags are a mapping's VmFlags letters (fs/proc/task_mmu.c show_smap_vma_flags).
func vmFlags(v *VMA) string {
	var f []string
	add := func(on bool, s string) {
		if on {
			f = append(f, s)
		}
	}
	add(v.Prot&platform.ProtRead != 0, "rd")
	add(v.Prot&platform.ProtWrite != 0, "wr")
	add(v.Prot&platform.ProtExec != 0, "ex")
	add(v.Shared, "sh")
	add(v.MaxProt&platform.ProtRead != 0 || !v.Shared, "mr")
	add(v.MaxProt&platform.ProtWrite != 0 || !v.Shared, "mw")
	add(v.MaxProt&platform.ProtExec != 0 || !v.Shared, "me")
	add(v.Shared, "ms")
	add(v.GrowsDown, "gd")
	add(v.locked, "lo")
	add(v.dontFork, "dc")
	add(!v.Shared && v.Prot&platform.ProtWrite != 0, "ac")
	add(v.wipeOnFork, "wf")
	return " " + strings.Join(f, " ")
}

// Release unmaps everything and destroys the platform address space.
func (m *MM) Release() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.releaseLocked()
}

// Detach implements shmdt(2)'s search, as Linux's: the first VMA from addr on whose source
// is an attachable one (size gives its size) and whose file offset is its distance from
// addr (a whole attachment starting at addr, or a fragment of one munmap or mprotect
// left) is unmapped, and so is every later fragment of that source placed the same way
// within its size of addr. EINVAL when none is.
func (m *MM) Detach(addr uint64, size func(Source) (int64, bool)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var src Source
	var end uint64
	var drop [][2]uint64
	for i := m.findLocked(addr); i < len(m.vmas); i++ {
		v := m.vmas[i]
		if src != nil && v.End-addr > end {
			break
		}
		n, ok := size(v.Source)
		if !ok || v.Start < addr || int64(v.Start-addr) != v.FileOff || src != nil && v.Source != src {
			continue
		}
		if src == nil {
			src, end = v.Source, uint64(n+PageSize-1)&^(PageSize-1)
		}
		drop = append(drop, [2]uint64{v.Start, v.End})
	}
	if src == nil {
		return unix.EINVAL
	}
	for _, r := range drop {
		if err := m.removeLocked(r[0], r[1]); err != nil {
			return err
		}
	}
	return nil
}

// SharedOffset returns the memory-file offset of addr when it lies in a shared mapping
// (memory other address spaces may map too: futexes there are keyed by it).
func (m *MM) SharedOffset(addr uint64) (int64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v := m.vmaAtLocked(addr); v != nil && v.Shared && v.release != nil {
		return v.memOff + int64(addr-v.Start), true
	}
	return 0, false
}

// MapsWritableShared reports whether the address space has a shared mapping of src that
// is or may become writable (Linux's VM_SHARED|VM_MAYWRITE: what F_SEAL_WRITE waits on).
func (m *MM) MapsWritableShared(src Source) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range m.vmas {
		if v.Shared && v.MaxProt&platform.ProtWrite != 0 && v.Source == src {
			return true
		}
	}
	return false
}

// Holders returns what keeps the files of private file mappings readable (their file
// descriptions: umount2 counts them as users of their mounts).
func (m *MM) Holders() []Holder {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Holder
	for _, v := range m.vmas {
		if v.lazy != nil && v.lazy.hold != nil {
			out = append(out, v.lazy.hold)
		}
		if v.direct != nil {
			out = append(out, v.direct.hold)
		}
	}
	return out
}
