package mm

import (
	"fmt"
	"os"
	"sort"
	"sync"

	"golang.org/x/sys/unix"
)

// PageSize is the x86-64 base page size.
const PageSize = 4096

// memFileSize is the virtual size of the memory file. It is sparse: only pages the app
// touches (or the kernel writes) consume host memory, so its size only bounds how much all
// processes of a sandbox may have mapped at once (address space, not memory): 16 TiB, an
// eighth of the kernel's own address space, which maps it whole (a bigger hole is not
// always free there once the Go runtime has started).
const memFileSize = 1 << 44

// MemoryFile is the memfd holding every page of app memory in one sandbox, and the
// kernel's own shared mapping of it. Ranges are handed out by a first-fit allocator; freed
// ranges have their pages punched out so they read back as zero and cost nothing.
type MemoryFile struct {
	file *os.File
	data []byte // the kernel's MAP_SHARED mapping of the whole file

	mu sync.Mutex
	// free is the sorted list of free ranges below next. protected by mu
	free []frange
	// next is the first never-allocated offset. protected by mu
	next int64
	// used is the number of bytes currently allocated. protected by mu
	used int64
	// shared lists the ranges with more than one owner (refs.go). protected by mu
	shared []sref

	// cache is the sandbox's page cache (pagecache.go).
	cache *PageCache
}

type frange struct{ off, len int64 }

// NewMemoryFile creates the sandbox's memory file.
func NewMemoryFile() (*MemoryFile, error) {
	fd, err := unix.MemfdCreate("sbx-memory", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "sbx-memory")
	if err := unix.Ftruncate(fd, memFileSize); err != nil {
		f.Close()
		return nil, fmt.Errorf("sizing memory file: %w", err)
	}
	data, err := unix.Mmap(fd, 0, memFileSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_NORESERVE)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("mapping memory file: %w", err)
	}
	// Offset 0 is never handed out so that a zero offset can mean "none".
	m := &MemoryFile{file: f, data: data, next: PageSize}
	m.cache = newPageCache(m)
	return m, nil
}

// File returns the memfd, for platforms to map into address spaces.
func (m *MemoryFile) File() *os.File { return m.file }

// Allocate returns the offset of a fresh, zero-filled range of length bytes (page multiple).
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
	if m.next+length > memFileSize {
		return 0, unix.ENOMEM
	}
	off := m.next
	m.next += length
	m.used += length
	return off, nil
}

// Free returns [off, off+length) to the allocator and drops its pages.
func (m *MemoryFile) Free(off, length int64) {
	if length <= 0 {
		return
	}
	// Punching makes the range read as zero again and releases host memory.
	_ = unix.Fallocate(int(m.file.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, length)
	m.mu.Lock()
	defer m.mu.Unlock()
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
}

// Zero makes [off, off+length) of an owned range read as zero, giving whole pages back
// to the host.
func (m *MemoryFile) Zero(off, length int64) {
	end := off + length
	lo := (off + PageSize - 1) &^ (PageSize - 1)
	hi := end &^ (PageSize - 1)
	if lo >= hi {
		clear(m.Slice(off, length))
		return
	}
	clear(m.Slice(off, lo-off))
	clear(m.Slice(hi, end-hi))
	_ = unix.Fallocate(int(m.file.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, lo, hi-lo)
}

// Slice returns the kernel's view of [off, off+length). The caller must own the range.
func (m *MemoryFile) Slice(off, length int64) []byte {
	return m.data[off : off+length : off+length]
}

// Used returns the number of bytes currently allocated to app memory.
func (m *MemoryFile) Used() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.used
}

// Resident returns the host memory the file really uses, in bytes (allocated blocks).
func (m *MemoryFile) Resident() int64 {
	var st unix.Stat_t
	if unix.Fstat(int(m.file.Fd()), &st) != nil {
		return 0
	}
	return st.Blocks * 512
}

// Close unmaps and closes the file.
func (m *MemoryFile) Close() error {
	unix.Munmap(m.data)
	return m.file.Close()
}
