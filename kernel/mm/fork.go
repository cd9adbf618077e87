package mm

import (
	"sync/atomic"

	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// users counts the thread groups sharing an MM (vfork children share their parent's).
type users struct{ n atomic.Int32 }

// IncUsers records one more thread group using m.
func (m *MM) IncUsers() { m.users.n.Add(1) }

// DecUsers drops a user; the last one releases the address space.
func (m *MM) DecUsers() {
	if m.users.n.Add(-1) <= 0 {
		m.Release()
	}
}

// Fork returns a copy of m for a child process (fork(2)) in the new platform address space
// as: shared mappings stay shared, private memory is shared copy-on-write (cow.go), lazily
// filled file mappings are copied (only the pages that hold data), MADV_DONTFORK mappings
// are left out and MADV_WIPEONFORK ones start empty.
func (m *MM) Fork(as platform.AddressSpace) (*MM, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := &MM{mf: m.mf, as: as, maxAddr: m.maxAddr, mmapBase: m.mmapBase, brkStart: m.brkStart, brkEnd: m.brkEnd, Layout: m.Layout,
		limitAS: m.limitAS, limitData: m.limitData, vdso: m.vdso}
	c.users.n.Store(1)
	c.owner.Store(m.owner.Load()) // until the child's own SetOwner
	c.Layout.Auxv = append([]uint64(nil), m.Layout.Auxv...)
	// The child's memory holds the parent's patched syscall sites (PatchCode).
	if p, ok := as.(platform.SyscallPatcher); ok && m.as != nil {
		p.InheritPatches(m.as)
	}
	for _, v := range m.vmas {
		if v.dontFork {
			continue
		}
		w := *v
		w.locked, w.lockOnFault = false, false // memory locks are not inherited
		size := int64(v.End - v.Start)
		switch {
		case v.directMapped():
			// The file's pages: the child maps the file too, with a range of its own
			// for the pages it will copy.
			off, err := m.mf.Allocate(size)
			if err != nil {
				c.releaseLocked()
				return nil, err
			}
			w.memOff = off
		case v.release != nil:
			v.release.inc()
		case v.wipeOnFork:
			off, err := m.mf.Allocate(size)
			if err != nil {
				c.releaseLocked()
				return nil, err
			}
			w.memOff, w.cow = off, false
		case v.lazy != nil && v.lazy.entry != nil:
			m.mf.IncRef(v.memOff, size) // page-cache pages: shared, copy-on-write already
		case v.lazy != nil:
			off, err := m.mf.Allocate(size)
			if err != nil {
				c.releaseLocked()
				return nil, err
			}
			if err := m.mf.CopyData(off, v.memOff, size); err != nil {
				m.mf.Free(off, size)
				c.releaseLocked()
				return nil, err
			}
			w.memOff = off
		default:
			m.mf.IncRef(v.memOff, size)
			if !v.cow && v.Prot&platform.ProtWrite != 0 {
				if err := m.protectLocked(v.Start, v.End, v.Prot&^platform.ProtWrite); err != nil {
					m.mf.DecRef(v.memOff, size)
					c.releaseLocked()
					return nil, err
				}
			}
			v.cow, w.cow = true, true
		}
		if v.lazy != nil {
			// The child fills what the parent had not, and faults in its own mappings.
			l := v.lazy
			if l.entry != nil {
				l.entry.use()
				w.lazy = l.entry.newFill()
			} else {
				i, j := v.lazyPages(v.Start, v.End)
				w.lazy = newLazyFill(l.src, l.hold, w.memOff, w.FileOff, j-i)
				l.fill.mu.Lock()
				for k := i; k < j; k++ {
					if l.fill.bits.get(k) {
						w.lazy.fill.bits.setRange(k-i, k-i+1)
					}
				}
				l.fill.mu.Unlock()
			}
		}
		if v.direct != nil {
			v.direct.inc()
		}
		m.openedLocked(&w) // (by the parent, as Linux's fork)
		c.vmas = append(c.vmas, &w)
		if err := c.mapRange(&w, w.Start, w.End, false); err != nil {
			c.releaseLocked()
			return nil, err
		}
	}
	return c, nil
}

func (m *MM) releaseLocked() {
	for _, v := range m.vmas {
		m.dropLocked(v)
	}
	m.vmas = nil
	if m.as != nil {
		m.as.Release()
		m.as = nil
	}
}

// CopyData copies [src, src+n) to [dst, dst+n) of the memory file, skipping holes (and
// untouched chunks), which the destination keeps as they are.
func (mf *MemoryFile) CopyData(dst, src, n int64) error {
	return mf.eachData(src, n, func(phys, off, length int64) error {
		return mf.WriteAt(mf.data[phys:phys+length], dst+(off-src))
	})
}

// eachData calls fn for each extent of [off, off+n) that holds data (not a hole, not an
// untouched chunk): its physical offset in the memory file, its offset in the file's
// virtual space, and its length. It stops at fn's first error.
func (mf *MemoryFile) eachData(off, n int64, fn func(phys, off, length int64) error) error {
	fd := int(mf.file.Fd())
	for _, r := range mf.runs(off, n) {
		if r.phys < 0 {
			continue
		}
		end := r.phys + r.len
		for pos := r.phys; pos < end; {
			data, err := unix.Seek(fd, pos, unix.SEEK_DATA)
			if err != nil || data >= end {
				break
			}
			hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
			if err != nil || hole > end {
				hole = end
			}
			if err := fn(data, r.off+(data-r.phys), hole-data); err != nil {
				return err
			}
			pos = hole
		}
	}
	return nil
}

// nullAS stands in for a platform address space while an MM is built before it may have
// one: exec loads the new image before its point of no return, while the old image must
// stay intact, and only then gives it the old image's platform address space (Adopt).
type nullAS struct{}

func (nullAS) MapFile(uint64, uint64, int64, platform.Prot) error          { return nil }
func (nullAS) MapHostFile(uint64, uint64, int, int64, platform.Prot) error { return nil }
func (nullAS) Unmap(uint64, uint64) error                                  { return nil }
func (nullAS) Protect(uint64, uint64, platform.Prot) error                 { return nil }
func (nullAS) Release()                                                    {}

// NewDetached returns an empty address space with no platform address space yet (Adopt
// gives it one).
func NewDetached(mf *MemoryFile, maxAddr uint64) *MM { return New(mf, nullAS{}, maxAddr) }

// TakeAddressSpace takes m's platform address space for another MM to Adopt, when no other
// process shares m (a vfork parent); m is left with none. It returns nil when m is shared.
func (m *MM) TakeAddressSpace() platform.AddressSpace {
	if m.users.n.Load() != 1 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	as := m.as
	if _, ok := as.(nullAS); ok || as == nil {
		return nil
	}
	m.as = nullAS{}
	return as
}

// Adopt empties as and makes it m's platform address space, mirroring m's VMAs into it
// (exec keeps the process's stubs instead of starting new ones).
func (m *MM) Adopt(as platform.AddressSpace) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := as.Unmap(0, m.maxAddr); err != nil {
		return err
	}
	m.as = as
	m.mapped = nil
	for _, v := range m.vmas {
		if err := m.mapRange(v, v.Start, v.End, false); err != nil {
			return err
		}
	}
	return nil
}

// Live reports whether some process still uses the address space.
func (m *MM) Live() bool { return m.users.n.Load() > 0 }
