// Package tmpfs is the in-memory filesystem: the sandbox's root skeleton, /tmp, a private
// home, /dev/shm and /dev itself (with device nodes opened through a device table).
// Regular file contents live in the sandbox's memory file, so shared mappings of tmpfs
// files (and of memfds, which are tmpfs files without a name) map the same pages.
//
// Locking: FS.mu serialises namespace changes (create, unlink, rename) across the whole
// filesystem; each inode's mu protects its attributes and contents.
package tmpfs

import (
	"github.com/sbx-dev/sbx/kernel/fs/pipe"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// OpenDevice opens the character device rdev; nil means device nodes cannot be opened.
type OpenDevice func(rdev uint64, flags int) (vfs.File, error)

// FIFOOpener opens a named pipe's end; the pipe object is created on first use.
type FIFOOpener func(key any, flags int) (vfs.File, error)

// FS is one tmpfs instance.
type FS struct {
	mf      *mm.MemoryFile
	dev     uint64
	devices OpenDevice
	fifos   FIFOOpener
	nextIno atomic.Uint64
	mu      sync.Mutex // serialises directory changes
	magic   int64
	// hostBacked: regular files are born host-backed (Options.HostBacked).
	hostBacked bool
	// singleGrain: Options.SingleGrain.
	singleGrain bool
	// limits are the size and inode limits and their use (limits.go).
	limits limits
	// params are the other mount options. protected by limits.mu
	params Params
}

// Options configure a new tmpfs.
type Options struct {
	Dev     uint64
	Devices OpenDevice
	FIFOs   FIFOOpener
	Mode    uint32 // root directory permissions
	UID     uint32
	GID     uint32
	Magic   int64 // statfs f_type; TMPFS_MAGIC by default
	// HostBacked makes every regular file created in it host-backed (host.go): /dev/shm,
	// whose files apps hand to host peers as they do memfds.
	HostBacked bool
	// Limits are size= and nr_inodes= in pages and inodes (0: none). Exact makes statfs
	// report them as Linux does (a tmpfs the app mounts); without it statfs reports a
	// generous fixed size (the sandbox's own mounts).
	Limits Limits
	Exact  bool
	// SingleGrain is devtmpfs's timestamps: statx reports mtime and ctime unasked (tmpfs
	// proper has multigrain times, reported only when asked for).
	SingleGrain bool
}

// tmpfsMagic is TMPFS_MAGIC, statfs's f_type of a tmpfs.
const tmpfsMagic = 0x01021994

// New returns a tmpfs and its root directory inode.
func New(mf *mm.MemoryFile, o Options) (*FS, *Inode) {
	fs := &FS{mf: mf, dev: o.Dev, devices: o.Devices, fifos: o.FIFOs, magic: o.Magic, hostBacked: o.HostBacked,
		singleGrain: o.SingleGrain}
	if fs.magic == 0 {
		fs.magic = tmpfsMagic
	}
	mode := o.Mode
	if mode == 0 {
		mode = 0o1777
	}
	fs.limits = limits{maxBlocks: o.Limits.Blocks, maxInodes: o.Limits.Inodes, exact: o.Exact, usedInodes: 1}
	root := fs.newInode(unix.S_IFDIR|mode, o.UID, o.GID)
	root.attr.Nlink = 2
	root.charged = true
	return fs, root
}

func now() unix.Timespec {
	return unix.NsecToTimespec(time.Now().UnixNano())
}

func (fs *FS) newInode(mode, uid, gid uint32) *Inode {
	t := now()
	in := &Inode{fs: fs, attr: vfs.Attr{Mode: mode, Ino: fs.nextIno.Add(1), Dev: fs.dev, Nlink: 1, UID: uid, GID: gid,
		Blksize: 4096, Atime: t, Mtime: t, Ctime: t, Btime: t}}
	if mode&unix.S_IFMT == unix.S_IFDIR {
		in.children = make(map[string]*Inode)
	}
	if mode&unix.S_IFMT == unix.S_IFREG {
		in.seals = SealSeal
	}
	return in
}

// Inode is a tmpfs file, directory, symlink, FIFO, socket or device node.
type Inode struct {
	fs *FS

	mu sync.Mutex
	// attr is protected by mu
	attr vfs.Attr
	// children and order hold a directory's entries (order: creation order). protected by mu
	children map[string]*Inode
	order    []string
	// target is a symlink's target. protected by mu
	target string
	// data: a regular file's contents are [memOff, memOff+size) of the memory file, with
	// capacity bytes reserved there. protected by mu
	memOff, capacity int64
	// parent is a directory's parent, for rename loop checks. protected by fs.mu
	parent *Inode
	// mapRefs counts shared mappings of the contents (the range cannot move while mapped).
	// protected by mu
	mapRefs int
	// seals are a regular file's F_SEAL_* (seals.go). protected by mu
	seals uint32
	// fifo is a named pipe's buffer, from its first open on. protected by mu
	fifo *pipe.Pipe
	// xattrs are the extended attributes (xattr.go). protected by mu
	xattrs map[string][]byte
	// host holds a host-backed file's memfd (host.go); opens counts its open files.
	// protected by mu
	host  *hostBacking
	opens int
	// pages are the pages holding contents, charged to the filesystem; charged says the
	// inode is counted in its inode limit, symBlock that a long symlink target took a
	// page (limits.go). protected by mu
	pages   pageSet
	charged bool
	// linkable: an O_TMPFILE file opened without O_EXCL, not linked yet (Linux's
	// I_LINKABLE). protected by mu
	linkable bool
	symBlock bool
	// pins counts O_PATH descriptions holding the file (Retain); dead says the file was
	// freed: no name, open file, mapping or pin was left (maybeFreeLocked). protected by mu
	pins int
	dead bool
}

var _ vfs.Inode = (*Inode)(nil)

// NewFile returns an unnamed regular file (memfd_create, O_TMPFILE).
func (fs *FS) NewFile(mode, uid, gid uint32) *Inode {
	in := fs.newInode(unix.S_IFREG|mode&0o7777, uid, gid)
	in.attr.Nlink = 0
	return in
}

// Stat implements vfs.Inode.
func (in *Inode) Stat() (vfs.Attr, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.host != nil {
		in.hostSizeLocked()
		var st unix.Stat_t
		if unix.Fstat(in.host.fd, &st) == nil {
			a := in.attr
			a.Blocks = st.Blocks
			return a, nil
		}
	}
	a := in.attr
	a.Blocks = (in.usedBytesLocked() + 511) / 512
	return a, nil
}

func (in *Inode) usedBytesLocked() int64 {
	if in.attr.Mode&unix.S_IFMT == unix.S_IFREG {
		// The pages that hold contents, as Linux counts a tmpfs file's blocks: those
		// written or allocated (charged) and those filled through a shared mapping.
		data := in.fs.mf.DataBytes(in.memOff, min(in.capacity, (in.attr.Size+pageSize-1)&^(pageSize-1)))
		return max(in.pages.n*pageSize, data)
	}
	if in.attr.Mode&unix.S_IFMT == unix.S_IFDIR {
		return 0
	}
	return 0
}

// SetAttr implements vfs.Inode.
func (in *Inode) SetAttr(a vfs.SetAttr) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	t := now()
	if a.Size != nil {
		if in.attr.Mode&unix.S_IFMT == unix.S_IFDIR {
			return unix.EISDIR
		}
		if in.attr.Mode&unix.S_IFMT != unix.S_IFREG {
			return unix.EINVAL
		}
		if in.host != nil {
			in.hostSizeLocked()
		}
		if err := in.resizeAllowedLocked(*a.Size); err != nil {
			return err
		}
		if err := in.truncateLocked(*a.Size); err != nil {
			return err
		}
		in.attr.Mtime = t
	}
	if a.Mode != nil && in.seals&SealExec != 0 && (in.attr.Mode^*a.Mode)&0o111 != 0 {
		return unix.EPERM
	}
	if a.Mode != nil {
		in.attr.Mode = in.attr.Mode&unix.S_IFMT | *a.Mode&0o7777
	}
	if a.UID != nil {
		in.attr.UID = *a.UID
	}
	if a.GID != nil {
		in.attr.GID = *a.GID
	}
	if a.Atime != nil {
		in.attr.Atime = *a.Atime
	}
	if a.Mtime != nil {
		in.attr.Mtime = *a.Mtime
	}
	in.attr.Ctime = t
	return nil
}

