package tmpfs

import (
	"io"

	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// minCapacity is the memory-file range first reserved for a file's contents. Reservations
// are virtual (the memory file is sparse), so a generous one costs nothing until written,
// and a file rarely outgrows it: growing moves the contents to a bigger range, a copy that
// holds every page twice for a moment (a file of half the memory limit got the sandbox
// OOM-killed) and that shared mappings forbid (ENOMEM).
const minCapacity = 1 << 36

// maxFileSize bounds where a tmpfs file's contents may lie here: writes, fallocate and
// shared mappings beyond are EFBIG (EINVAL). The size itself goes up to Linux's
// MAX_LFS_FILESIZE (tmpfs's s_maxbytes, the largest off_t): ftruncate makes a file that
// large, and the part past its capacity reads as zeros.
const maxFileSize = 1 << 40

// readDataLocked reads the contents at [off, off+len(p)), inside the size: what lies past
// the capacity (a file grown by ftruncate) reads as zeros. Preconditions: in.mu held.
func (in *Inode) readDataLocked(p []byte, off int64) {
	n := max(0, min(int64(len(p)), in.capacity-off))
	if n > 0 {
		in.fs.mf.ReadAt(p[:n], in.memOff+off)
	}
	clear(p[n:])
}

// ensureCapacityLocked makes room for size bytes. Preconditions: in.mu held.
func (in *Inode) ensureCapacityLocked(size int64) error {
	if size <= in.capacity {
		return nil
	}
	if size > maxFileSize {
		return unix.EFBIG
	}
	if in.host != nil || in.dead {
		return nil // the host memfd grows by itself; a dead file is never read again
	}
	if in.mapRefs > 0 && in.capacity > 0 {
		// Shared mappings pin the range; growing past it would split the file in two.
		return unix.ENOMEM
	}
	c := max(int64(minCapacity), in.capacity)
	for c < size {
		c *= 2
	}
	off, err := in.fs.mf.Allocate(c)
	if err != nil {
		return unix.ENOSPC
	}
	if in.capacity > 0 {
		if err := in.fs.mf.CopyData(off, in.memOff, min(in.attr.Size, in.capacity)); err != nil {
			in.fs.mf.Free(off, c)
			return unix.ENOSPC
		}
		in.fs.mf.Free(in.memOff, in.capacity)
	}
	in.memOff, in.capacity = off, c
	in.fs.mf.MarkShmem(off, c)
	return nil
}

// truncateLocked sets the file size; the pages past a smaller end are freed.
// Preconditions: in.mu held.
func (in *Inode) truncateLocked(size int64) error {
	if size < 0 {
		return unix.EINVAL
	}
	// Like shmem_setattr, a size not above the old one frees from it on, pages beyond the
	// end (fallocate with FALLOC_FL_KEEP_SIZE) included.
	old := in.attr.Size
	defer func() {
		if in.attr.Size == size && size <= old {
			in.freePagesLocked((size+pageSize-1)/pageSize, int64(len(in.pages.words))*64)
		}
	}()
	if in.host != nil {
		if err := unix.Ftruncate(in.host.fd, size); err != nil {
			return err
		}
		in.attr.Size = size
		return nil
	}
	// Growing needs no capacity: the new part reads as zeros until written.
	if size < in.attr.Size && size < in.capacity {
		in.fs.mf.Zero(in.memOff+size, min(in.attr.Size, in.capacity)-size)
	}
	in.attr.Size = size
	return nil
}

// ReadAt reads file contents (mm.Source for private mappings).
func (in *Inode) ReadAt(p []byte, off int64) (int, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if off < 0 {
		return 0, unix.EINVAL
	}
	if in.host != nil {
		return in.hostRead(p, off)
	}
	if off >= in.attr.Size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), in.attr.Size-off))
	in.readDataLocked(p[:n], off)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// MapShared implements mm.SharedSource: the mapping uses the file's own pages. Mapping
// beyond the current size reserves that much capacity (the pages exist but are past EOF).
func (in *Inode) MapShared(off, length int64) (int64, func(), error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if off < 0 || length < 0 || length > maxFileSize || off > maxFileSize-length {
		return 0, nil, unix.EINVAL // beyond what a tmpfs file can hold here
	}
	if in.host != nil {
		return 0, nil, unix.ENODEV // mapped through MapHost
	}
	if in.capacity < off+length {
		size := in.attr.Size
		if err := in.ensureCapacityLocked(off + length); err != nil {
			return 0, nil, err
		}
		in.attr.Size = size
	}
	in.mapRefs++
	return in.memOff + off, func() {
		in.mu.Lock()
		in.mapRefs--
		in.maybeFreeLocked()
		in.mu.Unlock()
	}, nil
}

