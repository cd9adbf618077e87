package syscalls

import (
	"github.com/sbx-dev/sbx/kernel/fs/tmpfs"
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// openFlags are the flags open(2) accepts; others are ignored by Linux (not EINVAL), except
// for openat2 which rejects them.
const openFlags = unix.O_ACCMODE | unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY | unix.O_TRUNC | unix.O_APPEND |
	unix.O_NONBLOCK | unix.O_DSYNC | unix.O_ASYNC | unix.O_DIRECT | abi.O_LARGEFILE | unix.O_DIRECTORY |
	unix.O_NOFOLLOW | unix.O_NOATIME | unix.O_CLOEXEC | unix.O_SYNC | unix.O_PATH | unix.O_TMPFILE

// oPathFlags are the flags O_PATH keeps (open) or allows (openat2): O_PATH_FLAGS.
const oPathFlags = unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

func openCommon(t *kernel.Task, dirfd int32, pathAddr uint64, flags int, mode uint32, res vfs.ResolveOpts) (uint64, error) {
	path, err := copyInPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	if flags&(unix.O_TMPFILE&^unix.O_DIRECTORY) != 0 {
		// O_TMPFILE: with O_DIRECTORY (it includes it) but not O_CREAT, for writing.
		acc := flags & unix.O_ACCMODE
		if flags&(unix.O_TMPFILE|unix.O_CREAT) != unix.O_TMPFILE || acc != unix.O_WRONLY && acc != unix.O_RDWR {
			return 0, unix.EINVAL
		}
	} else if flags&(unix.O_DIRECTORY|unix.O_CREAT) == unix.O_DIRECTORY|unix.O_CREAT {
		return 0, unix.EINVAL // Linux 6.4 and later: never "create a directory"
	}
	// Every 64-bit open is a large-file one (force_o_largefile); O_PATH keeps only its own
	// flags.
	if flags&unix.O_PATH != 0 {
		flags &= oPathFlags
	} else {
		flags |= abi.O_LARGEFILE
	}
	fd, err := t.OpenAt(dirfd, path, kernel.OpenOpts{Flags: flags, Mode: mode, Resolve: res})
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	n, err := t.FDs().Install(fd, 0, flags&unix.O_CLOEXEC != 0, nofile(t))
	return uint64(n), err
}

// Open implements open(2).
func Open(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return openCommon(t, kernel.AtFDCWD, a[0], int(a[1]&openFlags), uint32(a[2]), vfs.ResolveOpts{})
}

// Openat implements openat(2).
func Openat(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return openCommon(t, int32(a[0]), a[1], int(a[2]&openFlags), uint32(a[3]), vfs.ResolveOpts{})
}

// Creat implements creat(2).
func Creat(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return openCommon(t, kernel.AtFDCWD, a[0], unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC, uint32(a[1]), vfs.ResolveOpts{})
}

// openat2 RESOLVE_* flags (include/uapi/linux/openat2.h).
const (
	resolveNoXDev       = 0x01
	resolveNoMagicLinks = 0x02
	resolveNoSymlinks   = 0x04
	resolveBeneath      = 0x08
	resolveInRoot       = 0x10
	resolveCached       = 0x20
)

// Openat2 implements openat2(2).
func Openat2(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	size := a[3]
	if size < 24 {
		return 0, unix.EINVAL
	}
	if size > 4096 {
		return 0, unix.E2BIG
	}
	b := make([]byte, size)
	if _, err := t.CopyIn(a[2], b); err != nil {
		return 0, unix.EFAULT
	}
	for _, c := range b[abi.SizeofOpenHow:] {
		if c != 0 {
			return 0, unix.E2BIG
		}
	}
	var how abi.OpenHow
	how.Decode(b)
	flags, mode, resolve := how.Flags, how.Mode, how.Resolve
	if flags&^uint64(openFlags) != 0 || mode&^0o7777 != 0 {
		return 0, unix.EINVAL
	}
	if mode != 0 && flags&unix.O_CREAT == 0 && flags&unix.O_TMPFILE != unix.O_TMPFILE {
		return 0, unix.EINVAL
	}
	if flags&unix.O_PATH != 0 && flags&^uint64(oPathFlags) != 0 {
		return 0, unix.EINVAL // build_open_flags: O_PATH permits only its flags
	}
	if resolve&^(resolveNoXDev|resolveNoMagicLinks|resolveNoSymlinks|resolveBeneath|resolveInRoot|resolveCached) != 0 {
		return 0, unix.EINVAL
	}
	if resolve&resolveBeneath != 0 && resolve&resolveInRoot != 0 {
		return 0, unix.EINVAL
	}
	if resolve&resolveCached != 0 {
		return 0, unix.EAGAIN
	}
	ro := vfs.ResolveOpts{NoXDev: resolve&resolveNoXDev != 0, NoMagicLinks: resolve&resolveNoMagicLinks != 0,
		NoSymlinks: resolve&resolveNoSymlinks != 0, Beneath: resolve&resolveBeneath != 0, InRoot: resolve&resolveInRoot != 0}
	return openCommon(t, int32(a[0]), a[1], int(flags), uint32(mode), ro)
}

// parentFor resolves the parent of a path for a creating or removing operation, checking
// write and search permission and read-only mounts.
func parentFor(t *kernel.Task, dirfd int32, pathAddr uint64) (vfs.VirtualDentry, string, bool, error) {
	return parentOf(t, dirfd, pathAddr, false)
}

// parentForLong is parentFor leaving a last component over vfs.NameMax to the caller.
func parentForLong(t *kernel.Task, dirfd int32, pathAddr uint64) (vfs.VirtualDentry, string, bool, error) {
	return parentOf(t, dirfd, pathAddr, true)
}

func parentOf(t *kernel.Task, dirfd int32, pathAddr uint64, longLast bool) (vfs.VirtualDentry, string, bool, error) {
	path, err := copyInPath(t, pathAddr)
	if err != nil {
		return vfs.VirtualDentry{}, "", false, err
	}
	lookup := t.LookupParent
	if longLast {
		lookup = t.LookupParentLong
	}
	parent, name, trailing, _, err := lookup(dirfd, path)
	if err != nil {
		return vfs.VirtualDentry{}, "", false, err
	}
	return parent, name, trailing, nil
}

// freeName is the lookup of a name a call is to create: EEXIST when it exists, the
// lookup's error in a directory whose misses fail (vfs.MissFailer: procfs), else nil.
func freeName(parent vfs.VirtualDentry, name string) error {
	_, err := parent.Dentry.Child(name)
	if err == nil {
		return unix.EEXIST
	}
	if _, ok := parent.Dentry.Inode().(vfs.MissFailer); ok {
		return err
	}
	return nil
}

func checkWritableDir(t *kernel.Task, dir vfs.VirtualDentry) error {
	a, err := dir.Dentry.Inode().Stat()
	if err != nil {
		return err
	}
	if err := vfs.CheckAccess(t.Creds(), a, vfs.MayWrite|vfs.MayExec); err != nil {
		return err
	}
	if dir.Mount.ReadOnly() {
		return unix.EROFS
	}
	return nil
}

// checkSticky enforces the sticky bit: in a +t directory only the owner of the file or of
// the directory (or root) may remove or rename it.
func checkSticky(t *kernel.Task, dir vfs.VirtualDentry, child vfs.Inode) error {
	da, err := dir.Dentry.Inode().Stat()
	if err != nil || da.Mode&unix.S_ISVTX == 0 {
		return err
	}
	ca, err := child.Stat()
	if err != nil {
		return err
	}
	c := t.Creds()
	if c.FSUID == 0 || c.FSUID == ca.UID || c.FSUID == da.UID {
		return nil
	}
	return unix.EPERM
}

func mkdirat(t *kernel.Task, dirfd int32, pathAddr uint64, mode uint32) (uint64, error) {
	parent, name, _, err := parentFor(t, dirfd, pathAddr)
	if err != nil {
		return 0, err
	}
	if name == "" || name == "." || name == ".." {
		return 0, unix.EEXIST
	}
	if err := freeName(parent, name); err != nil {
		return 0, err
	}
	if err := checkWritableDir(t, parent); err != nil {
		return 0, err
	}
	c := t.Creds()
	// mkdir keeps the permission bits and the sticky bit; set-user/group-ID bits are not
	// taken from the mode (a directory inherits set-group-ID from its parent).
	if err := parent.Dentry.Inode().Mkdir(name, mode&^c.Umask&(0o777|unix.S_ISVTX), c); err != nil {
		return 0, err
	}
	return 0, nil
}

// Mkdir implements mkdir(2).
func Mkdir(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return mkdirat(t, kernel.AtFDCWD, a[0], uint32(a[1]))
}

// Mkdirat implements mkdirat(2).
func Mkdirat(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return mkdirat(t, int32(a[0]), a[1], uint32(a[2]))
}

func mknodat(t *kernel.Task, dirfd int32, pathAddr uint64, mode uint32, dev uint64) (uint64, error) {
	parent, name, trailing, err := parentFor(t, dirfd, pathAddr)
	if err != nil {
		return 0, err
	}
	if name == "" || name == "." || name == ".." {
		return 0, unix.EEXIST
	}
	if mode&unix.S_IFMT == 0 {
		mode |= unix.S_IFREG
	}
	switch mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK, unix.S_IFCHR, unix.S_IFBLK:
	case unix.S_IFDIR:
		return 0, unix.EPERM
	default:
		return 0, unix.EINVAL
	}
	if err := freeName(parent, name); err != nil {
		return 0, err
	}
	if trailing {
		return 0, unix.ENOENT
	}
	if err := checkWritableDir(t, parent); err != nil {
		return 0, err
	}
	c := t.Creds()
	perm := mode & 0o7777 &^ c.Umask
	if mode&unix.S_IFMT == unix.S_IFREG {
		in, f, err := parent.Dentry.Inode().Create(name, unix.O_WRONLY|unix.O_EXCL, perm, c)
		if err != nil {
			return 0, err
		}
		f.Release()
		parent.Dentry.Insert(name, in)
		return 0, nil
	}
	return 0, parent.Dentry.Inode().Mknod(name, mode&unix.S_IFMT|perm, dev, c)
}