// StatxTraits implements vfs.StatxTraiter: a tmpfs (shmem) knows the immutable, append
// and nodump attributes, has birth times and multigrain times (sysfs, also made here, has
// none of them; devtmpfs's times are single-grain).
func (in *Inode) StatxTraits() (multigrain, btime bool, attrMask uint64) {
	if in.fs.magic != tmpfsMagic {
		return false, false, 0
	}
	return !in.fs.singleGrain, true, abi.STATX_ATTR_IMMUTABLE | abi.STATX_ATTR_APPEND | abi.STATX_ATTR_NODUMP
}

// FileHandle implements vfs.HandleExporter as shmem_encode_fh: generation (always 0
// here), then the inode number's low and high halves; type 1. sysfs (made here too) gives
// none.
func (in *Inode) FileHandle() (int32, []byte) {
	if in.fs.magic != tmpfsMagic {
		return 0, nil
	}
	ino := in.attr.Ino // fixed at creation
	b := make([]byte, abi.SizeofShmemFid)
	f := abi.ShmemFid{InoLo: uint32(ino), InoHi: uint32(ino >> 32)}
	f.Encode(b)
	return 1, b
}

// KillPrivs implements vfs.PrivKiller.
func (in *Inode) KillPrivs(c *vfs.Creds) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if m, ok := vfs.KilledPrivs(c, in.attr.Mode, in.attr.GID); ok {
		in.attr.Mode = m
		in.attr.Ctime = now()
	}
}

