package mm

import "github.com/sbx-dev/sbx/platform"

// Copy-on-write.
//
// fork shares every private range of the parent with the child (MemoryFile.IncRef) and
// marks both VMAs cow: the platform maps them without write permission. The first write
// to such a VMA faults (or, for a write by the kernel, is caught in Ranges) and breaks the
// sharing for the cowChunk-aligned piece around it: the piece becomes a VMA of its own,
// copied to a fresh range when another address space still shares it, or simply made
// writable when the others are gone (a child that exited or exec'd). A VMA whose whole
// range has become exclusive is made writable at once.
//
// A chunk bigger than a page trades copying a little more for far fewer faults and VMAs
// (at most one per chunk); lazily filled file mappings are still copied at fork (lazy.go).

// cowChunk is how much one copy-on-write break copies (aligned, clipped to the VMA).
const cowChunk = 2 << 20

// breakCOWLocked makes the piece of v around addr private and writable as its protection
// says. Preconditions: m.mu held, v.cow.
func (m *MM) breakCOWLocked(v *VMA, addr uint64) error {
	if v.lazy == nil && m.mf.Exclusive(v.memOff, int64(v.End-v.Start)) {
		v.cow = false
		if err := m.protectLocked(v.Start, v.End, v.Prot); err != nil {
			return err
		}
		m.mergeLocked()
		return nil
	}
	lo := max(v.Start, addr&^(cowChunk-1))
	hi := min(v.End, (addr&^(cowChunk-1))+cowChunk)
	m.splitLocked(lo)
	m.splitLocked(hi)
	v = m.vmaAtLocked(addr)
	size := int64(hi - lo)
	if v.lazy != nil {
		// Page-cache pages: the chunk is filled, then becomes an ordinary private piece.
		if err := m.fillLocked(v, lo, hi); err != nil {
			return err
		}
	}
	if m.mf.Exclusive(v.memOff, size) {
		v.cow = false
		m.dropLazy(v)
		if err := m.ensureMappedLocked(v, lo, hi); err != nil {
			return err
		}
		return m.protectLocked(lo, hi, v.Prot)
	}
	off, err := m.mf.Allocate(size)
	if err != nil {
		return err
	}
	if err := m.mf.touch(off, size); err != nil {
		m.mf.Free(off, size)
		return err
	}
	if err := m.mf.CopyData(off, v.memOff, size); err != nil {
		m.mf.Free(off, size)
		return err
	}
	prev := v.memOff
	v.memOff, v.cow = off, false
	m.dropLazy(v)
	err = m.mapRangeLocked(v, lo, hi)
	m.retireLocked(prev, size)
	return err
}

// retireLocked drops this address space's reference to [off, off+size) of the memory file,
// which it has just replaced under its threads (a copy-on-write break, a patched page).
// Other threads may still run on the old pages until their platform stubs catch up: freed
// at once (the other owner of a copy-on-write chunk may already be gone) the pages would
// read as zeros and be reused under them, so the release waits for the platform to say
// every thread moved on. Preconditions: m.mu held.
func (m *MM) retireLocked(off, size int64) {
	if r, ok := m.as.(platform.Retirer); ok {
		r.Retire(func() { m.mf.DecRef(off, size) })
	} else {
		m.mf.DecRef(off, size)
	}
}

// dropLazy makes v, whose pages are all filled, an ordinary private VMA.
func (m *MM) dropLazy(v *VMA) {
	if v.lazy != nil {
		v.lazy.dec()
		v.lazy = nil
	}
}

// writableCOWLocked reports whether a fault at addr is a write to a copy-on-write page
// the app may write (any fault there is: the platform maps it readable and executable as
// the VMA says). Preconditions: m.mu held.
func (m *MM) writableCOWLocked(addr uint64) *VMA {
	v := m.vmaAtLocked(addr)
	if v == nil || !v.cow || v.Prot&platform.ProtWrite == 0 {
		return nil
	}
	return v
}

// PatchCode replaces the bytes old at addr (inside one page of a private, executable,
// non-writable mapping: program text) by the bytes code returns, the way a debugger's
// breakpoint is written (FOLL_FORCE): the page becomes a fresh private copy holding the
// patch, mapped in place of the old one, so the file, the page cache and other address
// spaces keep their bytes. Other threads of this address space see the old page or the
// new one whole at each instruction (the platform swaps the mapping). code is called only
// once the bytes are found, under the MM's lock; it may decline. It reports whether the
// patch was made and, if not, whether it may be made later (code declined, or a page
// could not be allocated) rather than never (other bytes, not program text).
func (m *MM) PatchCode(addr uint64, old []byte, code func() ([]byte, bool)) (patched, later bool) {
	n := uint64(len(old))
	page := pageDown(addr)
	if n == 0 || addr+n > page+PageSize || addr+n < addr {
		return false, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.vmaAtLocked(addr)
	if v == nil || m.as == nil || v.Shared || v.host != nil || v.release != nil || v.Source == nil ||
		v.Prot&platform.ProtExec == 0 || v.Prot&platform.ProtWrite != 0 || addr+n > v.End || !m.mapped.contains(addr) {
		return false, false
	}
	if v.lazy != nil {
		if !v.lazy.mappedAt(v, addr) {
			return false, false
		}
		if m.fillLocked(v, page, page+PageSize) != nil {
			return false, true
		}
	}
	cur := make([]byte, n)
	if v.directMapped() {
		b, err := v.directBytes(addr, addr+n)
		if err != nil {
			return false, false
		}
		copy(cur, b)
	} else {
		m.mf.ReadAt(cur, v.memOff+int64(addr-v.Start))
	}
	if string(cur) != string(old) {
		return false, false
	}
	b, ok := code()
	if !ok || len(b) != len(old) {
		return false, true
	}
	off, err := m.mf.Allocate(PageSize)
	if err != nil {
		return false, true
	}
	if m.mf.touch(off, PageSize) != nil {
		m.mf.Free(off, PageSize)
		return false, true
	}
	m.splitLocked(page)
	m.splitLocked(page + PageSize)
	v = m.vmaAtLocked(page)
	fill := func() error { return m.mf.CopyData(off, v.memOff, PageSize) }
	if v.directMapped() {
		fill = func() error { return m.mf.fillFrom(v.Source, off, PageSize, v.FileOff) }
	}
	if fill() != nil || m.mf.WriteAt(b, off+int64(addr-page)) != nil {
		m.mf.Free(off, PageSize)
		m.mergeLocked()
		return false, true
	}
	prev := v.memOff
	v.memOff, v.cow = off, false
	v.copied = v.direct != nil
	m.dropLazy(v)
	err = m.mapRangeLocked(v, page, page+PageSize)
	m.retireLocked(prev, PageSize) // other threads may be running the old page right now
	if err != nil {
		return false, false
	}
	m.faultGen.Add(1)
	return true, false
}
