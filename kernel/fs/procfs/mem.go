package procfs

import (
	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// memNode is /proc/PID/mem: the process's memory, read and written at the offsets that
// are its addresses. Opening it takes ptrace-attach access to the process (EACCES
// without), and the open file keeps the address space it found.
type memNode struct {
	node
	vfs.NotDir
	p  *proc
	tg *kernel.ThreadGroup
}

func (m *memNode) Stat() (vfs.Attr, error) { return m.attr(unix.S_IFREG|0o600, 0), nil }

// Open implements vfs.Inode; opens go through OpenAs.
func (m *memNode) Open(int) (vfs.File, error) { return nil, unix.EACCES }

// OpenAs implements vfs.PIDOpener: the opener needs ptrace access (mm_access).
func (m *memNode) OpenAs(pid int32, flags int) (vfs.File, error) {
	if flags&unix.O_DIRECT != 0 {
		return nil, unix.EINVAL
	}
	opener := m.p.k.GroupByPID(pid)
	if opener == nil {
		return nil, unix.ESRCH
	}
	t := opener.Leader()
	if t == nil {
		return nil, unix.ESRCH
	}
	as, err := t.AccessMM(m.tg)
	if err == unix.EPERM {
		return nil, unix.EACCES
	}
	if err != nil {
		return nil, err
	}
	return &memFile{as: as}, nil
}

// memFile is an open /proc/PID/mem.
type memFile struct {
	as *mm.MM
}

// rw moves bytes between bufs and the address space at off: what it could before the
// first address that is not there, EIO if none (mem_rw).
func (f *memFile) rw(bufs [][]byte, off int64, write bool) (int64, error) {
	var n int64
	for _, b := range bufs {
		var got int
		if write {
			got, _ = f.as.CopyOut(uint64(off), b)
		} else {
			got, _ = f.as.CopyIn(uint64(off), b)
		}
		n += int64(got)
		off += int64(got)
		if got < len(b) {
			break
		}
	}
	if n == 0 && total(bufs) > 0 {
		return 0, unix.EIO
	}
	return n, nil
}

func total(bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
}

func (f *memFile) Read(_ *vfs.FileDescription, dst [][]byte, off int64) (int64, error) {
	return f.rw(dst, off, false)
}

func (f *memFile) Write(_ *vfs.FileDescription, src [][]byte, off int64) (int64, error) {
	return f.rw(src, off, true)
}

// Seek is mem_lseek: from the start or the current offset only.
func (f *memFile) Seek(_ *vfs.FileDescription, cur, off int64, whence int) (int64, error) {
	switch whence {
	case unix.SEEK_SET:
		return off, nil
	case unix.SEEK_CUR:
		return cur + off, nil
	}
	return 0, unix.EINVAL
}

func (f *memFile) Release() { f.as.DecUsers() }