// Mknod implements mknod(2).
func Mknod(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return mknodat(t, kernel.AtFDCWD, a[0], uint32(a[1]), a[2])
}

// Mknodat implements mknodat(2).
func Mknodat(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return mknodat(t, int32(a[0]), a[1], uint32(a[2]), a[3])
}

func unlinkat(t *kernel.Task, dirfd int32, pathAddr uint64, flags uint64) (uint64, error) {
	if flags&^unix.AT_REMOVEDIR != 0 {
		return 0, unix.EINVAL
	}
	rmdir := flags&unix.AT_REMOVEDIR != 0
	parent, name, trailing, err := parentFor(t, dirfd, pathAddr)
	if err != nil {
		return 0, err
	}
	switch {
	case rmdir && name == ".":
		return 0, unix.EINVAL
	case rmdir && (name == ".." || name == ""):
		return 0, unix.ENOTEMPTY
	case !rmdir && (name == "" || name == "." || name == ".."):
		return 0, unix.EISDIR
	}
	child, err := parent.Dentry.Child(name)
	if err != nil {
		return 0, err
	}
	ca, err := child.Inode().Stat()
	if err != nil {
		return 0, err
	}
	if rmdir && !ca.IsDir() {
		return 0, unix.ENOTDIR
	}
	if !rmdir && ca.IsDir() {
		return 0, unix.EISDIR
	}
	if !rmdir && trailing {
		return 0, unix.ENOTDIR
	}
	if err := checkWritableDir(t, parent); err != nil {
		return 0, err
	}
	if err := checkSticky(t, parent, child.Inode()); err != nil {
		return 0, err
	}
	if t.Kernel().NS.IsMountPoint(vfs.VirtualDentry{Mount: parent.Mount, Dentry: child}) {
		return 0, unix.EBUSY
	}
	if rmdir {
		err = parent.Dentry.Inode().Rmdir(name)
	} else {
		err = parent.Dentry.Inode().Unlink(name)
	}
	if err != nil {
		return 0, err
	}
	parent.Dentry.Forget(name, true)
	return 0, nil
}

