package mm

import (
	"sync"

	"github.com/sbx-dev/sbx/platform"
)

// Lazily filled private file mappings.
//
// Copying a whole file into the memory file at mmap time costs a host page allocation for
// every page, touched or not: on a VM that is ~10 µs a page, so a dynamic program's libc
// alone took milliseconds per exec. A private file mapping with a Holder (something that
// keeps its Source readable after the app closes the file) is instead filled on demand:
//
//   - its memory-file range starts as holes; the platform maps it PROT_NONE;
//   - when the app touches a page, the fault comes back to the kernel (HandleFault), which
//     copies that page and its neighbours (faultAround) from the file and gives them the
//     VMA's protection in the platform address space;
//   - when the kernel itself reads or writes app memory (Ranges), it fills the pages first.
//
// "filled" says a page's memory-file contents are valid; "mapped" says the platform address
// space has the VMA's protection on it. Both are per MM (fork gives the child its own).

// Holder keeps a mapping's Source readable while the mapping exists (a file description's
// reference count).
type Holder interface {
	IncRef()
	DecRef()
}

// faultAround is how many pages one fault fills and maps (aligned, clipped to the VMA).
const faultAround = 16

// lazyFill is the fill state of one lazily filled allocation, shared by the VMA pieces
// split from it. Page i is the page at memory-file offset base+i*PageSize, holding file
// offset fileBase+i*PageSize. Protected by MM.mu, but for fill, which a page-cache entry
// shares with every address space mapping it (pagecache.go).
type lazyFill struct {
	src            Source
	hold           Holder
	base, fileBase int64
	fill           *fillState
	mapped         bitset
	// entry is the page-cache entry whose pages these are (nil: the mapping's own range).
	entry *cacheEntry
	// refs counts the VMA pieces using this fill; the last one drops hold (or the entry).
	refs int
}

// fillState says which pages hold the file's contents.
type fillState struct {
	mu sync.Mutex
	// bits has a bit per page. protected by mu
	bits bitset
}

func newLazyFill(src Source, hold Holder, base, fileBase int64, pages int) *lazyFill {
	hold.IncRef()
	return &lazyFill{src: src, hold: hold, base: base, fileBase: fileBase,
		fill: &fillState{bits: newBitset(pages)}, mapped: newBitset(pages), refs: 1}
}

func (l *lazyFill) dec() {
	l.refs--
	if l.refs == 0 {
		if l.entry != nil {
			l.entry.unuse()
		} else {
			l.hold.DecRef()
		}
	}
}

// allFilled reports whether pages [i, j) are all filled.
func (l *lazyFill) allFilled(i, j int) bool {
	l.fill.mu.Lock()
	defer l.fill.mu.Unlock()
	for k := i; k < j; k++ {
		if !l.fill.bits.get(k) {
			return false
		}
	}
	return true
}

// mappedAt reports whether the page at addr (in v) has its protection in the platform.
func (l *lazyFill) mappedAt(v *VMA, addr uint64) bool {
	i, _ := v.lazyPages(pageDown(addr), pageDown(addr)+PageSize)
	return l.mapped.get(i)
}

// pages returns the page indexes of [lo, hi) (app addresses inside v).
func (v *VMA) lazyPages(lo, hi uint64) (int, int) {
	first := int((v.memOff + int64(lo-v.Start) - v.lazy.base) / PageSize)
	return first, first + int((hi-lo)/PageSize)
}

// fillLocked makes the memory-file contents of [lo, hi) (page aligned, inside v) valid.
func (m *MM) fillLocked(v *VMA, lo, hi uint64) error {
	l := v.lazy
	i, end := v.lazyPages(lo, hi)
	l.fill.mu.Lock()
	defer l.fill.mu.Unlock()
	bits := l.fill.bits
	for i < end {
		if bits.get(i) {
			i++
			continue
		}
		j := i
		for j < end && !bits.get(j) {
			j++
		}
		off := l.base + int64(i)*PageSize
		if err := m.mf.fillFrom(l.src, off, int64(j-i)*PageSize, l.fileBase+int64(i)*PageSize); err != nil {
			return err
		}
		bits.setRange(i, j)
		i = j
	}
	return nil
}

// FaultGen returns a counter that changes whenever a fault fills pages; a task reads it
// before running app code and passes it to HandleFault.
func (m *MM) FaultGen() uint64 { return m.faultGen.Load() }

