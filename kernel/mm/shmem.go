package mm

import "golang.org/x/sys/unix"

// Shared memory (/proc/meminfo's Shmem, sysinfo's sharedram): what Linux keeps in shmem —
// tmpfs files, shared anonymous memory, System V segments, memfds — is here ranges of the
// memory file their owners mark (MarkShmem; Free unmarks a marked range) and the host
// memfds AddHostFile counts. Shmem measures the pages of those that hold data.

// MarkShmem records [off, off+n), an allocated range, as shared memory until it is freed.
func (m *MemoryFile) MarkShmem(off, n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.shmem == nil {
		m.shmem = map[int64]int64{}
	}
	m.shmem[off] = n
}

// Shmem returns the bytes of shared memory that hold data.
func (m *MemoryFile) Shmem() int64 {
	m.mu.Lock()
	ranges := make([]frange, 0, len(m.shmem))
	for off, n := range m.shmem {
		ranges = append(ranges, frange{off, n})
	}
	m.mu.Unlock()
	var total int64
	for _, r := range ranges {
		total += m.dataBytes(r.off, r.len)
	}
	var st unix.Stat_t
	m.hmu.Lock()
	seen := make(map[hostKey]bool, len(m.hostFiles))
	for fd := range m.hostFiles {
		if unix.Fstat(fd, &st) == nil && !seen[hostKey{st.Dev, st.Ino}] {
			seen[hostKey{st.Dev, st.Ino}] = true
			total += st.Blocks * 512
		}
	}
	m.hmu.Unlock()
	return total
}