// StatFS implements vfs.Inode.
func (in *Inode) StatFS() (vfs.StatFS, error) {
	blocks, bfree, files, ffree := in.fs.statfsCounts()
	return vfs.StatFS{Type: in.fs.magic, Bsize: pageSize, Frsize: pageSize, Blocks: blocks, Bfree: bfree, Bavail: bfree,
		Files: files, Ffree: ffree, Namelen: 255}, nil
}

// FS returns the filesystem the inode belongs to.
func (in *Inode) FS() *FS { return in.fs }

// Readlink implements vfs.Inode.
func (in *Inode) Readlink() (string, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.attr.Mode&unix.S_IFMT != unix.S_IFLNK {
		return "", unix.EINVAL
	}
	return in.target, nil
}

// Open implements vfs.Inode.
func (in *Inode) Open(flags int) (vfs.File, error) {
	in.mu.Lock()
	mode, rdev := in.attr.Mode, in.attr.Rdev
	in.mu.Unlock()
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return vfs.NewDirFile(), nil
	case unix.S_IFREG:
		in.mu.Lock()
		defer in.mu.Unlock()
		if in.dead {
			// Its last name went after the walk found it, and its contents with it: the
			// open resolves the path again (what it would have found a moment later).
			return nil, unix.ENOENT
		}
		if flags&unix.O_TRUNC != 0 {
			// Like do_truncate for an open: the times move even when the size does not.
			if err := in.truncateLocked(0); err != nil {
				return nil, err
			}
			t := now()
			in.attr.Mtime, in.attr.Ctime = t, t
		}
		in.opens++
		return &regularFile{in: in}, nil
	case unix.S_IFCHR:
		if in.fs.devices == nil {
			return nil, unix.ENXIO
		}
		return in.fs.devices(rdev, flags)
	case unix.S_IFIFO:
		if in.fs.fifos != nil {
			return in.fs.fifos(in, flags)
		}
		// The FIFO's pipe lives with its inode, made at the first open.
		in.mu.Lock()
		if in.fifo == nil {
			in.fifo = pipe.New()
		}
		p := in.fifo
		in.mu.Unlock()
		return p.OpenFIFO(flags)
	case unix.S_IFSOCK:
		return nil, unix.ENXIO
	}
	return nil, unix.ENXIO
}

