package mm

import "golang.org/x/sys/unix"

// RSS is an address space's resident memory by kind, in bytes, as /proc/PID/status counts
// it: pages that hold data in the memory file (holes cost nothing and are not counted).
// Pages shared copy-on-write after fork count in every address space that maps them.
type RSS struct {
	Anon, File, Shmem uint64
}

// Total is VmRSS.
func (r RSS) Total() uint64 { return r.Anon + r.File + r.Shmem }

// Resident returns m's resident memory.
func (m *MM) Resident() RSS {
	m.mu.Lock()
	defer m.mu.Unlock()
	var r RSS
	for _, v := range m.vmas {
		n := uint64(m.mf.dataBytes(v.memOff, int64(v.End-v.Start)))
		_, hostFile := v.Source.(SyncSource)
		switch {
		case v.Shared && !hostFile:
			r.Shmem += n
		case v.Source != nil:
			r.File += n
		default:
			r.Anon += n
		}
	}
	return r
}

// dataBytes counts the bytes of [off, off+n) that are not holes.
func (mf *MemoryFile) dataBytes(off, n int64) int64 {
	fd := int(mf.file.Fd())
	end := off + n
	var total int64
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