// Unlink implements unlink(2).
func Unlink(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return unlinkat(t, kernel.AtFDCWD, a[0], 0)
}

// Unlinkat implements unlinkat(2).
func Unlinkat(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return unlinkat(t, int32(a[0]), a[1], a[2])
}

// Rmdir implements rmdir(2).
func Rmdir(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return unlinkat(t, kernel.AtFDCWD, a[0], unix.AT_REMOVEDIR)
}

func renameat(t *kernel.Task, olddirfd int32, oldAddr uint64, newdirfd int32, newAddr uint64, flags uint64) (uint64, error) {
	if flags&^(unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE|unix.RENAME_WHITEOUT) != 0 {
		return 0, unix.EINVAL
	}
	if flags&unix.RENAME_NOREPLACE != 0 && flags&unix.RENAME_EXCHANGE != 0 {
		return 0, unix.EINVAL
	}
	if flags&unix.RENAME_WHITEOUT != 0 && flags&unix.RENAME_EXCHANGE != 0 {
		return 0, unix.EINVAL
	}
	// Linux's do_renameat2 order: both parents, EXDEV, EBUSY, EROFS, then (locked) the
	// source's lookup and the target's: a name too long fails only at its lookup.
	op, oname, otrail, err := parentForLong(t, olddirfd, oldAddr)
	if err != nil {
		return 0, err
	}
	np, nname, ntrail, err := parentForLong(t, newdirfd, newAddr)
	if err != nil {
		return 0, err
	}
	if op.Mount != np.Mount {
		return 0, unix.EXDEV
	}
	if oname == "" || oname == "." || oname == ".." {
		return 0, unix.EBUSY
	}
	if nname == "" || nname == "." || nname == ".." {
		if flags&unix.RENAME_NOREPLACE != 0 {
			return 0, unix.EEXIST
		}
		return 0, unix.EBUSY
	}
	if op.Mount.ReadOnly() {
		return 0, unix.EROFS
	}
	ns := t.Kernel().NS
	ns.LockRename()
	defer ns.UnlockRename()
	if len(oname) > vfs.NameMax {
		return 0, unix.ENAMETOOLONG
	}
	src, err := op.Dentry.Child(oname)
	if err != nil {
		return 0, err
	}
	sa, err := src.Inode().Stat()
	if err != nil {
		return 0, err
	}
	if (otrail || ntrail) && !sa.IsDir() {
		return 0, unix.ENOTDIR
	}
	if len(nname) > vfs.NameMax {
		return 0, unix.ENAMETOOLONG
	}
	if err := checkWritableDir(t, op); err != nil {
		return 0, err
	}
	if err := checkWritableDir(t, np); err != nil {
		return 0, err
	}
	if err := checkSticky(t, op, src.Inode()); err != nil {
		return 0, err
	}
	if ns.IsMountPoint(vfs.VirtualDentry{Mount: op.Mount, Dentry: src}) {
		return 0, unix.EBUSY
	}
	// A directory cannot move below itself.
	if sa.IsDir() && src.IsAncestor(np.Dentry) {
		return 0, unix.EINVAL
	}
	if dst, err := np.Dentry.Child(nname); err == nil {
		// An exchange cannot put a directory below itself either way.
		if flags&unix.RENAME_EXCHANGE != 0 && dst.IsAncestor(op.Dentry) {
			return 0, unix.EINVAL
		}
		if ns.IsMountPoint(vfs.VirtualDentry{Mount: np.Mount, Dentry: dst}) {
			return 0, unix.EBUSY
		}
		if err := checkSticky(t, np, dst.Inode()); err != nil {
			return 0, err
		}
		// Two links of one file: rename does nothing and succeeds.
		if da, err := dst.Inode().Stat(); err == nil && flags&unix.RENAME_NOREPLACE == 0 && da.Dev == sa.Dev && da.Ino == sa.Ino {
			return 0, nil
		}
	} else if flags&unix.RENAME_EXCHANGE != 0 {
		return 0, err
	}
	whiteout := flags&unix.RENAME_WHITEOUT != 0
	if _, ok := op.Dentry.Inode().(*tmpfs.Inode); whiteout && !ok {
		return 0, unix.EINVAL // only tmpfs makes whiteouts here
	}
	if err := op.Dentry.Inode().Rename(oname, np.Dentry.Inode(), nname, uint32(flags&^unix.RENAME_WHITEOUT)); err != nil {
		return 0, err
	}
	if whiteout {
		// The source's name is left as a whiteout: a character device 0:0 (no
		// CAP_MKNOD needed since Linux 5.8), made under the rename lock.
		op.Dentry.MoveTo(oname, np.Dentry, nname)
		if err := op.Dentry.Inode().Mknod(oname, unix.S_IFCHR, 0, t.Creds()); err != nil {
			return 0, err
		}
		op.Dentry.Forget(oname, false)
		return 0, nil
	}
	if flags&unix.RENAME_EXCHANGE != 0 {
		op.Dentry.Forget(oname, false)
		np.Dentry.Forget(nname, false)
	} else {
		op.Dentry.MoveTo(oname, np.Dentry, nname)
	}
	return 0, nil
}