// Lookup implements vfs.Inode.
func (in *Inode) Lookup(name string) (vfs.Inode, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.children == nil {
		return nil, unix.ENOTDIR
	}
	c, ok := in.children[name]
	if !ok {
		return nil, unix.ENOENT
	}
	return c, nil
}

// Readdir implements vfs.Inode.
func (in *Inode) Readdir() ([]vfs.Dirent, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.children == nil {
		return nil, unix.ENOTDIR
	}
	out := make([]vfs.Dirent, 0, len(in.order))
	for _, name := range in.order {
		c := in.children[name]
		c.mu.Lock()
		out = append(out, vfs.Dirent{Name: name, Ino: c.attr.Ino, Type: vfs.DTType(c.attr.Mode)})
		c.mu.Unlock()
	}
	return out, nil
}

// addLocked links c as name. Preconditions: fs.mu and in.mu held; name absent.
func (in *Inode) addLocked(name string, c *Inode) {
	in.children[name] = c
	in.order = append(in.order, name)
	t := now()
	in.attr.Mtime, in.attr.Ctime = t, t
	if isDirInode(c) {
		in.attr.Nlink++
		c.parent = in
	}
}

// removeLocked unlinks name. Preconditions: fs.mu and in.mu held; name present.
func (in *Inode) removeLocked(name string) *Inode {
	c := in.children[name]
	delete(in.children, name)
	for i, n := range in.order {
		if n == name {
			in.order = append(in.order[:i], in.order[i+1:]...)
			break
		}
	}
	t := now()
	in.attr.Mtime, in.attr.Ctime = t, t
	if isDirInode(c) {
		in.attr.Nlink--
	}
	return c
}

// create links c as name, charging an inode for it (a new inode, or one more link of an
// existing one: shmem_link reserves one too).
func (in *Inode) create(name string, c *Inode, isNew bool) error {
	return in.addChild(name, c, isNew, true)
}

// addChild is create, charging an inode only when charge is set (not for the first name of
// an O_TMPFILE file, charged when it was made).
func (in *Inode) addChild(name string, c *Inode, isNew, charge bool) error {
	in.fs.mu.Lock()
	defer in.fs.mu.Unlock()
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.children == nil {
		return unix.ENOTDIR
	}
	if in.attr.Nlink == 0 {
		return unix.ENOENT
	}
	if _, ok := in.children[name]; ok {
		return unix.EEXIST
	}
	if charge {
		if err := in.fs.chargeInode(); err != nil {
			return err
		}
	}
	if isNew {
		c.charged = true // c is not yet reachable
	}
	in.addLocked(name, c)
	return nil
}

func (in *Inode) gidForChild(c *vfs.Creds) uint32 {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.attr.Mode&unix.S_ISGID != 0 {
		return in.attr.GID
	}
	return c.FSGID
}

// Create implements vfs.Inode.
func (in *Inode) Create(name string, flags int, mode uint32, c *vfs.Creds) (vfs.Inode, vfs.File, error) {
	n := in.fs.newInode(unix.S_IFREG|mode&0o7777, c.FSUID, in.gidForChild(c))
	if in.fs.hostBacked {
		// When the host refuses one more memfd, the file lives in the memory file.
		_ = n.backByHost(name)
	}
	if err := in.create(name, n, true); err != nil {
		n.mu.Lock()
		n.attr.Nlink = 0
		n.maybeFreeLocked()
		n.mu.Unlock()
		return nil, nil, err
	}
	n.mu.Lock()
	n.opens++
	n.mu.Unlock()
	return n, &regularFile{in: n}, nil
}

