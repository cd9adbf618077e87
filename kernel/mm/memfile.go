package mm

import (
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// PageSize is the x86-64 base page size.
const PageSize = 4096

// The memory file has two kinds of offsets.
//
// Virtual offsets are what the allocator hands out, VMAs, reference counts, the page cache
// and kernel files (tmpfs, shm) record, and futexes in shared memory are keyed by. Their
// space is vast (virtSize) and costs nothing: a PROT_NONE reservation of 52 GiB is a range
// of numbers.
//
// Physical offsets are offsets in the memfd itself. Physical space is given out in chunks of
// chunkSize at the first touch of a virtual chunk (an app fault, or the kernel reading or
// writing it) and taken back when every page of the virtual chunk is free again; the memfd
// grows with what is touched. The kernel maps the physical space whole (physMax, sparse)
// and platforms map physical ranges at app addresses.
const (
	chunkShift = 22
	chunkSize  = 1 << chunkShift // 4 MiB
	// leafShift sizes the chunk table's leaves (512 chunks, 2 GiB of virtual offsets).
	leafShift = 9
	// virtSize bounds virtual offsets: 256 PiB, thousands of 47-bit address spaces.
	virtSize = 1 << 58
	// physMax bounds physical offsets: the kernel's own mapping of the memfd (an eighth of
	// its address space; a bigger hole is not always free once the Go runtime has started).
	physMax = 1 << 44
)

// chunkLeaf maps 1<<leafShift consecutive virtual chunks to their physical offset plus one
// (zero: not touched yet).
type chunkLeaf [1 << leafShift]int64

// MemoryFile is the memfd holding every page of app memory in one sandbox, and the
// kernel's own shared mapping of it. Ranges of virtual offsets are handed out by a
// first-fit allocator; freed ranges have their pages punched out so they read back as zero
// and cost nothing.
//
// Locking: mu (allocator, owner counts) is taken before cmu (chunk table).
type MemoryFile struct {
	file *os.File
	data []byte // the kernel's MAP_SHARED mapping of the physical space

	mu sync.Mutex
	// free is the sorted list of free virtual ranges below next. protected by mu
	free []frange
	// next is the first never-allocated virtual offset. protected by mu
	next int64
	// used is the number of bytes currently allocated. protected by mu
	used int64
	// shared lists the ranges with more than one owner (refs.go). protected by mu
	shared []sref
	// shmem holds the ranges marked as shared memory, by offset (shmem.go). protected by mu
	shmem map[int64]int64

	cmu sync.RWMutex
	// chunks maps virtual chunk index>>leafShift to its leaf. protected by cmu
	chunks map[int64]*chunkLeaf
	// pfree holds physical chunks given back; pnext is the first never-used one and the
	// memfd's size. protected by cmu
	pfree []int64
	pnext int64

	// full records which pages are known to hold data (resident.go); noCachestat is set once
	// the host refused cachestat(2).
	full        fullPages
	noCachestat atomic.Bool

	// cache is the sandbox's page cache (pagecache.go).
	cache *PageCache
	// filePages counts the pages copied from files (FilePages).
	filePages atomic.Int64
	// directMaps says private file mappings may map host files directly (direct.go).
	directMaps bool

	// hostFiles are the host files holding app memory outside the memory file (host-backed
	// memfds, memory-backed files host peers passed), counted by Resident once per host
	// file. protected by hmu
	hmu       sync.Mutex
	hostFiles map[int]struct{}
	// idents are the identity ranges of host files host peers passed, by host file.
	// protected by hmu
	idents map[identKey]*hostIdent
}

// hostKey names a host file by its device and inode numbers, which no other file has while
// it is open.
type hostKey struct{ dev, ino uint64 }

// identKey names an identity range: its host file and its length.
type identKey struct {
	file   hostKey
	length int64
}

// hostIdent is the identity range shared by every received file that stands for one host
// file.
type hostIdent struct {
	off  int64
	refs int
}

type frange struct{ off, len int64 }

// NewMemoryFile creates the sandbox's memory file.
func NewMemoryFile() (*MemoryFile, error) {
	fd, err := unix.MemfdCreate("sbx-memory", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "sbx-memory")
	data, err := unix.Mmap(fd, 0, physMax, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_NORESERVE)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("mapping memory file: %w", err)
	}
	// Offset 0 is never handed out so that a zero offset can mean "none".
	m := &MemoryFile{file: f, data: data, next: PageSize, chunks: map[int64]*chunkLeaf{}}
	m.cache = newPageCache(m)
	return m, nil
}