// regularFile is an open tmpfs regular file.
type regularFile struct{ in *Inode }

var (
	_ vfs.Mappable  = (*regularFile)(nil)
	_ vfs.Allocator = (*regularFile)(nil)
)

func (f *regularFile) Read(fd *vfs.FileDescription, dst [][]byte, off int64) (int64, error) {
	in := f.in
	in.mu.Lock()
	defer in.mu.Unlock()
	if off < 0 {
		return 0, unix.EINVAL
	}
	if in.host != nil {
		var n int64
		for _, b := range dst {
			k, err := in.hostRead(b, off+n)
			n += int64(k)
			if err == io.EOF || k < len(b) {
				break
			}
			if err != nil {
				if n > 0 {
					break
				}
				return 0, err
			}
		}
		return n, nil
	}
	var n int64
	for _, b := range dst {
		if off >= in.attr.Size {
			break
		}
		c := min(int64(len(b)), in.attr.Size-off)
		in.readDataLocked(b[:c], off)
		n += c
		off += c
	}
	return n, nil
}

func (f *regularFile) Write(fd *vfs.FileDescription, src [][]byte, off int64) (int64, error) {
	in := f.in
	in.mu.Lock()
	defer in.mu.Unlock()
	if off < 0 {
		return 0, unix.EINVAL
	}
	if in.host != nil {
		in.hostSizeLocked()
	}
	if fd.StatusFlags()&unix.O_APPEND != 0 {
		off = in.attr.Size
	}
	var total int64
	for _, b := range src {
		total += int64(len(b))
	}
	if total == 0 {
		return 0, nil
	}
	if total > maxFileSize || off > maxFileSize-total {
		return 0, unix.EFBIG
	}
	if in.writeSealedLocked() {
		return 0, unix.EPERM
	}
	if off+total > in.attr.Size && in.seals&SealGrow != 0 {
		return 0, unix.EPERM
	}
	if err := in.ensureCapacityLocked(off + total); err != nil {
		return 0, err
	}
	// A write stops at the first page the filesystem has no room for.
	if end := in.allocPagesLocked(off, off+total); end == off {
		return 0, unix.ENOSPC
	} else if end < off+total {
		src = cutVec(src, end-off)
	}
	if in.host != nil {
		var n int64
		for _, b := range src {
			k, err := in.hostWrite(b, off+n)
			n += int64(k)
			if err != nil {
				if n == 0 {
					return 0, err
				}
				break
			}
		}
		if off+n > in.attr.Size {
			in.attr.Size = off + n
		}
		t := now()
		in.attr.Mtime, in.attr.Ctime = t, t
		return n, nil
	}
	var n int64
	for _, b := range src {
		if err := in.fs.mf.WriteAt(b, in.memOff+off+n); err != nil {
			if n == 0 {
				return 0, unix.ENOSPC
			}
			break
		}
		n += int64(len(b))
	}
	if off+n > in.attr.Size {
		in.attr.Size = off + n
	}
	t := now()
	in.attr.Mtime, in.attr.Ctime = t, t
	return n, nil
}

func (f *regularFile) Release() {
	in := f.in
	in.mu.Lock()
	in.opens--
	in.maybeFreeLocked()
	in.mu.Unlock()
}

// cutVec returns the first n bytes of the buffers src.
func cutVec(src [][]byte, n int64) [][]byte {
	var out [][]byte
	for _, b := range src {
		if n <= 0 {
			break
		}
		b = b[:min(int64(len(b)), n)]
		out = append(out, b)
		n -= int64(len(b))
	}
	return out
}

// HostBackingFD implements vfs.HostBacked: a host-backed file goes to a host peer as its
// host memfd.
func (f *regularFile) HostBackingFD() (int, bool) {
	f.in.mu.Lock()
	defer f.in.mu.Unlock()
	return f.in.HostFD()
}

func (f *regularFile) MapSource() mm.Source { return f.in }