// Tmpfile implements vfs.TmpfileCreator: a regular file in no directory, charged one inode
// as any file (shmem_tmpfile), linkable once unless excl.
func (in *Inode) Tmpfile(mode uint32, excl bool, c *vfs.Creds) (vfs.Inode, vfs.File, error) {
	in.mu.Lock()
	gone := in.attr.Nlink == 0
	in.mu.Unlock()
	if gone {
		return nil, nil, unix.ENOENT
	}
	n := in.fs.newInode(unix.S_IFREG|mode&0o7777, c.FSUID, in.gidForChild(c))
	in.fs.mu.Lock()
	err := in.fs.chargeInode()
	in.fs.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	n.charged = true
	n.attr.Nlink = 0
	n.linkable = !excl
	n.opens++
	return n, &regularFile{in: n}, nil
}

// Mkdir implements vfs.Inode.
func (in *Inode) Mkdir(name string, mode uint32, c *vfs.Creds) error {
	n := in.fs.newInode(unix.S_IFDIR|mode&0o7777, c.FSUID, in.gidForChild(c))
	n.attr.Nlink = 2
	in.mu.Lock()
	if in.attr.Mode&unix.S_ISGID != 0 {
		n.attr.Mode |= unix.S_ISGID
	}
	in.mu.Unlock()
	return in.create(name, n, true)
}

// Mknod implements vfs.Inode.
func (in *Inode) Mknod(name string, mode uint32, dev uint64, c *vfs.Creds) error {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK:
	case unix.S_IFCHR, unix.S_IFBLK:
		// A whiteout (a character device 0:0) needs no privilege (Linux 5.8).
		whiteout := mode&unix.S_IFMT == unix.S_IFCHR && dev == 0
		if c.EUID != 0 && !whiteout {
			return unix.EPERM
		}
	default:
		return unix.EINVAL
	}
	n := in.fs.newInode(mode, c.FSUID, in.gidForChild(c))
	n.attr.Rdev = dev
	return in.create(name, n, true)
}

// MknodDevice adds a device node regardless of credentials (for building /dev).
func (in *Inode) MknodDevice(name string, mode uint32, rdev uint64) error {
	n := in.fs.newInode(mode, 0, 0)
	n.attr.Rdev = rdev
	return in.create(name, n, true)
}

// Symlink implements vfs.Inode.
func (in *Inode) Symlink(name, target string, c *vfs.Creds) error {
	n := in.fs.newInode(unix.S_IFLNK|0o777, c.FSUID, in.gidForChild(c))
	n.target = target
	n.attr.Size = int64(len(target))
	if len(target)+1 > shortSymlinkLen {
		// A long target takes a page (shmem_symlink).
		if !in.fs.chargeBlocks(1) {
			return unix.ENOSPC
		}
		n.symBlock = true
	}
	if err := in.create(name, n, true); err != nil {
		if n.symBlock {
			in.fs.unchargeBlocks(1)
		}
		return err
	}
	return nil
}

// Link implements vfs.Inode.
func (in *Inode) Link(name string, target vfs.Inode) error {
	t, ok := target.(*Inode)
	if !ok || t.fs != in.fs {
		return unix.EXDEV
	}
	t.mu.Lock()
	if t.attr.Mode&unix.S_IFMT == unix.S_IFDIR {
		t.mu.Unlock()
		return unix.EPERM
	}
	// An O_TMPFILE file gets its first name once; its inode is charged already.
	tmpfile := t.attr.Nlink == 0 && t.linkable
	if t.attr.Nlink == 0 && !tmpfile {
		t.mu.Unlock()
		return unix.ENOENT
	}
	t.mu.Unlock()
	if err := in.addChild(name, t, false, !tmpfile); err != nil {
		return err
	}
	t.mu.Lock()
	if tmpfile {
		t.linkable = false
	}
	t.attr.Nlink++
	t.attr.Ctime = now()
	t.mu.Unlock()
	return nil
}

// Unlink implements vfs.Inode.
func (in *Inode) Unlink(name string) error {
	in.fs.mu.Lock()
	defer in.fs.mu.Unlock()
	in.mu.Lock()
	defer in.mu.Unlock()
	c, ok := in.children[name]
	if !ok {
		return unix.ENOENT
	}
	c.mu.Lock()
	isDir := c.attr.Mode&unix.S_IFMT == unix.S_IFDIR
	c.mu.Unlock()
	if isDir {
		return unix.EISDIR
	}
	in.removeLocked(name)
	c.mu.Lock()
	c.unlinkLocked()
	c.attr.Ctime = now()
	c.mu.Unlock()
	return nil
}