// HandleFault resolves an app fault at addr that the platform reported: it reports whether
// the app should simply run again (the page was filled and mapped now, or by another
// thread since gen was read) rather than get a signal.
func (m *MM) HandleFault(addr, gen uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.faultGen.Load() != gen {
		return true
	}
	if v := m.vmaAtLocked(addr); v != nil && v.directMapped() {
		if !m.directFaultLocked(v, addr) {
			return false
		}
		m.faultGen.Add(1)
		return true
	}
	if v := m.vmaAtLocked(addr); v != nil && v.Prot != 0 && !m.mapped.contains(addr) {
		// The first access here in this address space: the chunk gets physical space (if
		// no one touched it before) and is mapped. A lazy VMA goes on to fill the page.
		lo, hi := v.chunkAround(addr)
		if m.ensureMappedLocked(v, lo, hi) != nil {
			return false
		}
		if v.lazy == nil || v.lazy.mappedAt(v, addr) {
			m.faultGen.Add(1)
			return true
		}
	}
	if v := m.writableCOWLocked(addr); v != nil && (v.lazy == nil || v.lazy.mappedAt(v, addr)) {
		if m.breakCOWLocked(v, addr) != nil {
			return false
		}
		m.faultGen.Add(1)
		return true
	}
	v := m.vmaAtLocked(addr)
	if v == nil || v.lazy == nil || v.Prot == 0 {
		return false
	}
	l := v.lazy
	if i, _ := v.lazyPages(pageDown(addr), pageDown(addr)+PageSize); l.mapped.get(i) {
		return false // mapped with the VMA's protection: a real access violation
	}
	const span = faultAround * PageSize
	lo := max(v.Start, addr&^(span-1))
	hi := min(v.End, lo+span)
	if err := m.fillLocked(v, lo, hi); err != nil {
		return false
	}
	if err := m.ensureMappedLocked(v, lo, hi); err != nil {
		return false
	}
	first, end := v.lazyPages(lo, hi)
	for i := first; i < end; {
		if l.mapped.get(i) {
			i++
			continue
		}
		j := i
		for j < end && !l.mapped.get(j) {
			j++
		}
		start := lo + uint64(i-first)*PageSize
		if err := m.protectLocked(start, start+uint64(j-i)*PageSize, v.platformProt()); err != nil {
			return false
		}
		l.mapped.setRange(i, j)
		i = j
	}
	m.faultGen.Add(1)
	return true
}

// protectRunsLocked gives [lo, hi) of v the protection prot in the platform address space:
// all of it for an ordinary VMA, only the mapped pages of a lazy one (the others stay
// PROT_NONE until their first fault).
func (m *MM) protectRunsLocked(v *VMA, lo, hi uint64, prot platform.Prot) error {
	if v.lazy == nil {
		return m.protectLocked(lo, hi, prot)
	}
	first, end := v.lazyPages(lo, hi)
	for i := first; i < end; {
		if !v.lazy.mapped.get(i) {
			i++
			continue
		}
		j := i
		for j < end && v.lazy.mapped.get(j) {
			j++
		}
		a := lo + uint64(i-first)*PageSize
		if err := m.protectLocked(a, a+uint64(j-i)*PageSize, prot); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// discardLazyLocked implements MADV_DONTNEED on [lo, hi) of a lazy VMA: the pages go back
// to the file's contents, read again at the next access. Pages of the page cache are the
// file's contents already: they are only unmapped, to fault in again.
func (m *MM) discardLazyLocked(v *VMA, lo, hi uint64) error {
	i, j := v.lazyPages(lo, hi)
	if v.lazy.entry == nil {
		m.mf.punch(v.memOff+int64(lo-v.Start), int64(hi-lo))
		v.lazy.fill.mu.Lock()
		v.lazy.fill.bits.clearRange(i, j)
		v.lazy.fill.mu.Unlock()
	}
	v.lazy.mapped.clearRange(i, j)
	return m.protectLocked(lo, hi, 0)
}

// bitset is a fixed-size set of page indexes.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) get(i int) bool { return b[i/64]&(1<<(i%64)) != 0 }

func (b bitset) setRange(i, j int) {
	for ; i < j; i++ {
		b[i/64] |= 1 << (i % 64)
	}
}

func (b bitset) clearRange(i, j int) {
	for ; i < j; i++ {
		b[i/64] &^= 1 << (i % 64)
	}
}