// File returns the memfd, for platforms to map into address spaces.
func (m *MemoryFile) File() *os.File { return m.file }

// Allocate returns the virtual offset of a fresh, zero-filled range of length bytes (page
// multiple). It costs nothing until touched.
func (m *MemoryFile) Allocate(length int64) (int64, error) {
	if length <= 0 || length%PageSize != 0 {
		return 0, unix.EINVAL
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, r := range m.free {
		if r.len >= length {
			off := r.off
			if r.len == length {
				m.free = append(m.free[:i], m.free[i+1:]...)
			} else {
				m.free[i] = frange{r.off + length, r.len - length}
			}
			m.used += length
			return off, nil
		}
	}
	if length > virtSize-m.next {
		return 0, unix.ENOMEM
	}
	off := m.next
	m.next += length
	m.used += length
	return off, nil
}

// Free returns [off, off+length) to the allocator and drops its pages; physical chunks
// left with no allocated page go back to the physical free list.
func (m *MemoryFile) Free(off, length int64) {
	if length <= 0 {
		return
	}
	// Punching makes the range read as zero again and releases host memory.
	m.punch(off, length)
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.shmem, off)
	m.used -= length
	i := sort.Search(len(m.free), func(i int) bool { return m.free[i].off > off })
	m.free = append(m.free, frange{})
	copy(m.free[i+1:], m.free[i:])
	m.free[i] = frange{off, length}
	// Coalesce with neighbours.
	if i+1 < len(m.free) && m.free[i].off+m.free[i].len == m.free[i+1].off {
		m.free[i].len += m.free[i+1].len
		m.free = append(m.free[:i+1], m.free[i+2:]...)
	}
	if i > 0 && m.free[i-1].off+m.free[i-1].len == m.free[i].off {
		m.free[i-1].len += m.free[i].len
		m.free = append(m.free[:i], m.free[i+1:]...)
	}
	if last := len(m.free) - 1; last >= 0 && m.free[last].off+m.free[last].len == m.next {
		m.next = m.free[last].off
		m.free = m.free[:last]
	}
	m.releaseChunksLocked(off, off+length)
}

