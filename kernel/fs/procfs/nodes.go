package procfs

import (
	"hash/fnv"
	"io"
	"strings"
	"time"

	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// procfs inodes are generated on demand; their numbers are stable hashes of their paths so
// that repeated lookups agree.
func inoOf(path string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(path))
	return h.Sum64() & 0x7fffffff
}

const procDev = 0x16 // what the host's procfs typically reports

type node struct {
	// boot is when the kernel started: every node's times.
	boot time.Time
	path string
	uid  uint32
	gid  uint32
}

func (n node) attr(mode uint32, size int64) vfs.Attr {
	t := unix.NsecToTimespec(n.boot.UnixNano())
	return vfs.Attr{Mode: mode, Ino: inoOf(n.path), Dev: procDev, Nlink: 1, UID: n.uid, GID: n.gid, Size: size,
		Blksize: 1024, Atime: t, Mtime: t, Ctime: t}
}

func (node) SetAttr(vfs.SetAttr) error { return unix.EPERM }
func (node) StatFS() (vfs.StatFS, error) {
	return vfs.StatFS{Type: 0x9fa0, Bsize: 4096, Frsize: 4096, Namelen: 255}, nil
}

// entry is one child of a generated directory.
type entry struct {
	name string
	in   vfs.Inode
}

// dirNode is a directory whose children are computed on each lookup/readdir.
type dirNode struct {
	node
	vfs.ReadOnlyDir
	list func() []entry
	// perm is the permission bits (0: 0555); /proc/PID/fd is 0500, ns 0511.
	perm uint32
}

// MissFails implements vfs.MissFailer: procfs lookups of missing names fail (ENOENT).
func (d *dirNode) MissFails() {}

// Stat shows Linux's link count: 2 plus one per subdirectory (so /proc/PID/task counts
// the threads, which Chromium reads to tell whether it is single-threaded); sysctl
// directories under /proc/sys have 1, as on Linux.
func (d *dirNode) Stat() (vfs.Attr, error) {
	perm := d.perm
	if perm == 0 {
		perm = 0o555
	}
	a := d.attr(unix.S_IFDIR|perm, 0)
	if d.path == "/sys" || strings.HasPrefix(d.path, "/sys/") {
		return a, nil
	}
	a.Nlink = 2
	for _, e := range d.list() {
		if _, ok := e.in.(*dirNode); ok {
			a.Nlink++
		}
	}
	return a, nil
}
func (d *dirNode) Volatile() bool { return true }
func (d *dirNode) Lookup(name string) (vfs.Inode, error) {
	for _, e := range d.list() {
		if e.name == name {
			return e.in, nil
		}
	}
	return nil, unix.ENOENT
}
func (d *dirNode) Readdir() ([]vfs.Dirent, error) {
	es := d.list()
	out := make([]vfs.Dirent, 0, len(es))
	for _, e := range es {
		a, err := e.in.Stat()
		if err != nil {
			continue
		}
		out = append(out, vfs.Dirent{Name: e.name, Ino: a.Ino, Type: vfs.DTType(a.Mode)})
	}
	return out, nil
}

// fileNode is a read-only file whose contents are generated when it is opened.
type fileNode struct {
	node
	vfs.NotDir
	mode uint32
	gen  func() ([]byte, error)
}

func (f *fileNode) Stat() (vfs.Attr, error) { return f.attr(unix.S_IFREG|f.mode, 0), nil }
func (f *fileNode) Open(flags int) (vfs.File, error) {
	// Opening for writing is the permission check's to refuse (root may); such a file
	// has no write (EINVAL), nor direct I/O.
	if flags&unix.O_DIRECT != 0 {
		return nil, unix.EINVAL
	}
	b, err := f.gen()
	if err != nil {
		return nil, err
	}
	return &snapshot{data: b}, nil
}

// snapshot is an open generated file.
type snapshot struct{ data []byte }

func (s *snapshot) Read(_ *vfs.FileDescription, dst [][]byte, off int64) (int64, error) {
	var n int64
	for _, b := range dst {
		if off >= int64(len(s.data)) {
			break
		}
		c := copy(b, s.data[off:])
		n += int64(c)
		off += int64(c)
	}
	return n, nil
}
func (s *snapshot) Write(*vfs.FileDescription, [][]byte, int64) (int64, error) { return 0, unix.EINVAL }
func (s *snapshot) Release()                                                   {}

// ReadAt lets generated files be read by mmap (rare) and the loader.
func (s *snapshot) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(s.data)) {
		return 0, io.EOF
	}
	n := copy(p, s.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Seek supports SEEK_END on a generated file by its current contents.
func (s *snapshot) Seek(fd *vfs.FileDescription, cur, off int64, whence int) (int64, error) {
	var base int64
	switch whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		base = cur
	case unix.SEEK_END:
		base = int64(len(s.data))
	default:
		return 0, unix.EINVAL
	}
	if base+off < 0 {
		return 0, unix.EINVAL
	}
	return base + off, nil
}

// linkNode is a symlink with a computed target; with magic set it is a magic link.
type linkNode struct {
	node
	vfs.NotDir
	target func() (string, error)
}

func (l *linkNode) Stat() (vfs.Attr, error) {
	t, _ := l.target()
	return l.attr(unix.S_IFLNK|0o777, int64(len(t))), nil
}
func (l *linkNode) Readlink() (string, error)  { return l.target() }
func (l *linkNode) Open(int) (vfs.File, error) { return nil, unix.ELOOP }

type magicLink struct {
	linkNode
	to func() (vfs.VirtualDentry, error)
	// perm, when set, gives the link's permission bits (/proc/PID/fd/N: its access).
	perm func() uint32
}

// Stat shows the link's own permission bits when it has them (proc_fd_instantiate: r-x
// for a descriptor open for reading, -wx for writing), else 0777.
func (m *magicLink) Stat() (vfs.Attr, error) {
	a, err := m.linkNode.Stat()
	if err == nil && m.perm != nil {
		a.Mode = unix.S_IFLNK | m.perm()
	}
	return a, err
}

func (m *magicLink) Target() (vfs.VirtualDentry, error) { return m.to() }
