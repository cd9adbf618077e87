package mm

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Counting resident pages.
//
// App stores fill pages of the memory file without the kernel hearing of it (the file is
// mapped into the stubs, and the platform maps a touched VMA part whole), so no counter the
// kernel could keep sees an anonymous page being populated: only the host knows which pages
// of the memfd hold data. Before, /proc/PID/status asked it with SEEK_DATA/SEEK_HOLE, two
// syscalls per extent, each walking the file's pages from its start: a fragmented heap cost
// ~100 ms a read, and Chromium reads status, statm, stat and smaps_rollup hundreds of times.
//
// Now the memory file remembers which pages are known to hold data (a bit per page, for
// the chunks where a measurement found some). Data leaves a page only through the kernel
// (punch, chunk release), which clears the page's bit then, so a range found full stays full
// without being looked at: a VMA whose touched part is dense costs bit tests, no syscall.
// A range not known full is measured with one cachestat(2) per chunk (Linux ≥ 6.5; the host
// walks only the populated page slots), falling back to SEEK_DATA/SEEK_HOLE where the host
// lacks it. So reading an address space's resident set costs O(VMAs) plus one syscall per
// chunk-part that is partly filled, never a syscall per extent.
//
// Swapped-out pages are not resident (Linux shows them as VmSwap), and a page the host
// swapped out after it was found full would still count here: sbx's memory file is not
// expected to be swapped, and RSS is a statistic (Linux's own per-CPU counters lag by up to
// 64 pages per CPU).

// fullLeafChunks is how many chunks one leaf of the full-page map covers.
const fullLeafChunks = 1 << 12

// chunkPages is one bit per page of a chunk: set when the page is known to hold data.
type chunkPages [chunkSize / PageSize / 64]atomic.Uint64

// fullPages records pages of the memory file known to hold data. A page gets its bit when
// a measurement found a whole range around it full, and loses it when the kernel punches
// it; app stores only ever add data, so a set bit stays true until then.
type fullPages struct {
	// leaves[i][j] covers physical chunk i*fullLeafChunks+j; allocated under mu, read
	// without it.
	leaves [physMax >> chunkShift / fullLeafChunks]atomic.Pointer[[fullLeafChunks]atomic.Pointer[chunkPages]]

	mu sync.Mutex
	// gen counts forget calls, so that a measurement that raced with a punch marks
	// nothing. protected by mu
	gen uint64
}

// chunk returns physical chunk c's bits, nil if none was ever set.
func (f *fullPages) chunk(c int64) *chunkPages {
	l := f.leaves[c/fullLeafChunks].Load()
	if l == nil {
		return nil
	}
	return l[c%fullLeafChunks].Load()
}

// pageMasks calls fn for each word of a chunk's bits that [first, end) (pages of the
// chunk) covers, with the word's index and the bits of the range in it.
func pageMasks(first, end int64, fn func(w int64, mask uint64) bool) bool {
	for p := first; p < end; {
		w := p / 64
		hi := min(end, (w+1)*64)
		var mask uint64
		if hi-p == 64 {
			mask = ^uint64(0)
		} else {
			mask = (uint64(1)<<(hi-p) - 1) << (p % 64)
		}
		if !fn(w, mask) {
			return false
		}
		p = hi
	}
	return true
}

// isFull reports whether every page of [phys, phys+n), inside one chunk, is known full.
func (f *fullPages) isFull(phys, n int64) bool {
	cp := f.chunk(phys >> chunkShift)
	if cp == nil {
		return false
	}
	first := phys & (chunkSize - 1) / PageSize
	return pageMasks(first, first+n/PageSize, func(w int64, mask uint64) bool { return cp[w].Load()&mask == mask })
}

// markFull records the pages of [phys, phys+n), inside one chunk, as full unless a forget
// came after generation g.
func (f *fullPages) markFull(phys, n int64, g uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gen != g {
		return
	}
	c := phys >> chunkShift
	l := f.leaves[c/fullLeafChunks].Load()
	if l == nil {
		l = new([fullLeafChunks]atomic.Pointer[chunkPages])
		f.leaves[c/fullLeafChunks].Store(l)
	}
	cp := l[c%fullLeafChunks].Load()
	if cp == nil {
		cp = new(chunkPages)
		l[c%fullLeafChunks].Store(cp)
	}
	first := phys & (chunkSize - 1) / PageSize
	pageMasks(first, first+n/PageSize, func(w int64, mask uint64) bool { cp[w].Or(mask); return true })
}

func (f *fullPages) generation() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gen
}

// forget clears the pages of physical range [phys, phys+n) once they were punched.
func (f *fullPages) forget(phys, n int64) {
	if n <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gen++
	for pos, end := phys&^(PageSize-1), phys+n; pos < end; {
		c := pos >> chunkShift
		lim := min(end, (c+1)<<chunkShift)
		if cp := f.chunk(c); cp != nil {
			first := pos & (chunkSize - 1) / PageSize
			last := (lim - c<<chunkShift + PageSize - 1) / PageSize
			pageMasks(first, last, func(w int64, mask uint64) bool { cp[w].And(^mask); return true })
		}
		pos = lim
	}
}

// DataBytes counts the bytes of virtual range [off, off+n) that hold data (a tmpfs file's
// blocks).
func (mf *MemoryFile) DataBytes(off, n int64) int64 {
	if n <= 0 {
		return 0
	}
	return mf.dataBytes(off, n)
}

// dataBytes counts the bytes of [off, off+n) that hold data.
func (mf *MemoryFile) dataBytes(off, n int64) int64 {
	var total int64
	for _, r := range mf.runs(off, n) {
		if r.phys < 0 {
			continue
		}
		for pos, end := r.phys, r.phys+r.len; pos < end; {
			lim := min(end, (pos>>chunkShift+1)<<chunkShift)
			if mf.full.isFull(pos, lim-pos) {
				total += lim - pos
			} else {
				g := mf.full.generation()
				k := mf.residentBytes(pos, lim-pos)
				if k == lim-pos {
					mf.full.markFull(pos, lim-pos, g)
				}
				total += k
			}
			pos = lim
		}
	}
	return total
}

// residentBytes counts the pages of physical range [phys, phys+n) that hold data.
func (mf *MemoryFile) residentBytes(phys, n int64) int64 {
	fd := int(mf.file.Fd())
	if !mf.noCachestat.Load() {
		pages, err := cachedPages(fd, phys, n)
		if err == nil {
			return min(n, pages*PageSize)
		}
		mf.noCachestat.Store(true) // an old host kernel, or a filter: not asked again
	}
	return seekDataBytes(fd, phys, n)
}

// seekDataBytes counts the bytes of [off, off+n) of host file fd that hold data, with
// SEEK_DATA and SEEK_HOLE.
func seekDataBytes(fd int, off, n int64) int64 {
	var total int64
	end := off + n
	for pos := off; pos < end; {
		data, err := unix.Seek(fd, pos, unix.SEEK_DATA)
		if err != nil || data >= end {
			break
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil || hole > end {
			hole = end
		}
		total += hole - data
		pos = hole
	}
	return total
}
