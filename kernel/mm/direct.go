package mm

import (
	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// Direct file mappings.
//
// A private (or read-only shared) mapping of a regular host file the gofer donated a
// read-only FD for is not copied into the memory file at all: the platform maps the host
// file itself (AddressSpace.MapHostFile, MAP_SHARED of the read-only FD, never writable),
// so the host's page cache serves program text and read-only data to every process, as
// Linux's does. A page is copied into the memory file only when it is first written (an
// app write fault, or the kernel storing into it for the app): the piece around it becomes
// a copy (copied) that the platform maps from the memory file with the VMA's protection —
// Linux's copy-on-write of a private file page. MADV_DONTNEED on a copy drops it and maps
// the file again. The file's own semantics follow: a page past the end of the file (the
// file was truncated under the mapping) raises SIGBUS in the app, since the host's
// mapping does; the kernel's own reads of such pages fail with EFAULT.
//
// A direct VMA's memOff is a private range of the memory file that costs nothing until
// pages are copied into it (copy-on-write fills it in place), so a copied piece is an
// ordinary private range.

// DirectSource is a Source the platform may map straight from a host file.
type DirectSource interface {
	Source
	// DirectFD returns a host FD of the file, open read-only, that stays valid while the
	// mapping's Holder holds the file; false when the file cannot be mapped directly (not a
	// regular host file, open for writing, or pages kept in the memory file).
	DirectFD() (int, bool)
}

// SetDirectMaps says whether the platform maps host files for private file mappings
// (ptrace, trap) or not (kvm: each host file would take a memory slot), in which case
// such mappings are copies (lazy.go, pagecache.go).
func (m *MemoryFile) SetDirectMaps(on bool) { m.directMaps = on }

// directFile is the host file of a direct mapping, shared by the VMA pieces split from it.
// Protected by MM.mu.
type directFile struct {
	fd   int
	hold Holder
	refs int
}

func (d *directFile) inc() { d.refs++ }

func (d *directFile) dec() {
	d.refs--
	if d.refs == 0 {
		d.hold.DecRef()
	}
}

// directMapped reports whether v maps its host file (a direct piece not copied).
func (v *VMA) directMapped() bool { return v.direct != nil && !v.copied }

// mapDirect makes v, a new private mapping of o.Source, a direct one when it can.
func (m *MM) mapDirect(v *VMA, o MapOpts, length uint64) (bool, error) {
	ds, ok := o.Source.(DirectSource)
	if !ok || o.Hold == nil || !m.mf.directMaps {
		return false, nil
	}
	fd, ok := ds.DirectFD()
	if !ok {
		return false, nil
	}
	off, err := m.mf.Allocate(int64(length))
	if err != nil {
		return false, err
	}
	o.Hold.IncRef()
	v.memOff = off
	v.direct = &directFile{fd: fd, hold: o.Hold, refs: 1}
	return true, nil
}

// directEOF returns the app address where v's file ends (page rounded up, as the host's
// mapping makes the rest of the last page readable zeros), clipped to v.
func (v *VMA) directEOF() uint64 {
	var st unix.Stat_t
	if unix.Fstat(v.direct.fd, &st) != nil {
		return v.Start
	}
	end := int64(pageUp(uint64(st.Size)))
	if end <= v.FileOff {
		return v.Start
	}
	if uint64(end-v.FileOff) >= v.End-v.Start {
		return v.End
	}
	return v.Start + uint64(end-v.FileOff)
}

// copyAround is how many pages one copy-on-write fault of a direct mapping copies
// (aligned in the file, clipped to the piece and to the end of the file): a loader's relocations write a
// library's few data pages one after another.
const copyAround = 16

// copyDirectLocked makes [lo, hi) of direct piece v (page aligned, inside v) a private
// copy of the file's pages, mapped with the VMA's protection. Pages past the end of the
// file are not copied: EFAULT when lo is one. Preconditions: m.mu held.
func (m *MM) copyDirectLocked(v *VMA, lo, hi uint64) error {
	eof := v.directEOF()
	if lo >= eof {
		return unix.EFAULT
	}
	hi = min(hi, eof)
	m.splitLocked(lo)
	m.splitLocked(hi)
	v = m.vmaAtLocked(lo)
	n := int64(hi - lo)
	if err := m.mf.touch(v.memOff, n); err != nil {
		return err
	}
	if err := m.mf.fillFrom(v.Source, v.memOff, n, v.FileOff); err != nil {
		m.mf.punch(v.memOff, n)
		return err
	}
	v.copied = true
	m.mapped.remove(lo, hi)
	return m.mapRangeLocked(v, lo, hi)
}

// directFaultLocked handles a fault at addr in direct piece v: its first access maps the
// file; a write to a writable mapping copies the pages around it. It reports whether the
// app should run again. Preconditions: m.mu held.
func (m *MM) directFaultLocked(v *VMA, addr uint64) bool {
	if v.Prot == 0 {
		return false
	}
	if !m.mapped.contains(addr) {
		return m.ensureMappedLocked(v, v.Start, v.End) == nil
	}
	if v.Prot&platform.ProtWrite == 0 {
		return false // a real access violation, or SIGBUS past the end of the file
	}
	// Aligned in the file, so which pages go together does not depend on where the
	// mapping was placed.
	const span = copyAround * PageSize
	fileOff := v.FileOff + int64(pageDown(addr)-v.Start)
	first := fileOff &^ (span - 1)
	lo, hi := v.Start, v.End
	if first > v.FileOff {
		lo = v.Start + uint64(first-v.FileOff)
	}
	if e := first + span - v.FileOff; e < int64(v.End-v.Start) {
		hi = v.Start + uint64(e)
	}
	if pageDown(addr) >= v.directEOF() {
		return false
	}
	return m.copyDirectLocked(v, lo, hi) == nil
}

// directReadMax is the most the kernel reads of a direct mapping into a buffer of its own
// (Ranges); beyond, it copies the pages into the memory file as a write would.
const directReadMax = 1 << 20

// directBytes reads [a, hi) of direct piece v for the kernel (a fresh buffer): the bytes
// past the end of the file within its last page are zero; those beyond fail with EFAULT.
// The file's size is asked for (fstat) only when the read comes back short: a path or a
// buffer an app passes from its program's data lies within the file, and a syscall's copy
// then costs one pread.
func (v *VMA) directBytes(a, hi uint64) ([]byte, error) {
	b := make([]byte, hi-a)
	off := v.FileOff + int64(a-v.Start)
	done := 0
	for done < len(b) {
		k, err := unix.Pread(v.direct.fd, b[done:], off+int64(done))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, unix.EFAULT
		}
		if k == 0 {
			break
		}
		done += k
	}
	if done == len(b) {
		return b, nil
	}
	// The file ends before hi: the rest of its last page reads as zero, beyond is EFAULT.
	eof := v.directEOF()
	if a >= eof {
		return nil, unix.EFAULT
	}
	if end := min(hi, eof); end < hi {
		b = b[:end-a]
		clear(b[min(done, len(b)):])
		return b, unix.EFAULT
	}
	clear(b[done:])
	return b, nil
}

