package goferfs

import (
	"io"
	"sync"
	"sync/atomic"

	"github.com/sbx-dev/sbx/kernel/fs/host"
	"github.com/sbx-dev/sbx/kernel/fs/pipe"
	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// Shared mappings of host files.
//
// A MAP_SHARED mapping of a file on a writable mount is served from pages in the memory
// file, one set per host file (keyed by device and inode) for the whole sandbox: every
// process mapping the file maps the same pages, so they see each other's stores at once.
// The pages are filled from the host file when first mapped and written back to it at
// msync, fsync/fdatasync, munmap of the last piece of a mapping and exit (which unmaps
// everything): a write lands on the host when Linux would guarantee it, never later.
//
// While the pages exist they are the truth for the part of the file they cover: read(2)
// returns them (over what the host file holds), write(2) goes to the host file and to them,
// truncate clears them past the new end. When the last mapping goes they are written back
// and freed; from then on reads and writes go straight to the host file again.
//
// Consistency with the world outside the sandbox is Linux's for a file shared over NFS:
// a change made by a host process while the file is mapped in the sandbox is seen by the
// sandbox after the mapping goes, and the sandbox's stores reach the host at the sync
// points above. Files on read-only mounts never get shared pages: nothing can change them
// from inside, so a private copy is indistinguishable.

// Cache is the set of shared host-file pages of one sandbox, and its disk-limit state.
type Cache struct {
	mf *mm.MemoryFile
	// diskLimited says the gofer enforces a disk limit: growing a file asks it first (disk.go).
	diskLimited bool
	// diskFull counts writes refused or cut short by the disk limit.
	diskFull atomic.Uint64

	// mu guards files. Readers and writers of a file with no shared pages hold it for
	// reading across their host I/O, so pages cannot appear (filled from the host) between
	// their check and their I/O. protected by mu
	mu    sync.RWMutex
	files map[fileKey]*sharedPages

	// names watches the directories whose missing names the VFS caches (names.go).
	names nameWatch
	// plus decides when listings come with their entries walked (plus.go).
	plus plusStats

	// fifoMu guards fifos: the sandbox's pipe of each host FIFO it opened, by host file
	// (a FIFO's data never crosses the sandbox's wall: both ends must open it inside).
	fifoMu sync.Mutex
	fifos  map[fileKey]*pipe.Pipe // protected by fifoMu
}

// fifo returns the pipe of the host FIFO k, made at its first open.
func (c *Cache) fifo(k fileKey) *pipe.Pipe {
	c.fifoMu.Lock()
	defer c.fifoMu.Unlock()
	if c.fifos == nil {
		c.fifos = map[fileKey]*pipe.Pipe{}
	}
	p := c.fifos[k]
	if p == nil {
		p = pipe.New()
		c.fifos[k] = p
	}
	return p
}

type fileKey struct{ dev, ino uint64 }

// NewCache returns an empty cache whose pages live in mf; diskLimited says the gofer has a
// disk limit to ask about before files grow.
func NewCache(mf *mm.MemoryFile, diskLimited bool) *Cache {
	return &Cache{mf: mf, diskLimited: diskLimited, files: map[fileKey]*sharedPages{}}
}

// minSharedCapacity is the smallest memory-file range reserved for one file's shared
// pages. The memory file is sparse, so the reservation costs nothing until pages are
// filled; a mapping reaching past it while others pin the range fails with ENOMEM.
const minSharedCapacity = 64 << 20

// sharedPages is the memory-file copy of one host file's mapped part.
type sharedPages struct {
	c   *Cache
	key fileKey

	mu sync.Mutex
	// fd is a host FD of the file (read-write once any writable FD has mapped it). protected by mu
	fd       int
	writable bool
	// memOff, capacity: the memory-file range holding file offsets [0, capacity). protected by mu
	memOff, capacity int64
	// valid marks the pages filled from the file. protected by mu
	valid []bool
	// refs counts live mappings (each MapShared call until its release). protected by mu
	refs int
}

// lookupLocked returns the shared pages of key, if any. Preconditions: c.mu held.
func (c *Cache) lookupLocked(key fileKey) *sharedPages { return c.files[key] }

// mapShared returns the memory-file offset of [off, off+length) of the file whose host FD is
// fd, creating its shared pages if needed.
func (c *Cache) mapShared(key fileKey, fd int, writable bool, off, length int64) (int64, func(), error) {
	c.mu.Lock()
	sp := c.files[key]
	if sp == nil {
		want := int64(minSharedCapacity)
		for want < 2*(off+length) {
			want *= 2
		}
		memOff, err := c.mf.Allocate(want)
		if err != nil {
			c.mu.Unlock()
			return 0, nil, unix.ENOMEM
		}
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			c.mf.Free(memOff, want)
			c.mu.Unlock()
			return 0, nil, err
		}
		sp = &sharedPages{c: c, key: key, fd: dup, writable: writable, memOff: memOff, capacity: want,
			valid: make([]bool, want/mm.PageSize)}
		c.files[key] = sp
	}
	defer c.mu.Unlock()
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if off+length > sp.capacity {
		return 0, nil, unix.ENOMEM
	}
	if writable && !sp.writable {
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return 0, nil, err
		}
		unix.Close(sp.fd)
		sp.fd, sp.writable = dup, true
	}
	if err := sp.fillLocked(off, off+length); err != nil {
		if sp.refs == 0 {
			sp.destroyLocked()
		}
		return 0, nil, err
	}
	sp.refs++
	var once sync.Once
	return sp.memOff + off, func() { once.Do(func() { sp.release(off, length) }) }, nil
}