// Rmdir implements vfs.Inode.
func (in *Inode) Rmdir(name string) error {
	in.fs.mu.Lock()
	defer in.fs.mu.Unlock()
	in.mu.Lock()
	defer in.mu.Unlock()
	c, ok := in.children[name]
	if !ok {
		return unix.ENOENT
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.children == nil {
		return unix.ENOTDIR
	}
	if len(c.children) != 0 {
		return unix.ENOTEMPTY
	}
	in.removeLocked(name)
	c.attr.Nlink = 0
	c.maybeFreeLocked()
	return nil
}

// Rename implements vfs.Inode.
func (in *Inode) Rename(oldName string, newDir vfs.Inode, newName string, flags uint32) error {
	nd, ok := newDir.(*Inode)
	if !ok || nd.fs != in.fs {
		return unix.EXDEV
	}
	fs := in.fs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	lockDirs(in, nd)
	defer unlockDirs(in, nd)
	src, ok := in.children[oldName]
	if !ok {
		return unix.ENOENT
	}
	if nd.children == nil || nd.attr.Nlink == 0 {
		return unix.ENOENT
	}
	dst, exists := nd.children[newName]
	if flags&unix.RENAME_NOREPLACE != 0 && exists {
		return unix.EEXIST
	}
	if flags&unix.RENAME_EXCHANGE != 0 {
		if !exists {
			return unix.ENOENT
		}
		in.children[oldName], nd.children[newName] = dst, src
		return nil
	}
	if src == dst {
		return nil
	}
	srcDir := isDirInode(src)
	// A directory may not move below itself.
	if srcDir {
		for p := nd; p != nil; p = fs.parentOf(p) {
			if p == src {
				return unix.EINVAL
			}
		}
	}
	if exists {
		dstDir := isDirInode(dst)
		switch {
		case srcDir && !dstDir:
			return unix.ENOTDIR
		case !srcDir && dstDir:
			return unix.EISDIR
		case dstDir:
			if dst == in || dst == nd {
				return unix.ENOTEMPTY
			}
			dst.mu.Lock()
			n := len(dst.children)
			dst.mu.Unlock()
			if n != 0 {
				return unix.ENOTEMPTY
			}
		}
		nd.removeLocked(newName)
		dst.mu.Lock()
		if dstDir {
			dst.attr.Nlink = 0
			dst.maybeFreeLocked()
		} else {
			dst.unlinkLocked()
		}
		dst.mu.Unlock()
	}
	in.removeLocked(oldName)
	nd.addLocked(newName, src)
	if src != in && src != nd {
		src.mu.Lock()
		src.attr.Ctime = now()
		src.mu.Unlock()
	}
	return nil
}

// unlinkLocked drops one link of a file that is not a directory: an extra link gives back
// the inode it charged (shmem_unlink), the last one leaves the file to be freed when no
// longer open or mapped. Preconditions: in.mu held.
func (in *Inode) unlinkLocked() {
	if in.attr.Nlink > 1 {
		in.fs.unchargeInode()
	}
	in.attr.Nlink--
	in.maybeFreeLocked()
}

// isDirInode reports whether in is a directory: the file type never changes, and a
// directory's children map is made at creation, so no lock is needed.
func isDirInode(in *Inode) bool { return in.children != nil }

// parentOf returns dir's parent directory. Preconditions: fs.mu held.
func (fs *FS) parentOf(dir *Inode) *Inode { return dir.parent }

func lockDirs(a, b *Inode) {
	a.mu.Lock()
	if b != a {
		b.mu.Lock()
	}
}

func unlockDirs(a, b *Inode) {
	if b != a {
		b.mu.Unlock()
	}
	a.mu.Unlock()
}