func (f *regularFile) Allocate(mode uint32, off, length int64) error {
	in := f.in
	in.mu.Lock()
	defer in.mu.Unlock()
	switch mode {
	case 0, unix.FALLOC_FL_KEEP_SIZE:
		if off < 0 || length <= 0 || length > maxFileSize || off > maxFileSize-length {
			return unix.EFBIG
		}
		end := off + length
		if end > in.attr.Size && in.seals&SealGrow != 0 {
			return unix.EPERM
		}
		if err := in.ensureCapacityLocked(end); err != nil {
			return err
		}
		if err := in.fallocPagesLocked(off, end); err != nil {
			return err
		}
		if in.host != nil {
			if err := unix.Fallocate(in.host.fd, mode, off, length); err != nil {
				return err
			}
			in.hostSizeLocked()
			return nil
		}
		if mode == 0 && end > in.attr.Size {
			in.attr.Size = end
		}
		return nil
	case unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_KEEP_SIZE:
		return in.punchHoleLocked(off, length)
	}
	return unix.EOPNOTSUPP
}

// PunchHole implements mm.HolePuncher (MADV_REMOVE on a shared mapping of the file).
func (in *Inode) PunchHole(off, length int64) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.punchHoleLocked(off, length)
}

// punchHoleLocked is fallocate(FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE). Preconditions:
// in.mu held.
func (in *Inode) punchHoleLocked(off, length int64) error {
	end := in.attr.Size
	if off < 0 {
		return unix.EINVAL
	}
	if in.writeSealedLocked() {
		return unix.EPERM
	}
	if length < end-off {
		end = off + length
	}
	// Whole pages in the hole are freed, those beyond the end too (fallocate with
	// FALLOC_FL_KEEP_SIZE puts pages there); partial ones are zeroed.
	holeEnd := int64(maxFileSize)
	if length < holeEnd-off {
		holeEnd = off + length
	}
	in.freePagesLocked((off+pageSize-1)/pageSize, holeEnd/pageSize)
	if in.host != nil {
		return unix.Fallocate(in.host.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, length)
	}
	if end = min(end, in.capacity); off < end {
		in.fs.mf.Zero(in.memOff+off, end-off)
	}
	return nil
}

// Seek supports SEEK_DATA/SEEK_HOLE for a file with no holes.
func (f *regularFile) Seek(fd *vfs.FileDescription, cur, off int64, whence int) (int64, error) {
	in := f.in
	in.mu.Lock()
	if in.host != nil {
		in.hostSizeLocked()
		if whence == unix.SEEK_DATA || whence == unix.SEEK_HOLE {
			defer in.mu.Unlock()
			return unix.Seek(in.host.fd, off, whence)
		}
	}
	size := in.attr.Size
	in.mu.Unlock()
	var n int64
	switch whence {
	case unix.SEEK_SET:
		n = off
	case unix.SEEK_CUR:
		n = cur + off
	case unix.SEEK_END:
		n = size + off
	case unix.SEEK_DATA:
		if off < 0 || off >= size {
			return 0, unix.ENXIO
		}
		return off, nil
	case unix.SEEK_HOLE:
		if off < 0 || off >= size {
			return 0, unix.ENXIO
		}
		return size, nil
	default:
		return 0, unix.EINVAL
	}
	if n < 0 {
		return 0, unix.EINVAL
	}
	return n, nil
}

// WriteFile creates (or replaces the contents of) a regular file in directory dir, for the
// kernel to populate synthetic trees (/sys) at boot.
func (in *Inode) WriteFile(name string, mode uint32, data []byte) error {
	c := &vfs.Creds{}
	_, f, err := in.Create(name, unix.O_WRONLY, mode, c)
	if err == unix.EEXIST {
		ci, lerr := in.Lookup(name)
		if lerr != nil {
			return lerr
		}
		f = &regularFile{in: ci.(*Inode)}
	} else if err != nil {
		return err
	}
	r := f.(*regularFile)
	r.in.mu.Lock()
	terr := r.in.truncateLocked(0)
	r.in.mu.Unlock()
	if terr != nil {
		return terr
	}
	_, err = r.Write(vfs.NewAnonFileDescription(r, "", unix.O_WRONLY), [][]byte{data}, 0)
	return err
}

// MkdirAll creates the directory path below in (components separated by '/'), returning
// the last one.
func (in *Inode) MkdirAll(path string, mode uint32) (*Inode, error) {
	cur := in
	for _, c := range splitPath(path) {
		next, err := cur.Lookup(c)
		if err == unix.ENOENT {
			if err := cur.Mkdir(c, mode, &vfs.Creds{}); err != nil && err != unix.EEXIST {
				return nil, err
			}
			next, err = cur.Lookup(c)
		}
		if err != nil {
			return nil, err
		}
		ni, ok := next.(*Inode)
		if !ok || !isDirInode(ni) {
			return nil, unix.ENOTDIR
		}
		cur = ni
	}
	return cur, nil
}

func splitPath(p string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			if i > start {
				out = append(out, p[start:i])
			}
			start = i + 1
		}
	}
	return out
}