// fillLocked reads the not yet valid pages of [lo, hi) from the file. Preconditions: sp.mu held.
func (sp *sharedPages) fillLocked(lo, hi int64) error {
	for p := lo / mm.PageSize; p < (hi+mm.PageSize-1)/mm.PageSize; p++ {
		if sp.valid[p] {
			continue
		}
		q := p
		for q < int64(len(sp.valid)) && q*mm.PageSize < hi && !sp.valid[q] {
			q++
		}
		bufs, err := sp.c.mf.Slices(sp.memOff+p*mm.PageSize, (q-p)*mm.PageSize)
		if err != nil {
			return err
		}
		pos := p * mm.PageSize
		for _, buf := range bufs {
			n, err := vfs.PreadFull(sp.fd, buf, pos)
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			pos += int64(n)
		}
		for i := p; i < q; i++ {
			sp.valid[i] = true
		}
		p = q - 1
	}
	return nil
}

// writebackLocked writes the valid pages of [lo, hi) that lie inside the file back to it
// (stores past the end of the file stay in memory, as on Linux). Preconditions: sp.mu held.
func (sp *sharedPages) writebackLocked(lo, hi int64) error {
	if !sp.writable {
		return nil // nothing could store into pages mapped only read-only
	}
	var st unix.Stat_t
	if err := unix.Fstat(sp.fd, &st); err != nil {
		return err
	}
	hi = min(hi, st.Size, sp.capacity)
	for p := lo / mm.PageSize; p*mm.PageSize < hi; p++ {
		if !sp.valid[p] {
			continue
		}
		q := p
		for q*mm.PageSize < hi && sp.valid[q] {
			q++
		}
		start, end := max(lo, p*mm.PageSize), min(hi, q*mm.PageSize)
		bufs, err := sp.c.mf.Slices(sp.memOff+start, end-start)
		if err != nil {
			return err
		}
		for _, buf := range bufs {
			for len(buf) > 0 {
				n, err := unix.Pwrite(sp.fd, buf, start)
				if err == unix.EINTR {
					continue
				}
				if err != nil {
					return err
				}
				buf, start = buf[n:], start+int64(n)
			}
		}
		p = q - 1
	}
	return nil
}

// release ends one mapping of [off, off+length): its stores go to the file; the last
// mapping frees the pages.
func (sp *sharedPages) release(off, length int64) {
	c := sp.c
	c.mu.Lock()
	defer c.mu.Unlock()
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.refs--
	if sp.refs > 0 {
		_ = sp.writebackLocked(off, off+length)
		return
	}
	_ = sp.writebackLocked(0, sp.capacity)
	sp.destroyLocked()
}

// destroyLocked frees the pages. Preconditions: c.mu and sp.mu held, no mapping left.
func (sp *sharedPages) destroyLocked() {
	delete(sp.c.files, sp.key)
	sp.c.mf.Free(sp.memOff, sp.capacity)
	unix.Close(sp.fd)
	sp.fd = -1
}

// overlayLocked copies the valid pages' bytes of [off, off+len(p)) into p (a read that
// got len(p) bytes from the host file). Preconditions: sp.mu held.
func (sp *sharedPages) overlayLocked(p []byte, off int64) {
	for len(p) > 0 && off < sp.capacity {
		pg := off / mm.PageSize
		n := min(int64(len(p)), (pg+1)*mm.PageSize-off)
		if sp.valid[pg] {
			sp.c.mf.ReadAt(p[:n], sp.memOff+off)
		}
		p, off = p[n:], off+n
	}
}