// discardDirectLocked implements MADV_DONTNEED on copied piece v: the copy goes, and the
// file is mapped again. Preconditions: m.mu held.
func (m *MM) discardDirectLocked(v *VMA) error {
	n := int64(v.End - v.Start)
	if v.cow {
		// Others share the copy since a fork: this address space takes a fresh range.
		off, err := m.mf.Allocate(n)
		if err != nil {
			return err
		}
		m.mf.DecRef(v.memOff, n)
		v.memOff, v.cow = off, false
	} else {
		m.mf.punch(v.memOff, n)
	}
	v.copied = false
	if err := m.unmapRangeLocked(v.Start, v.End); err != nil {
		return err
	}
	return m.mapRangeLocked(v, v.Start, v.End)
}

// directRSS returns the bytes of direct piece v that hold file data (RssFile): the pages
// up to the end of the file. The host's page cache holds them; which ones the app touched
// the kernel cannot tell, so it counts them all, as Linux would once the app read them.
func (v *VMA) directRSS() uint64 { return v.directEOF() - v.Start }

// PastEOF reports whether a fault at addr the kernel could not resolve is a write to a
// writable direct mapping past the end of its file: SIGBUS on Linux, where the host,
// which maps the file without write, raised SIGSEGV.
func (m *MM) PastEOF(addr uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.vmaAtLocked(addr)
	return v != nil && v.directMapped() && v.Prot&platform.ProtWrite != 0 && pageDown(addr) >= v.directEOF()
}
