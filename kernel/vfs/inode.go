// Package vfs is the sandbox's virtual filesystem: inodes supplied by filesystems
// (kernel/fs/*), a cache of dentries naming them, mounts forming the sandbox's namespace,
// path resolution with symlinks resolved inside that namespace, open file descriptions, and
// the per-process FD table.
//
// Ownership and locking: a Dentry's children map is protected by Dentry.mu; the mount
// table's mu (shared by a kernel's mount namespaces) protects mounts and namespaces; lock
// order is the mount table's mu before any Dentry.mu, parent Dentry.mu before child. FileDescription.mu protects its
// offset. FDTable.mu protects the table. Filesystems lock their own state inside Inode
// methods and never call back into vfs while holding it.
package vfs

import (
	"golang.org/x/sys/unix"
)

// Attr is what stat(2) reports of an inode.
type Attr struct {
	Mode                       uint32 // type and permission bits, as st_mode
	Ino, Dev, Rdev             uint64
	Nlink                      uint64
	UID, GID                   uint32
	Size, Blocks               int64
	Blksize                    int64
	Atime, Mtime, Ctime, Btime unix.Timespec
}

// IsDir reports whether the attributes are those of a directory.
func (a Attr) IsDir() bool { return a.Mode&unix.S_IFMT == unix.S_IFDIR }

// Type returns the file type bits.
func (a Attr) Type() uint32 { return a.Mode & unix.S_IFMT }

// SetAttr is a change of attributes; nil fields are left alone.
type SetAttr struct {
	Mode         *uint32 // permission bits only
	UID, GID     *uint32
	Size         *int64
	Atime, Mtime *unix.Timespec // Nsec may be UTIME_NOW; UTIME_OMIT fields are nil
}

// Dirent is one directory entry.
type Dirent struct {
	Name string
	Ino  uint64
	Type uint8 // DT_*
}

// StatFS is what statfs(2) reports.
type StatFS struct {
	Type                                int64
	Bsize                               int64
	Blocks, Bfree, Bavail, Files, Ffree uint64
	Namelen, Frsize, Flags              int64
}

// Inode is a filesystem object. Directory methods name children by a single component
// (never "", ".", ".." or containing "/"; vfs guarantees it). Filesystems embed one of the
// bases below and override what they support.
// TmpfileCreator directories make unnamed regular files (open's O_TMPFILE): an inode with
// no link, which linkat can give a name unless excl says it never may.
type TmpfileCreator interface {
	Tmpfile(mode uint32, excl bool, c *Creds) (Inode, File, error)
}

type Inode interface {
	Stat() (Attr, error)
	SetAttr(a SetAttr) error
	StatFS() (StatFS, error)
	Open(flags int) (File, error)
	Readlink() (string, error)

	Lookup(name string) (Inode, error)
	Readdir() ([]Dirent, error)
	Create(name string, flags int, mode uint32, c *Creds) (Inode, File, error)
	Mkdir(name string, mode uint32, c *Creds) error
	Mknod(name string, mode uint32, dev uint64, c *Creds) error
	Symlink(name, target string, c *Creds) error
	Link(name string, target Inode) error
	Unlink(name string) error
	Rmdir(name string) error
	Rename(oldName string, newDir Inode, newName string, flags uint32) error
}

// NotDir provides the directory methods of a non-directory inode.
type NotDir struct{}

func (NotDir) Lookup(string) (Inode, error) { return nil, unix.ENOTDIR }
func (NotDir) Readdir() ([]Dirent, error)   { return nil, unix.ENOTDIR }
func (NotDir) Create(string, int, uint32, *Creds) (Inode, File, error) {
	return nil, nil, unix.ENOTDIR
}
func (NotDir) Mkdir(string, uint32, *Creds) error         { return unix.ENOTDIR }
func (NotDir) Mknod(string, uint32, uint64, *Creds) error { return unix.ENOTDIR }
func (NotDir) Symlink(string, string, *Creds) error       { return unix.ENOTDIR }
func (NotDir) Link(string, Inode) error                   { return unix.ENOTDIR }
func (NotDir) Unlink(string) error                        { return unix.ENOTDIR }
func (NotDir) Rmdir(string) error                         { return unix.ENOTDIR }
func (NotDir) Rename(string, Inode, string, uint32) error { return unix.ENOTDIR }
func (NotDir) Readlink() (string, error)                  { return "", unix.EINVAL }

// HandleExporter is an inode of a filesystem that gives out file handles
// (name_to_handle_at(2), Linux's export_operations.encode_fh): the handle's type and
// bytes, which name the file within its filesystem.
type HandleExporter interface {
	FileHandle() (typ int32, b []byte)
}

// MissFailer is a directory whose lookup of a missing name fails instead of finding it
// absent (procfs: proc_root_lookup and its kind return -ENOENT): creating a name in it
// fails with ENOENT before any permission check, as Linux looks the name up first.
type MissFailer interface {
	MissFails()
}

// ReadOnlyDir provides the mutating directory methods of a directory that refuses changes.
type ReadOnlyDir struct{}

