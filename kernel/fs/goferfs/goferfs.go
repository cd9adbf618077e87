// Package goferfs is the filesystem of host files: every inode is a handle held by the
// gofer, which serves only what the profile's view allows. Walks go one component at a time
// through the gofer (symlinks come back as targets and are resolved by the VFS in the
// sandbox's namespace); opens return FDs the gofer donated, so reads and writes do not
// round-trip. The kernel never opens a host path.
package goferfs

import (
	"os"
	"sync"
	"sync/atomic"

	"github.com/sbx-dev/sbx/gofer"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/fs/host"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// Inode is a gofer-backed file.
type Inode struct {
	h  *gofer.Handle
	ro bool
	// live is set on a read-only mount the host changes (gofer.Attr.Live): attributes
	// and names are revalidated as on a read-write mount.
	live bool
	// cache holds the sandbox's shared pages of host files (shared.go).
	cache *Cache

	mu sync.Mutex
	// attr is the last attributes seen; target a symlink's target. protected by mu
	attr   gofer.Attr
	target string
	// roFile is a read-only FD of a file on a read-only mount, shared by every read-only
	// open of it: descriptions keep their own offsets and read with pread, so one donated FD
	// serves them all and later opens cost no gofer round trip. protected by mu
	roFile *os.File
	// opened is a read-only FD the lookup got with the file (LookupOpening), for the open
	// that follows it on a read-write mount (on a read-only one it becomes roFile).
	// protected by mu
	opened *os.File
	// granted is the end the gofer allows the file to grow to under the disk limit
	// (disk.go). protected by mu
	granted int64
	// namesWD is the host watch of a directory whose misses are cached (names.go), 0 if
	// none yet, -1 if the host would not watch it; namesEpoch moves on at each of its
	// events. protected by mu (namesWD)
	namesWD    int32
	namesEpoch atomic.Uint64
	// watch is the host watch of the file, once it has one (namesWD > 0); attrs says attr
	// is current as long as the watch's epoch is attrEpoch (attrs.go); stats counts the
	// attributes asked for without a watch. protected by mu
	watch     *watched
	attrs     bool
	attrEpoch uint64
	stats     int
	// xattrs are Getxattr answers valid while the watch's epoch is xattrEpoch (read-only
	// mounts: 0 for good). protected by mu
	xattrs     map[string]xattrAnswer
	xattrEpoch uint64
	// sampled counts the walks below this directory still to count after a plain
	// listing of it (plus.go). protected by mu
	sampled int
}

var _ vfs.Inode = (*Inode)(nil)

// Root attaches to mount index of the gofer's view; shared mappings of its files use cache.
func Root(c *gofer.Client, index int, cache *Cache) (*Inode, error) {
	e, err := c.Attach(index)
	if err != nil {
		return nil, err
	}
	return fromEntry(e, cache), nil
}

func fromEntry(e gofer.Entry, cache *Cache) *Inode {
	return &Inode{h: e.Handle, ro: e.Attr.ReadOnly, live: e.Attr.Live, attr: e.Attr, target: e.Target, cache: cache}
}

func toAttr(a gofer.Attr) vfs.Attr {
	return vfs.Attr{Mode: a.Mode, Ino: a.Ino, Dev: a.Dev, Rdev: a.Rdev, Nlink: a.Nlink, UID: a.UID, GID: a.GID,
		Size: a.Size, Blocks: a.Blocks, Blksize: int64(a.BlkSize),
		Atime: unix.Timespec{Sec: a.Atime.Sec, Nsec: a.Atime.Nsec}, Mtime: unix.Timespec{Sec: a.Mtime.Sec, Nsec: a.Mtime.Nsec},
		Ctime: unix.Timespec{Sec: a.Ctime.Sec, Nsec: a.Ctime.Nsec}}
}

// Stat implements vfs.Inode. Files on read-only mounts keep their walked attributes;
// others are asked afresh (their size changes through donated FDs, and other programs
// change them on the host), unless the host watch of the file says they did not change
// since they were last asked for (attrs.go). Live read-only mounts (gofer.Mount.Live) are
// treated as read-write ones here: the watch a directory gets at its first stat also
// revalidates the names looked up in it (ChildEpoch), so a file renamed over on the host
// is seen.
func (in *Inode) Stat() (vfs.Attr, error) {
	in.mu.Lock()
	a, ro := in.attr, in.ro && !in.live
	in.mu.Unlock()
	if ro || a.Kind == gofer.KindSymlink {
		return toAttr(a), nil
	}
	epoch, watched := in.currentEpoch()
	if watched {
		in.mu.Lock()
		if in.attrs && in.attrEpoch == epoch {
			a = in.attr
			in.mu.Unlock()
			return toAttr(a), nil
		}
		in.mu.Unlock()
	}
	fresh, err := in.h.Stat()
	if err != nil {
		return vfs.Attr{}, err
	}
	in.mu.Lock()
	in.attr = fresh
	// The epoch was taken before the request: a change after it moves the epoch on.
	in.attrs, in.attrEpoch = watched, epoch
	in.stats++
	in.mu.Unlock()
	if !watched {
		in.watchAttrs()
	}
	return toAttr(fresh), nil
}

// SetAttr implements vfs.Inode.
func (in *Inode) SetAttr(s vfs.SetAttr) error {
	if in.ro {
		return unix.EROFS
	}
	var g gofer.SetAttr
	g.Mode, g.UID, g.GID, g.Size = s.Mode, s.UID, s.GID, s.Size
	if s.Atime != nil {
		g.Atime = &gofer.Timespec{Sec: s.Atime.Sec, Nsec: s.Atime.Nsec}
	}
	if s.Mtime != nil {
		g.Mtime = &gofer.Timespec{Sec: s.Mtime.Sec, Nsec: s.Mtime.Nsec}
	}
	if s.Size != nil {
		return in.truncate(func() error { return in.h.SetAttr(g) })
	}
	return in.h.SetAttr(g)
}

// StatFS implements vfs.Inode.
func (in *Inode) StatFS() (vfs.StatFS, error) {
	s, err := in.h.StatFS()
	if err != nil {
		return vfs.StatFS{}, err
	}
	return vfs.StatFS{Type: s.Type, Bsize: s.Bsize, Blocks: s.Blocks, Bfree: s.Bfree, Bavail: s.Bavail, Files: s.Files,
		Ffree: s.Ffree, Namelen: s.NameLen, Frsize: s.Frsize, Flags: s.Flags}, nil
}

// Open implements vfs.Inode.
func (in *Inode) Open(flags int) (vfs.File, error) {
	in.mu.Lock()
	kind, key := in.attr.Kind, fileKey{in.attr.Dev, in.attr.Ino}
	in.mu.Unlock()
	if kind == gofer.KindDir {
		return vfs.NewDirFile(), nil
	}
	if kind == gofer.KindFIFO && in.cache != nil {
		// A FIFO's pipe is the sandbox's own, shared by every open of the host file.
		return in.cache.fifo(key).OpenFIFO(flags)
	}
	if kind == gofer.KindFIFO || kind == gofer.KindSocket || kind == gofer.KindChar || kind == gofer.KindBlock {
		return nil, unix.ENXIO
	}
	if in.ro && kind == gofer.KindRegular && flags&(unix.O_ACCMODE|unix.O_TRUNC|unix.O_APPEND) == unix.O_RDONLY {
		in.mu.Lock()
		defer in.mu.Unlock()
		if in.roFile == nil {
			f, err := in.h.Open(unix.O_RDONLY)
			if err != nil {
				return nil, err
			}
			in.roFile = f
		}
		return &hostFile{File: host.New(int(in.roFile.Fd()), false), shared: true, in: in}, nil
	}
	in.mu.Lock()
	opened := in.opened
	in.opened = nil
	in.mu.Unlock()
	if opened != nil {
		if kind == gofer.KindRegular && flags&(unix.O_ACCMODE|unix.O_TRUNC|unix.O_APPEND|unix.O_DIRECT|unix.O_NOATIME|unix.O_SYNC|unix.O_DSYNC) == unix.O_RDONLY {
			return newHostFile(opened, in, flags), nil
		}
		opened.Close()
	}
	f, err := in.h.Open(hostOpenFlags(flags, unix.O_NOATIME|unix.O_DIRECT))
	if err != nil {
		return nil, err
	}
	return newHostFile(f, in, flags), nil
}

// hostOpenFlags are the flags of an open the gofer makes on the host for flags: the access
// mode (3, which only ioctls use, opens for both), the flags that change how the host file
// behaves, and those of extra the caller's request allows. The rest (O_ASYNC, O_LARGEFILE,
// O_CLOEXEC, ...) are the kernel's own description's.
func hostOpenFlags(flags, extra int) int {
	acc := flags & unix.O_ACCMODE
	if acc == unix.O_ACCMODE {
		acc = unix.O_RDWR
	}
	return acc | flags&(unix.O_TRUNC|unix.O_APPEND|unix.O_NONBLOCK|unix.O_DSYNC|unix.O_SYNC|extra)
}

// hostFile keeps the donated *os.File alive for as long as the kernel uses its FD.
type hostFile struct {
	*host.File
	f *os.File
	// shared files use their inode's cached FD, which outlives them.
	shared bool
	// in is the file's inode; writable says the FD was opened for writing.
	in       *Inode
	writable bool
}

func newHostFile(f *os.File, in *Inode, flags int) *hostFile {
	acc := flags & unix.O_ACCMODE
	return &hostFile{File: host.New(int(f.Fd()), false), f: f, in: in, writable: acc == unix.O_WRONLY || acc == unix.O_RDWR}
}

func (h *hostFile) Release() {
	if !h.shared {
		h.f.Close()
	}
}

// Readlink implements vfs.Inode.
func (in *Inode) Readlink() (string, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.attr.Kind != gofer.KindSymlink {
		return "", unix.EINVAL
	}
	return in.target, nil
}

// Lookup implements vfs.Inode. On a read-only mount a regular file comes opened with its
// walk (LookupOpening): its read-only FD is shared by every later open of it (roFile), so
// a file that is looked up and then opened (stat then open: tar, Python's imports, git)
// costs one round trip, not two. The gofer holds a handle FD per file looked up anyway.
func (in *Inode) Lookup(name string) (vfs.Inode, error) {
	in.sample()
	if in.ro {
		return in.LookupOpening(name)
	}
	return in.lookupWatched(name, false)
}

// LookupOpening implements vfs.OpeningLookuper: the gofer opens a regular file it finds
// read-only and donates the FD with the walk's reply, for the open that follows.
func (in *Inode) LookupOpening(name string) (vfs.Inode, error) {
	if !in.ro {
		return in.lookupWatched(name, true)
	}
	e, f, err := in.h.WalkOpen(name)
	if err != nil {
		return nil, err
	}
	n := fromEntry(e, in.cache)
	n.adopt(f)
	return n, nil
}

// adopt keeps the FD a walk opened the file with for its next open.
func (n *Inode) adopt(f *os.File) {
	if f != nil {
		if n.ro {
			n.roFile = f
		} else {
			n.opened = f
		}
	}
}

// Readdir implements vfs.Inode.
func (in *Inode) Readdir() ([]vfs.Dirent, error) {
	ds, err := in.h.Getdents()
	if err != nil {
		return nil, err
	}
	out := make([]vfs.Dirent, 0, len(ds))
	for _, d := range ds {
		out = append(out, vfs.Dirent{Name: d.Name, Ino: d.Ino, Type: dtOf(d.Kind)})
	}
	return out, nil
}

func dtOf(k gofer.Kind) uint8 {
	switch k {
	case gofer.KindRegular:
		return unix.DT_REG
	case gofer.KindDir:
		return unix.DT_DIR
	case gofer.KindSymlink:
		return unix.DT_LNK
	case gofer.KindFIFO:
		return unix.DT_FIFO
	case gofer.KindSocket:
		return unix.DT_SOCK
	case gofer.KindChar:
		return unix.DT_CHR
	case gofer.KindBlock:
		return unix.DT_BLK
	}
	return unix.DT_UNKNOWN
}

func (in *Inode) writable() error {
	if in.ro {
		return unix.EROFS
	}
	return nil
}

// Create implements vfs.Inode.
func (in *Inode) Create(name string, flags int, mode uint32, c *vfs.Creds) (vfs.Inode, vfs.File, error) {
	if err := in.writable(); err != nil {
		return nil, nil, err
	}
	e, f, err := in.h.Create(name, hostOpenFlags(flags, 0)|unix.O_EXCL, mode)
	if err != nil {
		return nil, nil, err
	}
	n := fromEntry(e, in.cache)
	return n, newHostFile(f, n, flags), nil
}

// Mkdir implements vfs.Inode.
func (in *Inode) Mkdir(name string, mode uint32, c *vfs.Creds) error {
	if err := in.writable(); err != nil {
		return err
	}
	_, err := in.h.Mkdir(name, mode)
	return err
}

// Mknod implements vfs.Inode: FIFOs and sockets only; device nodes are never created.
func (in *Inode) Mknod(name string, mode uint32, dev uint64, c *vfs.Creds) error {
	if err := in.writable(); err != nil {
		return err
	}
	switch mode & unix.S_IFMT {
	case unix.S_IFIFO, unix.S_IFSOCK:
	default:
		return unix.EPERM
	}
	_, err := in.h.Mknod(name, mode)
	return err
}

// Symlink implements vfs.Inode.
func (in *Inode) Symlink(name, target string, c *vfs.Creds) error {
	if err := in.writable(); err != nil {
		return err
	}
	_, err := in.h.Symlink(name, target)
	return err
}

// Link implements vfs.Inode.
func (in *Inode) Link(name string, target vfs.Inode) error {
	if err := in.writable(); err != nil {
		return err
	}
	t, ok := target.(*Inode)
	if !ok {
		return unix.EXDEV
	}
	_, err := in.h.Link(t.h, name)
	return err
}

// Unlink implements vfs.Inode.
func (in *Inode) Unlink(name string) error {
	if err := in.writable(); err != nil {
		return err
	}
	return in.h.Unlink(name, 0)
}

// Rmdir implements vfs.Inode.
func (in *Inode) Rmdir(name string) error {
	if err := in.writable(); err != nil {
		return err
	}
	return in.h.Unlink(name, unix.AT_REMOVEDIR)
}

// FileHandle implements vfs.HandleExporter as the host's ext4 does (FILEID_INO32_GEN):
// the inode number and a generation the gofer does not pass (0).
func (in *Inode) FileHandle() (int32, []byte) {
	in.mu.Lock()
	ino := in.attr.Ino
	in.mu.Unlock()
	b := make([]byte, abi.SizeofFid32)
	f := abi.Fid32{Ino: uint32(ino)}
	f.Encode(b)
	return 1, b
}

// StatxTraits implements vfs.StatxTraiter: the host filesystems a sandbox is shown (ext4,
// xfs, btrfs, tmpfs) have multigrain times since Linux 6.13; birth times and which file
// attributes they support are theirs to say, and the gofer does not ask.
func (in *Inode) StatxTraits() (multigrain, btime bool, attrMask uint64) { return true, false, 0 }

// Removed implements vfs.RemovedNotifier: the next stat asks the gofer.
func (in *Inode) Removed() {
	in.mu.Lock()
	in.attrs = false
	in.mu.Unlock()
}

// Rename implements vfs.Inode.
func (in *Inode) Rename(oldName string, newDir vfs.Inode, newName string, flags uint32) error {
	if err := in.writable(); err != nil {
		return err
	}
	nd, ok := newDir.(*Inode)
	if !ok {
		return unix.EXDEV
	}
	return in.h.Rename(oldName, nd.h, newName, flags)
}

// Getxattr implements vfs.Xattrer. Answers are cached as attributes are (attrs.go): on a
// read-only mount for good, else while the file's watch reports no change (IN_ATTRIB
// covers extended attributes); `ls -l` asks each file for security.selinux.
func (in *Inode) Getxattr(name string) ([]byte, error) {
	epoch, ok := uint64(0), in.ro
	if !ok {
		epoch, ok = in.currentEpoch()
	}
	if ok {
		in.mu.Lock()
		if a, hit := in.xattrs[name]; hit && in.xattrEpoch == epoch {
			in.mu.Unlock()
			return append([]byte(nil), a.value...), a.err
		}
		in.mu.Unlock()
	}
	v, err := in.h.Getxattr(name)
	if ok && (err == nil || err == unix.ENODATA || err == unix.EOPNOTSUPP) {
		in.mu.Lock()
		if in.xattrs == nil || in.xattrEpoch != epoch || len(in.xattrs) >= maxXattrsCached {
			in.xattrs, in.xattrEpoch = map[string]xattrAnswer{}, epoch
		}
		in.xattrs[name] = xattrAnswer{append([]byte(nil), v...), err}
		in.mu.Unlock()
	}
	return v, err
}

// xattrAnswer is a cached Getxattr answer.
type xattrAnswer struct {
	value []byte
	err   error
}

// maxXattrsCached bounds the extended attributes cached per file.
const maxXattrsCached = 16

// Listxattr implements vfs.Xattrer.
func (in *Inode) Listxattr() ([]string, error) { return in.h.Listxattr() }

// Removexattr implements vfs.XattrRemover.
func (in *Inode) Removexattr(name string) error {
	if in.ro {
		return unix.EROFS
	}
	return in.h.Removexattr(name)
}

// Setxattr implements vfs.Xattrer.
func (in *Inode) Setxattr(name string, value []byte, flags int) error {
	if in.ro {
		return unix.EROFS
	}
	return in.h.Setxattr(name, value, flags)
}

// HostBackingFD implements vfs.HostBacked: a file opened read-only may be passed to a host
// peer as it is; a writable one may not, since writes through it would escape the disk
// limit's accounting (disk.go).
func (h *hostFile) HostBackingFD() (int, bool) { return h.HostFD(), !h.writable }
