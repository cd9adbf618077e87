package goferfs

import (
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// The disk limit, kernel side: the gofer counts what the sandbox adds to the host and
// grants each file an end it may grow to (gofer/disk.go); a write past an inode's grant asks
// for more first, with some slack so that a file written sequentially asks about once per
// MiB. A write the grant cannot cover is cut short, and one that can add nothing fails with
// ENOSPC, as on a full disk: what was written before stays whole.

// growSlack is the most a grant asks for beyond the write at hand.
const growSlack = 1 << 20

// grantFor makes sure the file may reach end, asking the gofer if needed: it returns the
// end it may reach (≥ the current size; maybe < end), ENOSPC when that adds nothing.
func (in *Inode) grantFor(hostFD int, end int64) (int64, error) {
	in.mu.Lock()
	granted := in.granted
	in.mu.Unlock()
	if end <= granted {
		return end, nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(hostFD, &st); err != nil {
		return 0, err
	}
	if end <= st.Size {
		return end, nil
	}
	want := end + min(growSlack, max(end-st.Size, st.Size/8))
	got, err := in.h.Grow(want)
	if err != nil {
		if err == unix.ENOSPC {
			in.cache.diskFull.Add(1)
		}
		return st.Size, err
	}
	in.mu.Lock()
	in.granted = max(in.granted, got)
	in.mu.Unlock()
	if got < end {
		in.cache.diskFull.Add(1)
	}
	return min(got, end), nil
}

// reserve makes sure a write of src at off (or at the end, for O_APPEND) is within the disk
// limit, cutting it short where the limit falls.
func (h *hostFile) reserve(fd *vfs.FileDescription, src [][]byte, off int64) ([][]byte, error) {
	var n int64
	for _, b := range src {
		n += int64(len(b))
	}
	if n == 0 {
		return src, nil
	}
	if fd != nil && fd.StatusFlags()&unix.O_APPEND != 0 {
		var st unix.Stat_t
		if err := unix.Fstat(h.HostFD(), &st); err != nil {
			return nil, err
		}
		off = st.Size
	}
	end, err := h.in.grantFor(h.HostFD(), off+n)
	if err != nil {
		return nil, err
	}
	if end >= off+n {
		return src, nil
	}
	if end <= off {
		return nil, unix.ENOSPC
	}
	keep := end - off
	var out [][]byte
	for _, b := range src {
		if keep == 0 {
			break
		}
		k := min(int64(len(b)), keep)
		out = append(out, b[:k])
		keep -= k
	}
	return out, nil
}

// Allocate implements vfs.Allocator: allocating space counts against the disk limit.
func (h *hostFile) Allocate(mode uint32, off, length int64) error {
	if h.in != nil && h.in.cache != nil && h.in.cache.diskLimited && mode&unix.FALLOC_FL_PUNCH_HOLE == 0 {
		end, err := h.in.grantFor(h.HostFD(), off+length)
		if err != nil {
			return err
		}
		if end < off+length {
			return unix.ENOSPC
		}
	}
	return h.File.Allocate(mode, off, length)
}

// DiskFull returns how many writes the disk limit refused or cut short.
func (c *Cache) DiskFull() uint64 { return c.diskFull.Load() }

// Truncate implements vfs.Truncater (ftruncate on the donated FD): growing counts against
// the disk limit, and shared pages of the file follow the new size.
func (h *hostFile) Truncate(size int64) error {
	if h.in == nil || h.in.cache == nil || h.in.ro {
		return h.File.Truncate(size)
	}
	if h.in.cache.diskLimited {
		end, err := h.in.grantFor(h.HostFD(), size)
		if err != nil {
			return err
		}
		if end < size {
			return unix.ENOSPC
		}
	}
	return h.in.truncate(func() error { return h.File.Truncate(size) })
}