// storeLocked copies bytes written to the host file at off into the valid pages. Preconditions: sp.mu held.
func (sp *sharedPages) storeLocked(p []byte, off int64) {
	for len(p) > 0 && off < sp.capacity {
		pg := off / mm.PageSize
		n := min(int64(len(p)), (pg+1)*mm.PageSize-off)
		if sp.valid[pg] {
			_ = sp.c.mf.WriteAt(p[:n], sp.memOff+off) // (valid pages were touched when filled)
		}
		p, off = p[n:], off+n
	}
}

// resizedLocked clears the pages from the smaller of the old and new sizes on: bytes past
// the end of the file read as zero when it grows again. Preconditions: sp.mu held.
func (sp *sharedPages) resizedLocked(oldSize, newSize int64) {
	from := min(oldSize, newSize)
	if from >= sp.capacity {
		return
	}
	sp.c.mf.Zero(sp.memOff+from, sp.capacity-from)
}

// sharedPagesFor runs fn with the file's shared pages locked (nil when it has none, with
// none allowed to appear until fn returns): reads and writes stay coherent with mappings.
func (in *Inode) sharedPagesFor(fn func(sp *sharedPages)) {
	c := in.cache
	c.mu.RLock()
	sp := c.lookupLocked(in.key())
	if sp == nil {
		defer c.mu.RUnlock()
		fn(nil)
		return
	}
	sp.mu.Lock()
	c.mu.RUnlock()
	defer sp.mu.Unlock()
	fn(sp)
}

func (in *Inode) key() fileKey {
	in.mu.Lock()
	defer in.mu.Unlock()
	return fileKey{in.attr.Dev, in.attr.Ino}
}

// mapSource is what a host file hands mmap: its contents for private mappings (through
// the shared pages where they exist) and, on writable mounts, shared pages.
type mapSource struct {
	f *hostFile
}

var (
	_ mm.SharedSource = (*mapSource)(nil)
	_ mm.SyncSource   = (*mapSource)(nil)
)

// ReadAt implements mm.Source.
func (s mapSource) ReadAt(p []byte, off int64) (n int, err error) {
	if s.f.in == nil || s.f.in.cache == nil {
		return s.f.File.ReadAt(p, off)
	}
	s.f.in.sharedPagesFor(func(sp *sharedPages) {
		n, err = s.f.File.ReadAt(p, off)
		if sp != nil {
			sp.overlayLocked(p[:n], off)
		}
	})
	return n, err
}

// MapShared implements mm.SharedSource.
func (s mapSource) MapShared(off, length int64) (int64, func(), error) {
	return s.f.in.cache.mapShared(s.f.in.key(), s.f.HostFD(), s.f.writable, off, length)
}

// SyncShared implements mm.SyncSource.
func (s mapSource) SyncShared(off, length int64) error {
	var err error
	s.f.in.sharedPagesFor(func(sp *sharedPages) {
		if sp != nil {
			err = sp.writebackLocked(off, off+length)
		}
	})
	return err
}

// DirectFD implements mm.DirectSource: a file open read-only whose pages are not shared
// through the memory file (no shared mapping of it exists) may be mapped from the host
// file itself. A later shared mapping's stores reach private mappings of it when they are
// written back (msync, munmap, exit), not at once as on Linux.
func (s mapSource) DirectFD() (int, bool) {
	if s.f.writable || s.f.in == nil {
		return 0, false
	}
	shared := true
	s.f.in.sharedPagesFor(func(sp *sharedPages) { shared = sp != nil })
	if shared {
		return 0, false
	}
	return directFD(s.f.HostFD())
}

// directFD returns fd when it is a regular file open read-only (what mm.DirectSource
// may hand the platform to map).
func directFD(fd int) (int, bool) {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_ACCMODE != unix.O_RDONLY {
		return 0, false
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return 0, false
	}
	return fd, true
}

// readOnlySource backs mappings of files on read-only mounts: private mappings whose
// pages the page cache shares (nothing inside can change these files).
type readOnlySource struct{ f *host.File }

var _ mm.Cacheable = readOnlySource{}

// DirectFD implements mm.DirectSource.
func (s readOnlySource) DirectFD() (int, bool) { return directFD(s.f.HostFD()) }

