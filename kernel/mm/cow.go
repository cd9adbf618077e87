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
	m.mf.DecRef(v.memOff, size)
	v.memOff, v.cow = off, false
	m.dropLazy(v)
	return m.mapRangeLocked(v, lo, hi)
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
