package gofer

import (
	"sync"

	"golang.org/x/sys/unix"
)

// The disk limit ([resources] disk).
//
// The gofer counts what the sandbox adds to the host through writable mounts: for every
// regular file the sandbox created or grew, its growth since the gofer first saw it (a file
// created inside starts at zero). The kernel writes through donated FDs, so it asks first:
// before a write, fallocate or truncate takes a file past the end the gofer last granted
// for it, the kernel sends OpGrow with the end it needs, and the gofer grants the largest
// end within the limit (possibly less: the write is cut short, and a write that can add
// nothing fails with ENOSPC, as on a full disk). Truncating up is checked the same way here.
// Grants are part of the count until the file reaches them, so a grant is never taken back.
//
// The count is the gofer's; the enforcement of writes is the kernel's, which asks before
// each growth. A kernel that wrote without asking would be counted afterwards and refused
// further growth, but could overshoot by what it wrote: the limit protects the host from a
// runaway app, the walls of DESIGN.md §1 protect it from a compromised kernel.

// diskUsage is the gofer's count of what the sandbox added.
type diskUsage struct {
	limit int64 // bytes; 0: no limit

	mu sync.Mutex
	// files are the files counted, by identity. protected by mu
	files map[fileID]*grownFile
}

type fileID struct{ dev, ino uint64 }

// grownFile is one counted file.
type grownFile struct {
	fd    int   // an O_PATH FD of it, to fstat it
	base  int64 // its size when first seen (0 if created inside)
	grant int64 // the highest end granted
}

// addedLocked is what f adds now; false once the file is gone (its space returns to the
// host when the last FD closes). Preconditions: d.mu held.
func (f *grownFile) addedLocked() (int64, bool) {
	var st unix.Stat_t
	if unix.Fstat(f.fd, &st) != nil || st.Nlink == 0 {
		return 0, false
	}
	return max(0, max(st.Size, f.grant)-f.base), true
}

// othersLocked sums what every file but f adds, forgetting files that are gone.
// Preconditions: d.mu held.
func (d *diskUsage) othersLocked(f *grownFile) int64 {
	var n int64
	for id, g := range d.files {
		if g == f {
			continue
		}
		a, ok := g.addedLocked()
		if !ok {
			unix.Close(g.fd)
			delete(d.files, id)
		}
		n += a
	}
	return n
}

// trackLocked starts counting the file whose O_PATH FD is path (taking it over): from
// zero when created inside, else from its current size. Preconditions: d.mu held.
func (d *diskUsage) trackLocked(path int, created bool) *grownFile {
	var st unix.Stat_t
	if unix.Fstat(path, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(path)
		return nil
	}
	id := fileID{st.Dev, st.Ino}
	if f := d.files[id]; f != nil {
		unix.Close(path)
		return f
	}
	f := &grownFile{fd: path, base: st.Size, grant: st.Size}
	if created {
		f.base = 0
	}
	d.files[id] = f
	return f
}

// created counts a file the sandbox just created (path: its O_PATH FD, taken over).
func (d *diskUsage) created(path int) {
	if d.limit <= 0 {
		unix.Close(path)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.trackLocked(path, true)
}

// grow grants the file whose FD is fd an end up to want, within the limit: it returns the
// end granted (at least the file's current size) and ENOSPC when that adds nothing.
func (d *diskUsage) grow(fd int, want int64) (int64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, err
	}
	if d.limit <= 0 || want <= st.Size {
		return max(want, st.Size), nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	f := d.files[fileID{st.Dev, st.Ino}]
	if f == nil {
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return 0, err
		}
		if f = d.trackLocked(dup, false); f == nil {
			return 0, unix.EINVAL
		}
	}
	if want <= f.grant {
		return want, nil
	}
	most := f.base + max(0, d.limit-d.othersLocked(f))
	end := min(want, most)
	if have := max(st.Size, f.grant); end <= have {
		return have, unix.ENOSPC
	}
	f.grant = end
	return end, nil
}