// Rename implements rename(2).
func Rename(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return renameat(t, kernel.AtFDCWD, a[0], kernel.AtFDCWD, a[1], 0)
}

// Renameat implements renameat(2).
func Renameat(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return renameat(t, int32(a[0]), a[1], int32(a[2]), a[3], 0)
}

// Renameat2 implements renameat2(2).
func Renameat2(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return renameat(t, int32(a[0]), a[1], int32(a[2]), a[3], a[4])
}

func linkat(t *kernel.Task, olddirfd int32, oldAddr uint64, newdirfd int32, newAddr uint64, flags uint64) (uint64, error) {
	if flags&^(unix.AT_SYMLINK_FOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	oldPath, err := copyInPath(t, oldAddr)
	if err != nil {
		return 0, err
	}
	target, fd, err := t.FileOrPath(olddirfd, oldPath, flags&unix.AT_EMPTY_PATH != 0, flags&unix.AT_SYMLINK_FOLLOW != 0)
	if err != nil {
		return 0, err
	}
	if fd != nil {
		defer fd.DecRef()
	}
	np, nname, trailing, err := parentFor(t, newdirfd, newAddr)
	if err != nil {
		return 0, err
	}
	if nname == "" || nname == "." || nname == ".." {
		return 0, unix.EEXIST
	}
	ta, err := target.Dentry.Inode().Stat()
	if err != nil {
		return 0, err
	}
	if err := freeName(np, nname); err != nil {
		return 0, err
	}
	if trailing {
		return 0, unix.ENOENT
	}
	if target.Mount != np.Mount {
		return 0, unix.EXDEV
	}
	if err := mayLink(t.Creds(), ta); err != nil {
		return 0, err
	}
	if err := checkWritableDir(t, np); err != nil {
		return 0, err
	}
	if ta.IsDir() {
		return 0, unix.EPERM
	}
	if err := np.Dentry.Inode().Link(nname, target.Dentry.Inode()); err != nil {
		return 0, err
	}
	// The new name is looked up afresh: filesystems that name a file by where it was
	// walked (goferfs) need the new entry to carry its own name.
	np.Dentry.Forget(nname, false)
	return 0, nil
}

// mayLink is Linux's may_linkat with fs.protected_hardlinks on (as /proc/sys says): a
// task may link a file it does not own only when the file is a regular one without
// set-user-ID (or set-group-ID and group-execute) that it may read and write.
func mayLink(c *vfs.Creds, a vfs.Attr) error {
	if c.FSUID == 0 || c.FSUID == a.UID {
		return nil
	}
	safe := a.Type() == unix.S_IFREG && a.Mode&unix.S_ISUID == 0 && a.Mode&(unix.S_ISGID|0o010) != unix.S_ISGID|0o010 &&
		vfs.CheckAccess(c, a, vfs.MayRead|vfs.MayWrite) == nil
	if !safe {
		return unix.EPERM
	}
	return nil
}

// Link implements link(2).
func Link(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return linkat(t, kernel.AtFDCWD, a[0], kernel.AtFDCWD, a[1], 0)
}

// Linkat implements linkat(2).
func Linkat(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return linkat(t, int32(a[0]), a[1], int32(a[2]), a[3], a[4])
}

func symlinkat(t *kernel.Task, targetAddr uint64, dirfd int32, pathAddr uint64) (uint64, error) {
	target, err := copyInPath(t, targetAddr)
	if err != nil {
		return 0, err
	}
	if target == "" {
		return 0, unix.ENOENT
	}
	parent, name, trailing, err := parentFor(t, dirfd, pathAddr)
	if err != nil {
		return 0, err
	}
	if name == "" || name == "." || name == ".." {
		return 0, unix.EEXIST
	}
	if err := freeName(parent, name); err != nil {
		return 0, err
	}
	if trailing {
		return 0, unix.ENOENT // filename_create: a trailing slash creates only directories
	}
	if err := checkWritableDir(t, parent); err != nil {
		return 0, err
	}
	return 0, parent.Dentry.Inode().Symlink(name, target, t.Creds())
}

// Symlink implements symlink(2).
func Symlink(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return symlinkat(t, a[0], kernel.AtFDCWD, a[1])
}

// Symlinkat implements symlinkat(2).
func Symlinkat(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return symlinkat(t, a[0], int32(a[1]), a[2])
}

// setattr applies a change after the ownership and read-only checks chmod/chown/utimes share.
func setattr(t *kernel.Task, vd vfs.VirtualDentry, sa vfs.SetAttr, ownerOnly bool) error {
	return setattrInode(t, vd.Dentry.Inode(), vd.Mount.ReadOnly(), sa, ownerOnly)
}

// setattrInode is setattr for an inode that may have no path (a memfd).
func setattrInode(t *kernel.Task, in vfs.Inode, readOnly bool, sa vfs.SetAttr, ownerOnly bool) error {
	a, err := in.Stat()
	if err != nil {
		return err
	}
	c := t.Creds()
	if ownerOnly && c.FSUID != 0 && c.FSUID != a.UID {
		return unix.EPERM
	}
	if readOnly {
		return unix.EROFS
	}
	return in.SetAttr(sa)
}

func chmodCommon(t *kernel.Task, vd vfs.VirtualDentry, mode uint32) (uint64, error) {
	return chmodInode(t, vd.Dentry.Inode(), vd.Mount.ReadOnly(), mode)
}

func chmodInode(t *kernel.Task, in vfs.Inode, readOnly bool, mode uint32) (uint64, error) {
	m := mode & 0o7777
	a, err := in.Stat()
	if err != nil {
		return 0, err
	}
	c := t.Creds()
	if c.FSUID != 0 && !c.InGroup(a.GID) {
		m &^= unix.S_ISGID
	}
	return 0, setattrInode(t, in, readOnly, vfs.SetAttr{Mode: &m}, true)
}

// Chmod implements chmod(2).
func Chmod(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return fchmodat(t, kernel.AtFDCWD, a[0], uint32(a[1]), 0)
}

// Fchmodat implements fchmodat(2).
func Fchmodat(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return fchmodat(t, int32(a[0]), a[1], uint32(a[2]), 0)
}

// Fchmodat2 implements fchmodat2(2).
func Fchmodat2(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return fchmodat(t, int32(a[0]), a[1], uint32(a[2]), a[3])
}

func fchmodat(t *kernel.Task, dirfd int32, pathAddr uint64, mode uint32, flags uint64) (uint64, error) {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	vd, release, err := atTarget(t, dirfd, pathAddr, flags)
	if err != nil {
		return 0, err
	}
	defer release()
	if at, err := vd.Dentry.Inode().Stat(); err == nil && at.Type() == unix.S_IFLNK {
		return 0, unix.EOPNOTSUPP
	}
	return chmodCommon(t, vd, mode)
}

// Fchmod implements fchmod(2).
func Fchmod(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, err := getIOFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if !fd.VirtualDentry().Ok() {
		if in := fd.Inode(); in != nil {
			return chmodInode(t, in, false, uint32(a[1])) // a memfd: an inode with no path
		}
		return 0, unix.EBADF
	}
	return chmodCommon(t, fd.VirtualDentry(), uint32(a[1]))
}

func chownCommon(t *kernel.Task, vd vfs.VirtualDentry, uid, gid uint32) (uint64, error) {
	// IDs are the caller's user namespace's: one not mapped there is EINVAL.
	if u := t.Group().UserNS(); !u.IsRoot() {
		var ok bool
		if uid != ^uint32(0) {
			if uid, ok = u.UnmapUID(uid); !ok {
				return 0, unix.EINVAL
			}
		}
		if gid != ^uint32(0) {
			if gid, ok = u.UnmapGID(gid); !ok {
				return 0, unix.EINVAL
			}
		}
	}
	a, err := vd.Dentry.Inode().Stat()
	if err != nil {
		return 0, err
	}
	c := t.Creds()
	var sa vfs.SetAttr
	if uid != ^uint32(0) {
		if c.FSUID != 0 && uid != a.UID {
			return 0, unix.EPERM
		}
		sa.UID = &uid
	}
	if gid != ^uint32(0) {
		if c.FSUID != 0 && (c.FSUID != a.UID || !c.InGroup(gid)) && gid != a.GID {
			return 0, unix.EPERM
		}
		sa.GID = &gid
	}
	if c.FSUID != 0 && c.FSUID != a.UID && (sa.UID != nil || sa.GID != nil) {
		return 0, unix.EPERM
	}
	// Any chown of a non-directory, even to -1/-1, drops set-user-ID, and set-group-ID
	// when group-executable or (unprivileged) of a group the caller is not in (chown_common,
	// setattr_should_drop_sgid).
	if !a.IsDir() && a.Mode&0o6000 != 0 {
		m := a.Mode & 0o7777 &^ unix.S_ISUID
		if a.Mode&unix.S_ISGID != 0 && (a.Mode&0o010 != 0 || c.FSUID != 0 && !c.InGroup(a.GID)) {
			m &^= unix.S_ISGID
		}
		if m != a.Mode&0o7777 {
			sa.Mode = &m
		}
	}
	if sa.UID == nil && sa.GID == nil && sa.Mode == nil {
		if vd.Mount.ReadOnly() {
			return 0, unix.EROFS
		}
		return 0, nil
	}
	return 0, setattr(t, vd, sa, false)
}

func fchownat(t *kernel.Task, dirfd int32, pathAddr uint64, uid, gid uint32, flags uint64) (uint64, error) {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	vd, release, err := atTarget(t, dirfd, pathAddr, flags)
	if err != nil {
		return 0, err
	}
	defer release()
	return chownCommon(t, vd, uid, gid)
}

// Chown implements chown(2).
func Chown(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return fchownat(t, kernel.AtFDCWD, a[0], uint32(a[1]), uint32(a[2]), 0)
}

// Lchown implements lchown(2).
func Lchown(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return fchownat(t, kernel.AtFDCWD, a[0], uint32(a[1]), uint32(a[2]), unix.AT_SYMLINK_NOFOLLOW)
}

// Fchownat implements fchownat(2).
func Fchownat(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return fchownat(t, int32(a[0]), a[1], uint32(a[2]), uint32(a[3]), a[4])
}

// Fchown implements fchown(2).
func Fchown(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, err := getIOFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if !fd.VirtualDentry().Ok() {
		return 0, unix.EBADF
	}
	return chownCommon(t, fd.VirtualDentry(), uint32(a[1]), uint32(a[2]))
}

// truncateCommon sets vd's size; f, when set, is the open file ftruncate was given.
func truncateCommon(t *kernel.Task, vd vfs.VirtualDentry, size int64, checkPerm bool, f vfs.File) error {
	if size < 0 {
		return unix.EINVAL
	}
	a, err := vd.Dentry.Inode().Stat()
	if err != nil {
		return err
	}
	if a.IsDir() {
		return unix.EISDIR
	}
	if a.Type() != unix.S_IFREG {
		return unix.EINVAL
	}
	if checkPerm {
		if err := vfs.CheckAccess(t.Creds(), a, vfs.MayWrite); err != nil {
			return err
		}
	}
	if vd.Mount.ReadOnly() {
		return unix.EROFS
	}
	if lim, _ := t.Limit(unix.RLIMIT_FSIZE); uint64(size) > lim {
		t.Kernel().SendSignal(t, unix.SIGXFSZ)
		return unix.EFBIG
	}
	killInodePrivs(t, vd.Dentry.Inode())
	if tr, ok := f.(vfs.Truncater); ok {
		return tr.Truncate(size)
	}
	return vd.Dentry.Inode().SetAttr(vfs.SetAttr{Size: &size})
}

// Truncate implements truncate(2).
func Truncate(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	vd, err := lookupPathArg(t, a[0])
	if err != nil {
		return 0, err
	}
	return 0, truncateCommon(t, vd, int64(a[1]), true, nil)
}

// Ftruncate implements ftruncate(2).
func Ftruncate(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, err := getIOFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if int64(a[1]) < 0 {
		return 0, unix.EINVAL
	}
	if !fd.Writable() {
		return 0, unix.EINVAL
	}
	if fd.Inode() == nil {
		// A file with no inode here: a host file a host peer passed (a sound server's
		// pool), which the host truncates (EINVAL for a pipe or socket, as here).
		if tr, ok := fd.Impl().(vfs.Truncater); ok {
			return 0, tr.Truncate(int64(a[1]))
		}
		return 0, unix.EINVAL
	}
	if !fd.VirtualDentry().Ok() {
		size := int64(a[1])
		return 0, fd.Inode().SetAttr(vfs.SetAttr{Size: &size})
	}
	return 0, truncateCommon(t, fd.VirtualDentry(), int64(a[1]), false, fd.Impl())
}

// Utimensat implements utimensat(2).
func Utimensat(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	dirfd, flags := int32(a[0]), a[3]
	var times *[2]unix.Timespec
	if a[2] != 0 {
		b := make([]byte, 2*abi.SizeofTimespec) // struct timespec times[2]
		if _, err := t.CopyIn(a[2], b); err != nil {
			return 0, unix.EFAULT
		}
		at, mt := abi.DecodeTimespec(b), abi.DecodeTimespec(b[abi.SizeofTimespec:])
		times = &[2]unix.Timespec{{Sec: at.Sec, Nsec: at.Nsec}, {Sec: mt.Sec, Nsec: mt.Nsec}}
		if at.Nsec == unix.UTIME_OMIT && mt.Nsec == unix.UTIME_OMIT {
			return 0, nil // nothing to do: Linux does not even look at the path or flags
		}
	}
	return utimens(t, dirfd, a[1], times, flags)
}

// utimens sets a file's times (nil: both to now) for utimensat and the older calls; a[1]
// (pathAddr) 0 means dirfd itself.
func utimens(t *kernel.Task, dirfd int32, pathAddr uint64, times *[2]unix.Timespec, flags uint64) (uint64, error) {
	now := unix.NsecToTimespec(time.Now().UnixNano())
	at, mt := now, now
	explicit := false
	omitA, omitM := false, false
	if times != nil {
		ts := *times
		for i, v := range ts {
			switch v.Nsec {
			case unix.UTIME_NOW:
				ts[i] = now
			case unix.UTIME_OMIT:
				if i == 0 {
					omitA = true
				} else {
					omitM = true
				}
			default:
				if v.Nsec < 0 || v.Nsec >= 1e9 {
					return 0, unix.EINVAL
				}
				explicit = true
			}
		}
		at, mt = ts[0], ts[1]
	}
	var vd vfs.VirtualDentry
	if pathAddr == 0 && dirfd != kernel.AtFDCWD {
		// utimensat(fd, NULL, ...) is futimens(fd, ...), which takes no flags nor an
		// O_PATH descriptor (fdget).
		if flags != 0 {
			return 0, unix.EINVAL
		}
		fd, err := getIOFD(t, uint64(uint32(dirfd)))
		if err != nil {
			return 0, err
		}
		defer fd.DecRef()
		vd = fd.VirtualDentry()
		if !vd.Ok() {
			return 0, unix.EBADF
		}
	} else {
		if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
			return 0, unix.EINVAL
		}
		path, err := copyInPath(t, pathAddr)
		if err != nil {
			return 0, err
		}
		var fd *vfs.FileDescription
		vd, fd, err = t.FileOrPath(dirfd, path, flags&unix.AT_EMPTY_PATH != 0, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
		if err != nil {
			return 0, err
		}
		if fd != nil {
			defer fd.DecRef()
		}
	}
	if omitA && omitM {
		return 0, nil
	}
	attr, err := vd.Dentry.Inode().Stat()
	if err != nil {
		return 0, err
	}
	c := t.Creds()
	if c.FSUID != 0 && c.FSUID != attr.UID {
		if explicit || (times != nil && (omitA || omitM)) {
			return 0, unix.EPERM
		}
		if err := vfs.CheckAccess(c, attr, vfs.MayWrite); err != nil {
			return 0, err
		}
	}
	var sa vfs.SetAttr
	if !omitA {
		sa.Atime = &at
	}
	if !omitM {
		sa.Mtime = &mt
	}
	if vd.Mount.ReadOnly() {
		return 0, unix.EROFS
	}
	return 0, vd.Dentry.Inode().SetAttr(sa)
}

// timevalTimes reads the struct timeval[2] of utimes and futimesat (NULL: now).
func timevalTimes(t *kernel.Task, addr uint64) (*[2]unix.Timespec, error) {
	if addr == 0 {
		return nil, nil
	}
	b := make([]byte, 2*abi.SizeofTimeval) // struct timeval times[2]
	if _, err := t.CopyIn(addr, b); err != nil {
		return nil, unix.EFAULT
	}
	var ts [2]unix.Timespec
	for i := range ts {
		tv := abi.DecodeTimeval(b[abi.SizeofTimeval*i:])
		sec, usec := tv.Sec, tv.Usec
		if usec < 0 || usec >= 1e6 {
			return nil, unix.EINVAL
		}
		ts[i] = unix.Timespec{Sec: sec, Nsec: usec * 1000}
	}
	return &ts, nil
}

// Utimes implements utimes(2).
func Utimes(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	ts, err := timevalTimes(t, a[1])
	if err != nil {
		return 0, err
	}
	if a[0] == 0 {
		return 0, unix.EFAULT
	}
	return utimens(t, kernel.AtFDCWD, a[0], ts, 0)
}

// Futimesat implements futimesat(2).
func Futimesat(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	ts, err := timevalTimes(t, a[2])
	if err != nil {
		return 0, err
	}
	return utimens(t, int32(a[0]), a[1], ts, 0)
}

// Utime implements utime(2): struct utimbuf holds whole seconds.
func Utime(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	var ts *[2]unix.Timespec
	if a[1] != 0 {
		b := make([]byte, abi.SizeofUtimbuf)
		if _, err := t.CopyIn(a[1], b); err != nil {
			return 0, unix.EFAULT
		}
		var ub abi.Utimbuf
		ub.Decode(b)
		ts = &[2]unix.Timespec{{Sec: ub.Actime}, {Sec: ub.Modtime}}
	}
	if a[0] == 0 {
		return 0, unix.EFAULT
	}
	return utimens(t, kernel.AtFDCWD, a[0], ts, 0)
}

// Chdir implements chdir(2).
func Chdir(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	vd, err := lookupPathArg(t, a[0])
	if err != nil {
		return 0, err
	}
	return 0, chdirTo(t, vd)
}

func chdirTo(t *kernel.Task, vd vfs.VirtualDentry) error {
	at, err := vd.Dentry.Inode().Stat()
	if err != nil {
		return err
	}
	if !at.IsDir() {
		return unix.ENOTDIR
	}
	if err := vfs.CheckAccess(t.Creds(), at, vfs.MayExec); err != nil {
		return err
	}
	t.SetCwd(vd)
	return nil
}

// Fchdir implements fchdir(2).
func Fchdir(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if !fd.VirtualDentry().Ok() {
		return 0, unix.ENOTDIR
	}
	return 0, chdirTo(t, fd.VirtualDentry())
}

// Getcwd implements getcwd(2).
func Getcwd(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	root, cwd := t.FSContext()
	if cwd.Dentry.IsDead() {
		return 0, unix.ENOENT
	}
	p, reachable := cwd.PathFrom(root)
	if !reachable {
		p = "(unreachable)" + p // a cwd outside a chroot, as Linux shows it
	}
	b := append([]byte(p), 0)
	if uint64(len(b)) > a[1] {
		return 0, unix.ERANGE
	}
	if _, err := t.CopyOut(a[0], b); err != nil {
		return 0, unix.EFAULT
	}
	return uint64(len(b)), nil
}

// Umask implements umask(2).
func Umask(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return uint64(t.Umask(true, uint32(a[0]))), nil
}

// Getdents64 implements getdents64(2).
func Getdents64(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, err := getIOFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	size := int(min(a[2], 1<<20))
	buf := make([]byte, 0, size)
	tooSmall := false
	err = fd.Getdents(func(d vfs.Dirent, next int64) bool {
		if len(buf)+abi.Dirent64Reclen(len(d.Name)) > size {
			if len(buf) == 0 {
				tooSmall = true
			}
			return false
		}
		buf = abi.AppendDirent64(buf, d.Ino, next, d.Type, d.Name)
		return true
	})
	if err != nil {
		return 0, err
	}
	if tooSmall {
		return 0, unix.EINVAL
	}
	if _, err := t.CopyOut(a[1], buf); err != nil {
		return 0, unix.EFAULT
	}
	return uint64(len(buf)), nil
}

// Chroot implements chroot(2): the caller's root becomes path (CAP_SYS_CHROOT), its working
// directory stays where it is.
func Chroot(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	vd, err := lookupPathArg(t, a[0])
	if err != nil {
		return 0, err
	}
	at, err := vd.Dentry.Inode().Stat()
	if err != nil {
		return 0, err
	}
	if !at.IsDir() {
		return 0, unix.ENOTDIR
	}
	if err := vfs.CheckAccess(t.Creds(), at, vfs.MayExec); err != nil {
		return 0, err
	}
	if !t.NSCapable(t.Group().UserNS(), unix.CAP_SYS_CHROOT) {
		return 0, unix.EPERM
	}
	t.SetRoot(vd)
	return 0, nil
}

// lookupPathArg copies in the path at addr and looks it up from the working directory,
// following a final symlink.
func lookupPathArg(t *kernel.Task, addr uint64) (vfs.VirtualDentry, error) {
	path, err := copyInPath(t, addr)
	if err != nil {
		return vfs.VirtualDentry{}, err
	}
	return t.Lookup(kernel.AtFDCWD, path, true)
}