func (ReadOnlyDir) Create(string, int, uint32, *Creds) (Inode, File, error) {
	return nil, nil, unix.EACCES
}
func (ReadOnlyDir) Mkdir(string, uint32, *Creds) error         { return unix.EACCES }
func (ReadOnlyDir) Mknod(string, uint32, uint64, *Creds) error { return unix.EACCES }
func (ReadOnlyDir) Symlink(string, string, *Creds) error       { return unix.EACCES }
func (ReadOnlyDir) Link(string, Inode) error                   { return unix.EACCES }
func (ReadOnlyDir) Unlink(string) error                        { return unix.EACCES }
func (ReadOnlyDir) Rmdir(string) error                         { return unix.EACCES }
func (ReadOnlyDir) Rename(string, Inode, string, uint32) error { return unix.EACCES }
func (ReadOnlyDir) Readlink() (string, error)                  { return "", unix.EINVAL }
func (ReadOnlyDir) Open(flags int) (File, error)               { return NewDirFile(), nil }

// NoSetAttr refuses attribute changes.
type NoSetAttr struct{}

func (NoSetAttr) SetAttr(SetAttr) error { return unix.EPERM }

// DefaultStatFS reports a generic in-memory filesystem.
type DefaultStatFS struct{}

func (DefaultStatFS) StatFS() (StatFS, error) {
	return StatFS{Type: 0x01021994, Bsize: 4096, Frsize: 4096, Namelen: 255}, nil
}

// DTType converts st_mode type bits to a DT_* value.
func DTType(mode uint32) uint8 {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return unix.DT_REG
	case unix.S_IFDIR:
		return unix.DT_DIR
	case unix.S_IFLNK:
		return unix.DT_LNK
	case unix.S_IFCHR:
		return unix.DT_CHR
	case unix.S_IFBLK:
		return unix.DT_BLK
	case unix.S_IFIFO:
		return unix.DT_FIFO
	case unix.S_IFSOCK:
		return unix.DT_SOCK
	}
	return unix.DT_UNKNOWN
}

// Creds are the credentials of the task doing a filesystem operation.
type Creds struct {
	UID, EUID, SUID, FSUID uint32
	GID, EGID, SGID, FSGID uint32
	Groups                 []uint32
	Umask                  uint32
	// Caps are the capability sets (effective, permitted, inheritable) capset(2) chose;
	// nil: derived from the IDs (root's are those of the user who started the sandbox).
	// Never modified in place: capset installs a new array.
	Caps *[3]uint64
}

// InGroup reports whether gid is the caller's filesystem gid or a supplementary group.
func (c *Creds) InGroup(gid uint32) bool {
	if c.FSGID == gid {
		return true
	}
	for _, g := range c.Groups {
		if g == gid {
			return true
		}
	}
	return false
}

// Access permission bits for CheckAccess.
const (
	MayExec  = 1
	MayWrite = 2
	MayRead  = 4
)

// CheckAccess applies the classic Unix permission check (and root's overrides) to attr.
func CheckAccess(c *Creds, a Attr, want uint32) error {
	if c.FSUID == 0 {
		// CAP_DAC_OVERRIDE: everything but executing a file with no x bit at all.
		if want&MayExec != 0 && !a.IsDir() && a.Mode&0o111 == 0 {
			return unix.EACCES
		}
		return nil
	}
	var bits uint32
	switch {
	case c.FSUID == a.UID:
		bits = (a.Mode >> 6) & 7
	case c.InGroup(a.GID):
		bits = (a.Mode >> 3) & 7
	default:
		bits = a.Mode & 7
	}
	if want&^bits != 0 {
		return unix.EACCES
	}
	return nil
}

// PrivKiller is an inode whose set-user-ID and set-group-ID bits the kernel itself clears
// when an unprivileged task writes or truncates it (Linux's file_remove_privs); a
// filesystem whose host does that on the write (goferfs) need not be one.
type PrivKiller interface {
	KillPrivs(c *Creds)
}

// KilledPrivs returns mode without the set-ID bits a modification by c removes (Linux's
// should_remove_suid): set-user-ID always, set-group-ID when group-executable or of a
// group c is not in; ok false when nothing changes (c privileged, or no such bit).
func KilledPrivs(c *Creds, mode, gid uint32) (uint32, bool) {
	if c == nil || c.FSUID == 0 || mode&unix.S_IFMT != unix.S_IFREG || mode&(unix.S_ISUID|unix.S_ISGID) == 0 {
		return mode, false
	}
	m := mode &^ unix.S_ISUID
	if mode&unix.S_ISGID != 0 && (mode&0o010 != 0 || !c.InGroup(gid)) {
		m &^= unix.S_ISGID
	}
	return m, m != mode
}

// StatxTraiter is an inode whose filesystem tells statx(2) more than the basic attributes:
// whether its times are multigrain (Linux 6.13: mtime and ctime reported only when asked
// for), whether it keeps birth times, and the file attributes it supports
// (stx_attributes_mask beyond the generic ones). Other inodes report a birth time they
// have.
type StatxTraiter interface {
	StatxTraits() (multigrain, btime bool, attrMask uint64)
}

// XattrRemover inodes can remove an extended attribute (removexattr(2)).
type XattrRemover interface {
	Removexattr(name string) error
}

// Xattrer inodes support extended attributes; others report none.
type Xattrer interface {
	Getxattr(name string) ([]byte, error)
	Listxattr() ([]string, error)
	Setxattr(name string, value []byte, flags int) error
}

// Retainer is an inode whose contents live only while something refers to it (tmpfs: an
// unlinked file's pages are freed with its last open file or mapping). Retain takes such
// a reference for a description that holds the inode without opening it (O_PATH), undone
// by release; it fails with ENOENT when the file is already gone (the walk that found it
// lost a race with its last unlink).
type Retainer interface {
	Retain() (release func(), err error)
}
