package mm

import (
	"sync"
)

// The page cache.
//
// Private mappings of the same file contents (a program's text, every process's libc)
// share one copy of its pages per sandbox: a cache entry is a memory-file range holding the
// file's pages, filled on demand (the first fault or kernel read of a page, in whichever
// address space) and then mapped by every private mapping of the file directly, copy-on-
// write (cow.go): the entry owns the range, each mapping holds a reference on the part it
// maps, and the first write to a chunk copies it into the mapping's own memory. A new
// mapping gets the pages already filled mapped at once, so an exec of a program run before
// takes no faults for them and reads nothing.
//
// Entries are keyed by the file's identity and version (device, inode, size, modification
// and change times, as the gofer reports them): a changed file is a new entry, and a mapping
// made before the change keeps the contents it had — Linux's MAP_PRIVATE would show the new
// contents in pages not yet written, which only matters for files rewritten in place while
// mapped (programs replace files instead, which changes the inode). Entries nobody maps are
// dropped when the sandbox needs the memory (DropUnused, called by the memory limit first).

// CacheKey names a version of a file's contents.
type CacheKey struct {
	Dev, Ino             uint64
	Size, Mtime, Ctime   int64
	MtimeNsec, CtimeNsec int64
}

// Cacheable is a Source whose pages the page cache may share between mappings.
type Cacheable interface {
	Source
	// CacheIdentity returns the contents' key and a reader of them that stays valid after
	// the app closes the file, with its release.
	CacheIdentity() (CacheKey, Source, func(), error)
}

// PageCache is the sandbox's page cache.
type PageCache struct {
	mf *MemoryFile

	mu sync.Mutex
	// entries maps contents to their pages. protected by mu
	entries map[CacheKey]*cacheEntry
}

// cacheEntry is one file's cached pages: file offset x is at memory-file offset base+x.
type cacheEntry struct {
	c            *PageCache
	key          CacheKey
	base, length int64
	src          Source
	release      func()
	fill         *fillState
	// users counts the mappings (lazyFills) using the entry. protected by c.mu
	users int
}

func newPageCache(mf *MemoryFile) *PageCache {
	return &PageCache{mf: mf, entries: map[CacheKey]*cacheEntry{}}
}

// maxEntries bounds the entries (each holds a host FD of its file): beyond it, the ones no
// mapping uses are dropped.
const maxEntries = 512

// entryFor returns the entry of src's contents, in use by the caller (unuse when done).
func (c *PageCache) entryFor(src Cacheable) (*cacheEntry, error) {
	key, reader, release, err := src.CacheIdentity()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.entries) >= maxEntries {
		c.mu.Unlock()
		c.DropUnused()
		c.mu.Lock()
	}
	defer c.mu.Unlock()
	if e := c.entries[key]; e != nil {
		release()
		e.users++
		return e, nil
	}
	length := int64(pageUp(uint64(key.Size)))
	if length == 0 {
		release()
		return nil, errEOF
	}
	base, err := c.mf.Allocate(length)
	if err != nil {
		release()
		return nil, err
	}
	e := &cacheEntry{c: c, key: key, base: base, length: length, src: reader, release: release,
		fill: &fillState{bits: newBitset(int(length / PageSize))}, users: 1}
	c.entries[key] = e
	return e, nil
}

// unuse ends one mapping's use of e.
func (e *cacheEntry) unuse() {
	e.c.mu.Lock()
	e.users--
	e.c.mu.Unlock()
}

// newFill returns the fill state of a mapping of e (in use: the mapping's last piece unuses it).
func (e *cacheEntry) newFill() *lazyFill {
	return &lazyFill{src: e.src, base: e.base, fill: e.fill, mapped: newBitset(int(e.length / PageSize)), entry: e, refs: 1}
}

// use records one more mapping of e.
func (e *cacheEntry) use() {
	e.c.mu.Lock()
	e.users++
	e.c.mu.Unlock()
}

// DropUnused drops the entries no mapping uses and returns how many bytes they held (the
// pages mappings still share stay until those go).
func (c *PageCache) DropUnused() int64 {
	c.mu.Lock()
	var drop []*cacheEntry
	for k, e := range c.entries {
		if e.users == 0 {
			drop = append(drop, e)
			delete(c.entries, k)
		}
	}
	c.mu.Unlock()
	var n int64
	for _, e := range drop {
		n += e.length
		c.mf.DecRef(e.base, e.length)
		e.release()
	}
	return n
}

// PageCache returns the sandbox's page cache.
func (m *MemoryFile) PageCache() *PageCache { return m.cache }

// mapCachedLocked backs v (a private mapping of o.Source) with the page cache when it can,
// reporting whether it did. Preconditions: m.mu held.
func (m *MM) mapCachedLocked(v *VMA, o MapOpts, length uint64) bool {
	src, ok := o.Source.(Cacheable)
	if !ok || o.Hold == nil || m.mf.cache == nil {
		return false
	}
	e, err := m.mf.cache.entryFor(src)
	if err != nil {
		return false
	}
	if o.Offset+int64(length) > e.length {
		e.unuse() // maps past the end of the file: its own range
		return false
	}
	v.memOff = e.base + o.Offset
	m.mf.IncRef(v.memOff, int64(length))
	v.cow = true
	v.lazy = e.newFill()
	return true
}

// mapFilledLocked gives the pages of [lo, hi) of lazy VMA v that are already filled their
// protection at once (a page-cache mapping of pages another process faulted in); the
// platform maps [lo, hi). Preconditions: m.mu held.
func (m *MM) mapFilledLocked(v *VMA, lo, hi uint64) error {
	l := v.lazy
	first, end := v.lazyPages(lo, hi)
	l.fill.mu.Lock()
	defer l.fill.mu.Unlock()
	for i := first; i < end; {
		if !l.fill.bits.get(i) || l.mapped.get(i) {
			i++
			continue
		}
		j := i
		for j < end && l.fill.bits.get(j) && !l.mapped.get(j) {
			j++
		}
		a := lo + uint64(i-first)*PageSize
		if err := m.protectLocked(a, a+uint64(j-i)*PageSize, v.platformProt()); err != nil {
			return err
		}
		l.mapped.setRange(i, j)
		i = j
	}
	return nil
}

// Resident returns the bytes of file pages the cache holds.
func (c *PageCache) Resident() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, e := range c.entries {
		n += c.mf.dataBytes(e.base, e.length)
	}
	return n
}