// releaseChunksLocked gives back the physical chunks of the virtual chunks overlapping
// [lo, hi) that no allocation uses any more. Preconditions: m.mu held.
func (m *MemoryFile) releaseChunksLocked(lo, hi int64) {
	m.cmu.Lock()
	defer m.cmu.Unlock()
	for c := lo >> chunkShift; c <= (hi-1)>>chunkShift; c++ {
		leaf := m.chunks[c>>leafShift]
		if leaf == nil {
			c |= 1<<leafShift - 1
			continue
		}
		slot := &leaf[c&(1<<leafShift-1)]
		if *slot == 0 || !m.isFreeLocked(c<<chunkShift, (c+1)<<chunkShift) {
			continue
		}
		poff := *slot - 1
		*slot = 0
		_ = unix.Fallocate(int(m.file.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, poff, chunkSize)
		m.full.forget(poff, chunkSize)
		m.pfree = append(m.pfree, poff)
	}
}

// isFreeLocked reports whether no allocation overlaps [lo, hi). Preconditions: m.mu held.
func (m *MemoryFile) isFreeLocked(lo, hi int64) bool {
	if lo >= m.next {
		return true
	}
	i := sort.Search(len(m.free), func(i int) bool { return m.free[i].off+m.free[i].len > lo })
	if i == len(m.free) || m.free[i].off > lo {
		return false
	}
	end := m.free[i].off + m.free[i].len
	return end >= hi || end == m.next
}

// phys returns the physical offset of virtual offset off, if its chunk was touched.
// Preconditions: m.cmu held (read).
func (m *MemoryFile) physLocked(off int64) (int64, bool) {
	c := off >> chunkShift
	leaf := m.chunks[c>>leafShift]
	if leaf == nil || leaf[c&(1<<leafShift-1)] == 0 {
		return 0, false
	}
	return leaf[c&(1<<leafShift-1)] - 1 + off&(chunkSize-1), true
}

// touch gives every virtual chunk of [off, off+n) physical space.
func (m *MemoryFile) touch(off, n int64) error {
	if n <= 0 {
		return nil
	}
	m.cmu.RLock()
	done := true
	for c := off >> chunkShift; c <= (off+n-1)>>chunkShift; c++ {
		if _, ok := m.physLocked(c << chunkShift); !ok {
			done = false
			break
		}
	}
	m.cmu.RUnlock()
	if done {
		return nil
	}
	m.cmu.Lock()
	defer m.cmu.Unlock()
	for c := off >> chunkShift; c <= (off+n-1)>>chunkShift; c++ {
		leaf := m.chunks[c>>leafShift]
		if leaf == nil {
			leaf = new(chunkLeaf)
			m.chunks[c>>leafShift] = leaf
		}
		slot := &leaf[c&(1<<leafShift-1)]
		if *slot != 0 {
			continue
		}
		var poff int64
		if k := len(m.pfree) - 1; k >= 0 {
			poff = m.pfree[k]
			m.pfree = m.pfree[:k]
		} else {
			if m.pnext+chunkSize > physMax {
				return unix.ENOMEM
			}
			if err := unix.Ftruncate(int(m.file.Fd()), m.pnext+chunkSize); err != nil {
				return unix.ENOMEM
			}
			poff = m.pnext
			m.pnext += chunkSize
		}
		*slot = poff + 1
	}
	return nil
}

// run is a piece of a virtual range: phys < 0 when its chunks were never touched.
type run struct{ off, phys, len int64 }

// runs splits [off, off+n) into pieces that are physically contiguous (or all untouched).
func (m *MemoryFile) runs(off, n int64) []run {
	var out []run
	end := off + n
	m.cmu.RLock()
	defer m.cmu.RUnlock()
	for pos := off; pos < end; {
		c := pos >> chunkShift
		lim := min(end, (c+1)<<chunkShift)
		phys := int64(-1)
		if leaf := m.chunks[c>>leafShift]; leaf == nil {
			lim = min(end, (c|(1<<leafShift-1)+1)<<chunkShift) // the whole leaf is untouched
		} else if p := leaf[c&(1<<leafShift-1)]; p != 0 {
			phys = p - 1 + pos&(chunkSize-1)
		}
		if k := len(out) - 1; k >= 0 && out[k].off+out[k].len == pos &&
			((phys < 0 && out[k].phys < 0) || (phys >= 0 && out[k].phys >= 0 && out[k].phys+out[k].len == phys)) {
			out[k].len += lim - pos
		} else {
			out = append(out, run{pos, phys, lim - pos})
		}
		pos = lim
	}
	return out
}

// Slices returns the kernel's views of [off, off+length), touching its chunks. The caller
// must own the range.
func (m *MemoryFile) Slices(off, length int64) ([][]byte, error) {
	if err := m.touch(off, length); err != nil {
		return nil, err
	}
	rs := m.runs(off, length)
	out := make([][]byte, 0, len(rs))
	for _, r := range rs {
		out = append(out, m.data[r.phys:r.phys+r.len:r.phys+r.len])
	}
	return out, nil
}

// ReadAt copies [off, off+len(p)) into p; untouched chunks read as zero (and stay untouched).
func (m *MemoryFile) ReadAt(p []byte, off int64) {
	for _, r := range m.runs(off, int64(len(p))) {
		dst := p[r.off-off : r.off-off+r.len]
		if r.phys < 0 {
			clear(dst)
		} else {
			copy(dst, m.data[r.phys:r.phys+r.len])
		}
	}
}

// WriteAt copies p to [off, off+len(p)).
func (m *MemoryFile) WriteAt(p []byte, off int64) error {
	bufs, err := m.Slices(off, int64(len(p)))
	for _, b := range bufs {
		p = p[copy(b, p):]
	}
	return err
}

// fillFrom reads [fileOff, fileOff+n) of src into [off, off+n); what lies past the end of
// the file stays zero.
func (m *MemoryFile) fillFrom(src Source, off, n, fileOff int64) error {
	m.filePages.Add(n / PageSize)
	bufs, err := m.Slices(off, n)
	if err != nil {
		return err
	}
	for _, b := range bufs {
		k, err := src.ReadAt(b, fileOff)
		if err == errEOF || (err == nil && k < len(b)) {
			return nil
		}
		if err != nil {
			return err
		}
		fileOff += int64(k)
	}
	return nil
}

// punch makes the whole pages of [off, off+n) holes again.
func (m *MemoryFile) punch(off, n int64) {
	for _, r := range m.runs(off, n) {
		if r.phys >= 0 {
			_ = unix.Fallocate(int(m.file.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, r.phys, r.len)
			m.full.forget(r.phys, r.len)
		}
	}
}

// Zero makes [off, off+length) of an owned range read as zero, giving whole pages back
// to the host.
func (m *MemoryFile) Zero(off, length int64) {
	end := off + length
	lo := (off + PageSize - 1) &^ (PageSize - 1)
	hi := end &^ (PageSize - 1)
	if lo >= hi {
		m.clearBytes(off, length)
		return
	}
	m.clearBytes(off, lo-off)
	m.clearBytes(hi, end-hi)
	m.punch(lo, hi-lo)
}

// clearBytes zeroes [off, off+n) where it was touched.
func (m *MemoryFile) clearBytes(off, n int64) {
	for _, r := range m.runs(off, n) {
		if r.phys >= 0 {
			clear(m.data[r.phys : r.phys+r.len])
		}
	}
}

// FilePages returns how many pages have been copied from files into the memory file (the
// `sbx run --debug` summary: what mapping files costs).
func (m *MemoryFile) FilePages() int64 { return m.filePages.Load() }

// Used returns the number of bytes currently allocated to app memory (virtual).
func (m *MemoryFile) Used() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.used
}

// Touched returns the physical space given out (the memfd's size less its free chunks).
func (m *MemoryFile) Touched() int64 {
	m.cmu.RLock()
	defer m.cmu.RUnlock()
	return m.pnext - int64(len(m.pfree))*chunkSize
}

// AddHostFile counts host file fd (a host-backed memfd, a memory-backed file a host peer
// passed) as app memory in Resident until RemoveHostFile, which comes before fd is closed.
func (m *MemoryFile) AddHostFile(fd int) {
	m.hmu.Lock()
	if m.hostFiles == nil {
		m.hostFiles = map[int]struct{}{}
	}
	m.hostFiles[fd] = struct{}{}
	m.hmu.Unlock()
}

// RemoveHostFile stops counting fd.
func (m *MemoryFile) RemoveHostFile(fd int) {
	m.hmu.Lock()
	delete(m.hostFiles, fd)
	m.hmu.Unlock()
}

// HostFileIdent returns an identity range of length bytes for the host file fd refers to
// (a file a host peer passed): virtual memory-file offsets that name its pages in shared
// mappings, so that futexes there are keyed by them. Every FD of one host file gets the
// same range (two receptions of a file, a reopening through /proc/PID/fd), allocated at the
// first call and freed when the last caller calls release. Lock order: hmu, then mu.
func (m *MemoryFile) HostFileIdent(fd int, length int64) (off int64, release func(), err error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, nil, err
	}
	k := identKey{hostKey{st.Dev, st.Ino}, length}
	m.hmu.Lock()
	defer m.hmu.Unlock()
	id := m.idents[k]
	if id == nil {
		off, err := m.Allocate(length)
		if err != nil {
			return 0, nil, err
		}
		if m.idents == nil {
			m.idents = map[identKey]*hostIdent{}
		}
		id = &hostIdent{off: off}
		m.idents[k] = id
	}
	id.refs++
	return id.off, func() {
		m.hmu.Lock()
		defer m.hmu.Unlock()
		if id.refs--; id.refs == 0 {
			delete(m.idents, k)
			m.Free(id.off, length)
		}
	}, nil
}

// Resident returns the host memory the sandbox's app memory really uses, in bytes
// (allocated blocks of the memory file and of the host files AddHostFile counts, each host
// file once however many FDs of it are counted).
func (m *MemoryFile) Resident() int64 {
	var st unix.Stat_t
	var n int64
	if unix.Fstat(int(m.file.Fd()), &st) == nil {
		n = st.Blocks * 512
	}
	m.hmu.Lock()
	seen := make(map[hostKey]bool, len(m.hostFiles))
	for fd := range m.hostFiles {
		if unix.Fstat(fd, &st) == nil && !seen[hostKey{st.Dev, st.Ino}] {
			seen[hostKey{st.Dev, st.Ino}] = true
			n += st.Blocks * 512
		}
	}
	m.hmu.Unlock()
	return n
}

// Close unmaps and closes the file.
func (m *MemoryFile) Close() error {
	unix.Munmap(m.data)
	return m.file.Close()
}