// ReadAt implements mm.Source.
func (s readOnlySource) ReadAt(p []byte, off int64) (int, error) { return s.f.ReadAt(p, off) }

// CacheIdentity implements mm.Cacheable: the file's identity and version as the host
// reports them, and a reader of its own.
func (s readOnlySource) CacheIdentity() (mm.CacheKey, mm.Source, func(), error) {
	var st unix.Stat_t
	if err := unix.Fstat(s.f.HostFD(), &st); err != nil {
		return mm.CacheKey{}, nil, nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return mm.CacheKey{}, nil, nil, unix.ENODEV
	}
	dup, err := unix.FcntlInt(uintptr(s.f.HostFD()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return mm.CacheKey{}, nil, nil, err
	}
	r := host.New(dup, true)
	key := mm.CacheKey{Dev: st.Dev, Ino: st.Ino, Size: st.Size, Mtime: st.Mtim.Sec, MtimeNsec: st.Mtim.Nsec,
		Ctime: st.Ctim.Sec, CtimeNsec: st.Ctim.Nsec}
	return key, r, r.Release, nil
}

// MapSource lets host files back mappings (and the loader).
func (h *hostFile) MapSource() mm.Source {
	if h.in == nil || h.in.cache == nil || h.in.ro {
		return readOnlySource{h.File}
	}
	return mapSource{h}
}

// Read implements vfs.File: through the shared pages while the file is mapped shared.
func (h *hostFile) Read(fd *vfs.FileDescription, dst [][]byte, off int64) (n int64, err error) {
	if h.in == nil || h.in.cache == nil || h.in.ro {
		return h.File.Read(fd, dst, off)
	}
	h.in.sharedPagesFor(func(sp *sharedPages) {
		n, err = h.File.Read(fd, dst, off)
		if sp == nil || err != nil {
			return
		}
		left, pos := n, off
		for _, b := range dst {
			if left == 0 {
				break
			}
			k := min(int64(len(b)), left)
			sp.overlayLocked(b[:k], pos)
			left, pos = left-k, pos+k
		}
	})
	return n, err
}

// Write implements vfs.File: to the host file, and to the shared pages while it is mapped.
func (h *hostFile) Write(fd *vfs.FileDescription, src [][]byte, off int64) (n int64, err error) {
	if h.in == nil || h.in.cache == nil || h.in.ro {
		return h.File.Write(fd, src, off)
	}
	if h.in.cache.diskLimited {
		if src, err = h.reserve(fd, src, off); err != nil {
			return 0, err
		}
	}
	h.in.sharedPagesFor(func(sp *sharedPages) {
		if sp == nil {
			n, err = h.File.Write(fd, src, off)
			return
		}
		if fd != nil && fd.StatusFlags()&unix.O_APPEND != 0 {
			var st unix.Stat_t
			if err = unix.Fstat(h.HostFD(), &st); err != nil {
				return
			}
			off = st.Size
		}
		n, err = h.File.Write(nil, src, off)
		left, pos := n, off
		for _, b := range src {
			if left == 0 {
				break
			}
			k := min(int64(len(b)), left)
			sp.storeLocked(b[:k], pos)
			left, pos = left-k, pos+k
		}
	})
	return n, err
}

// Sync implements vfs.Syncer (fsync, fdatasync): stores made through shared mappings go to
// the host file first.
func (h *hostFile) Sync() error {
	if h.in != nil && h.in.cache != nil && !h.in.ro {
		var err error
		h.in.sharedPagesFor(func(sp *sharedPages) {
			if sp != nil {
				err = sp.writebackLocked(0, sp.capacity)
			}
		})
		if err != nil {
			return err
		}
	}
	return h.File.Sync()
}

// truncate runs set (which changes the file's size on the host) coherently with the shared pages.
func (in *Inode) truncate(set func() error) error {
	if in.cache == nil {
		return set()
	}
	var err error
	in.sharedPagesFor(func(sp *sharedPages) {
		if sp == nil {
			err = set()
			return
		}
		var st unix.Stat_t
		if err = unix.Fstat(sp.fd, &st); err != nil {
			return
		}
		// Stores inside the old size reach the file before it shrinks or grows.
		if err = sp.writebackLocked(0, sp.capacity); err != nil {
			return
		}
		if err = set(); err != nil {
			return
		}
		var now unix.Stat_t
		if err = unix.Fstat(sp.fd, &now); err != nil {
			return
		}
		sp.resizedLocked(st.Size, now.Size)
	})
	return err
}
