package syscalls

import (
	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/fs/inotify"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// inotify(7): the four calls, and the events the file operations report. Events are made by
// wrapping the handlers of the calls that change or use files (notifyEntries): a wrapper
// looks at what the call will touch, runs the call, and reports what it did only when it
// succeeded, and costs nothing while no watch exists.

// InotifyInit implements inotify_init(2).
func InotifyInit(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return inotifyInit(t, 0)
}

// InotifyInit1 implements inotify_init1(2).
func InotifyInit1(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	flags := int(int32(a[0]))
	if flags&^(unix.IN_CLOEXEC|unix.IN_NONBLOCK) != 0 {
		return 0, unix.EINVAL
	}
	return inotifyInit(t, flags)
}

func inotifyInit(t *kernel.Task, flags int) (uint64, error) {
	ii, err := inotifyOf(t).New(t.Creds().UID)
	if err != nil {
		return 0, err
	}
	return installAnon(t, ii, "anon_inode:inotify", unix.O_RDONLY|flags&unix.O_NONBLOCK, flags&unix.IN_CLOEXEC != 0)
}

// InotifyAddWatch implements inotify_add_watch(2).
func InotifyAddWatch(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	ii, ok := inotify.IsInstance(fd.Impl())
	if !ok {
		return 0, unix.EINVAL
	}
	mask := uint32(a[2])
	if mask&inotify.InAllEvents == 0 {
		return 0, unix.EINVAL
	}
	if mask&inotify.InMaskAdd != 0 && mask&inotify.InMaskCreate != 0 {
		return 0, unix.EINVAL
	}
	if mask&^uint32(inotify.InAllEvents|inotify.WatchFlags|inotify.InIsdir) != 0 {
		return 0, unix.EINVAL
	}
	path, err := copyInPath(t, a[1])
	if err != nil {
		return 0, err
	}
	vd, err := t.Lookup(int32(kernel.AtFDCWD), path, mask&inotify.InDontFollow == 0)
	if err != nil {
		return 0, err
	}
	at, err := vd.Dentry.Inode().Stat()
	if err != nil {
		return 0, err
	}
	if err := vfs.CheckAccess(t.Creds(), at, vfs.MayRead); err != nil {
		return 0, err
	}
	wd, err := ii.AddWatch(vd.Dentry.Inode(), mask)
	return uint64(wd), err
}

// InotifyRmWatch implements inotify_rm_watch(2).
func InotifyRmWatch(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	ii, ok := inotify.IsInstance(fd.Impl())
	if !ok {
		return 0, unix.EINVAL
	}
	return 0, ii.RmWatch(int32(a[1]))
}

// notifyEntries wraps the handlers of calls that report inotify events.
func notifyEntries(entries []entry) []entry {
	byNr := map[uint64]*entry{}
	for i := range entries {
		byNr[entries[i].nr] = &entries[i]
	}
	wrap := func(nr uint64, w func(kernel.SyscallFn) kernel.SyscallFn) {
		if e := byNr[nr]; e != nil && e.fn != nil {
			e.fn = w(e.fn)
		}
	}
	// Reads and writes on a descriptor: IN_ACCESS, IN_MODIFY.
	for _, nr := range []uint64{unix.SYS_READ, unix.SYS_PREAD64, unix.SYS_READV, unix.SYS_PREADV, unix.SYS_PREADV2} {
		wrap(nr, onFD(0, inotify.InAccess, true))
	}
	for _, nr := range []uint64{unix.SYS_WRITE, unix.SYS_PWRITE64, unix.SYS_WRITEV, unix.SYS_PWRITEV, unix.SYS_PWRITEV2,
		unix.SYS_FTRUNCATE, unix.SYS_FALLOCATE} {
		wrap(nr, onFD(0, inotify.InModify, nr != unix.SYS_FTRUNCATE && nr != unix.SYS_FALLOCATE))
	}
	wrap(unix.SYS_SENDFILE, both(onFD(1, inotify.InAccess, true), onFD(0, inotify.InModify, true)))
	wrap(unix.SYS_COPY_FILE_RANGE, both(onFD(0, inotify.InAccess, true), onFD(2, inotify.InModify, true)))
	wrap(unix.SYS_SPLICE, both(onFD(0, inotify.InAccess, true), onFD(2, inotify.InModify, true)))
	// Attribute changes on a descriptor or a path: IN_ATTRIB (truncate: IN_MODIFY).
	for _, nr := range []uint64{unix.SYS_FCHMOD, unix.SYS_FCHOWN, unix.SYS_FSETXATTR, unix.SYS_FREMOVEXATTR} {
		wrap(nr, onFD(0, inotify.InAttrib, false))
	}
	wrap(unix.SYS_CHMOD, onPath(-1, 0, always, inotify.InAttrib))
	wrap(unix.SYS_CHOWN, onPath(-1, 0, always, inotify.InAttrib))
	wrap(unix.SYS_LCHOWN, onPath(-1, 0, never, inotify.InAttrib))
	wrap(unix.SYS_TRUNCATE, onPath(-1, 0, always, inotify.InModify))
	wrap(unix.SYS_UTIME, onPath(-1, 0, always, inotify.InAttrib))
	wrap(unix.SYS_UTIMES, onPath(-1, 0, always, inotify.InAttrib))
	wrap(unix.SYS_SETXATTR, onPath(-1, 0, always, inotify.InAttrib))
	wrap(unix.SYS_REMOVEXATTR, onPath(-1, 0, always, inotify.InAttrib))
	wrap(unix.SYS_LSETXATTR, onPath(-1, 0, never, inotify.InAttrib))
	wrap(unix.SYS_LREMOVEXATTR, onPath(-1, 0, never, inotify.InAttrib))
	wrap(unix.SYS_FCHMODAT, onPath(0, 1, always, inotify.InAttrib))
	wrap(unix.SYS_FCHMODAT2, onPath(0, 1, flagFollow(3), inotify.InAttrib))
	wrap(unix.SYS_FCHOWNAT, onPath(0, 1, flagFollow(4), inotify.InAttrib))
	wrap(unix.SYS_FUTIMESAT, onPath(0, 1, always, inotify.InAttrib))
	wrap(unix.SYS_UTIMENSAT, utimensatNotify)
	// Opening: IN_CREATE for a new file, IN_MODIFY for O_TRUNC, IN_OPEN.
	wrap(unix.SYS_OPEN, onOpen(-1, 0, 1))
	wrap(unix.SYS_CREAT, onOpen(-1, 0, -1))
	wrap(unix.SYS_OPENAT, onOpen(0, 1, 2))
	wrap(unix.SYS_OPENAT2, onOpen(0, 1, -2))
	// Names: IN_CREATE, IN_DELETE(_SELF), IN_MOVED_FROM/TO, IN_MOVE_SELF.
	wrap(unix.SYS_MKDIR, onCreate(-1, 0, true))
	wrap(unix.SYS_MKDIRAT, onCreate(0, 1, true))
	wrap(unix.SYS_MKNOD, onCreate(-1, 0, false))
	wrap(unix.SYS_MKNODAT, onCreate(0, 1, false))
	wrap(unix.SYS_SYMLINK, onCreate(-1, 1, false))
	wrap(unix.SYS_SYMLINKAT, onCreate(1, 2, false))
	wrap(unix.SYS_LINK, onLink(-1, 0, -1, 1, -1))
	wrap(unix.SYS_LINKAT, onLink(0, 1, 2, 3, 4))
	wrap(unix.SYS_UNLINK, onUnlink(-1, 0, -1))
	wrap(unix.SYS_RMDIR, onUnlink(-1, 0, -2))
	wrap(unix.SYS_UNLINKAT, onUnlink(0, 1, 2))
	wrap(unix.SYS_RENAME, onRename(-1, 0, -1, 1, -1))
	wrap(unix.SYS_RENAMEAT, onRename(0, 1, 2, 3, -1))
	wrap(unix.SYS_RENAMEAT2, onRename(0, 1, 2, 3, 4))
	return entries
}

func always(kernel.SyscallArgs) bool { return true }
func never(kernel.SyscallArgs) bool  { return false }

// flagFollow follows a final symlink unless argument i has AT_SYMLINK_NOFOLLOW.
func flagFollow(i int) func(kernel.SyscallArgs) bool {
	return func(a kernel.SyscallArgs) bool { return a[i]&unix.AT_SYMLINK_NOFOLLOW == 0 }
}

func dirfdArg(a kernel.SyscallArgs, i int) int32 {
	if i < 0 {
		return kernel.AtFDCWD
	}
	return int32(a[i])
}

func both(x, y func(kernel.SyscallFn) kernel.SyscallFn) func(kernel.SyscallFn) kernel.SyscallFn {
	return func(fn kernel.SyscallFn) kernel.SyscallFn { return y(x(fn)) }
}

// onFD reports mask on the file descriptor argument i after the call succeeded (with a
// non-zero count when counted is set).
func onFD(i int, mask uint32, counted bool) func(kernel.SyscallFn) kernel.SyscallFn {
	return func(fn kernel.SyscallFn) kernel.SyscallFn {
		return func(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
			r, err := fn(t, a)
			if err != nil || !inotifyOf(t).Active() || counted && r == 0 {
				return r, err
			}
			if fd, ferr := getFD(t, a[i]); ferr == nil {
				inotifyOf(t).Notify(fd.VirtualDentry(), mask)
				fd.DecRef()
			}
			return r, err
		}
	}
}

// onPath reports mask on the path (dirfd argument di, path argument pi) after the call.
func onPath(di, pi int, follow func(kernel.SyscallArgs) bool, mask uint32) func(kernel.SyscallFn) kernel.SyscallFn {
	return func(fn kernel.SyscallFn) kernel.SyscallFn {
		return func(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
			r, err := fn(t, a)
			if err != nil || !inotifyOf(t).Active() {
				return r, err
			}
			if path, perr := copyInPath(t, a[pi]); perr == nil {
				if vd, lerr := t.Lookup(dirfdArg(a, di), path, follow(a)); lerr == nil {
					inotifyOf(t).Notify(vd, mask)
				}
			}
			return r, err
		}
	}
}

// utimensatNotify: utimensat names a file by path, or by dirfd with a null path.
func utimensatNotify(fn kernel.SyscallFn) kernel.SyscallFn {
	byPath := onPath(0, 1, flagFollow(3), inotify.InAttrib)(fn)
	byFD := onFD(0, inotify.InAttrib, false)(fn)
	return func(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
		if a[1] == 0 {
			return byFD(t, a)
		}
		return byPath(t, a)
	}
}

// onOpen reports IN_CREATE when the open made the file, IN_MODIFY when it truncated one,
// and IN_OPEN. fi is the flags argument (-1: creat, -2: openat2's struct).
func onOpen(di, pi, fi int) func(kernel.SyscallFn) kernel.SyscallFn {
	return func(fn kernel.SyscallFn) kernel.SyscallFn {
		return func(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
			if !inotifyOf(t).Active() {
				return fn(t, a)
			}
			var flags uint64
			switch fi {
			case -1:
				flags = unix.O_CREAT | unix.O_WRONLY | unix.O_TRUNC
			case -2:
				var b [8]byte
				if _, err := t.CopyIn(a[2], b[:]); err == nil {
					for i := 7; i >= 0; i-- {
						flags = flags<<8 | uint64(b[i])
					}
				}
			default:
				flags = a[fi]
			}
			existed := true
			var parent vfs.VirtualDentry
			var name string
			path, perr := copyInPath(t, a[pi])
			if perr == nil && flags&unix.O_CREAT != 0 {
				if p, n, _, _, err := t.LookupParent(dirfdArg(a, di), path); err == nil && n != "" {
					parent, name = p, n
					_, cerr := p.Dentry.Child(n)
					existed = cerr == nil
				}
			}
			r, err := fn(t, a)
			if err != nil {
				return r, err
			}
			fd, ferr := getFD(t, r)
			if ferr != nil {
				return r, err
			}
			defer fd.DecRef()
			vd := fd.VirtualDentry()
			if !existed && parent.Dentry != nil {
				isDir := false
				if at, err := vd.Dentry.Inode().Stat(); err == nil {
					isDir = at.IsDir()
				}
				inotifyOf(t).NotifyChild(parent, name, inotify.InCreate, 0, isDir)
			} else if flags&unix.O_TRUNC != 0 && fd.Writable() {
				if at, err := vd.Dentry.Inode().Stat(); err == nil && at.Type() == unix.S_IFREG {
					inotifyOf(t).Notify(vd, inotify.InModify)
				}
			}
			inotifyOf(t).Notify(vd, inotify.InOpen)
			return r, err
		}
	}
}

// onCreate reports IN_CREATE in the parent of the path argument pi.
func onCreate(di, pi int, dir bool) func(kernel.SyscallFn) kernel.SyscallFn {
	return func(fn kernel.SyscallFn) kernel.SyscallFn {
		return func(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
			if !inotifyOf(t).Active() {
				return fn(t, a)
			}
			path, perr := copyInPath(t, a[pi])
			r, err := fn(t, a)
			if err != nil || perr != nil {
				return r, err
			}
			if p, n, _, _, lerr := t.LookupParent(dirfdArg(a, di), path); lerr == nil && n != "" {
				inotifyOf(t).NotifyChild(p, n, inotify.InCreate, 0, dir)
			}
			return r, err
		}
	}
}

// onLink reports IN_ATTRIB on the linked file and IN_CREATE for its new name.
func onLink(odi, opi, ndi, npi, fli int) func(kernel.SyscallFn) kernel.SyscallFn {
	return func(fn kernel.SyscallFn) kernel.SyscallFn {
		return func(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
			if !inotifyOf(t).Active() {
				return fn(t, a)
			}
			var flags uint64
			if fli >= 0 {
				flags = a[fli]
			}
			var target vfs.VirtualDentry
			if op, err := copyInPath(t, a[opi]); err == nil {
				if vd, fd, err := t.FileOrPath(dirfdArg(a, odi), op, flags&unix.AT_EMPTY_PATH != 0, flags&unix.AT_SYMLINK_FOLLOW != 0); err == nil {
					target = vd
					if fd != nil {
						fd.DecRef()
					}
				}
			}
			np, nerr := copyInPath(t, a[npi])
			r, err := fn(t, a)
			if err != nil {
				return r, err
			}
			if k, isDir, ok := inotifyOf(t).Lookup(target); ok {
				inotifyOf(t).NotifyKey(k, isDir, inotify.InAttrib)
			}
			if nerr == nil {
				if p, n, _, _, lerr := t.LookupParent(dirfdArg(a, ndi), np); lerr == nil && n != "" {
					inotifyOf(t).NotifyChild(p, n, inotify.InCreate, 0, false)
				}
			}
			return r, err
		}
	}
}

// onUnlink reports IN_ATTRIB (a file's link count), IN_DELETE in the parent, and
// IN_DELETE_SELF when the last link went. fli is the flags argument (-1: unlink, -2: rmdir).
func onUnlink(di, pi, fli int) func(kernel.SyscallFn) kernel.SyscallFn {
	return func(fn kernel.SyscallFn) kernel.SyscallFn {
		return func(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
			if !inotifyOf(t).Active() {
				return fn(t, a)
			}
			path, perr := copyInPath(t, a[pi])
			var parent vfs.VirtualDentry
			var name string
			var key inotify.Key
			var isDir, known bool
			var nlink uint64
			if perr == nil {
				if p, n, _, _, err := t.LookupParent(dirfdArg(a, di), path); err == nil && n != "" {
					if c, err := p.Dentry.Child(n); err == nil {
						if at, err := c.Inode().Stat(); err == nil {
							parent, name, known = p, n, true
							key, isDir, nlink = inotify.Key{Dev: at.Dev, Ino: at.Ino}, at.IsDir(), at.Nlink
						}
					}
				}
			}
			r, err := fn(t, a)
			if err != nil || !known {
				return r, err
			}
			if !isDir {
				inotifyOf(t).NotifyKey(key, false, inotify.InAttrib)
			}
			// The inode goes before its name (iput in d_delete, then fsnotify_delete).
			if isDir || nlink <= 1 {
				inotifyOf(t).Deleted(key)
			}
			inotifyOf(t).NotifyChild(parent, name, inotify.InDelete, 0, isDir)
			return r, err
		}
	}
}

// onRename reports IN_MOVED_FROM and IN_MOVED_TO with one cookie, IN_ATTRIB and
// IN_DELETE_SELF for a replaced file, and IN_MOVE_SELF.
func onRename(odi, opi, ndi, npi, fli int) func(kernel.SyscallFn) kernel.SyscallFn {
	return func(fn kernel.SyscallFn) kernel.SyscallFn {
		return func(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
			if !inotifyOf(t).Active() {
				return fn(t, a)
			}
			var flags uint64
			if fli >= 0 {
				flags = a[fli]
			}
			type side struct {
				parent    vfs.VirtualDentry
				name      string
				key       inotify.Key
				isDir, ok bool
				nlink     uint64
				nameFound bool
			}
			look := func(di, pi int) side {
				var s side
				path, err := copyInPath(t, a[pi])
				if err != nil {
					return s
				}
				p, n, _, _, err := t.LookupParent(dirfdArg(a, di), path)
				if err != nil || n == "" {
					return s
				}
				s.parent, s.name, s.nameFound = p, n, true
				if c, err := p.Dentry.Child(n); err == nil {
					if at, err := c.Inode().Stat(); err == nil {
						s.key, s.isDir, s.nlink, s.ok = inotify.Key{Dev: at.Dev, Ino: at.Ino}, at.IsDir(), at.Nlink, true
					}
				}
				return s
			}
			src, dst := look(odi, opi), look(ndi, npi)
			r, err := fn(t, a)
			if err != nil || !src.ok || !dst.nameFound {
				return r, err
			}
			cookie := inotifyOf(t).NewCookie()
			inotifyOf(t).NotifyChild(src.parent, src.name, inotify.InMovedFrom, cookie, src.isDir)
			inotifyOf(t).NotifyChild(dst.parent, dst.name, inotify.InMovedTo, cookie, src.isDir)
			if flags&unix.RENAME_EXCHANGE != 0 && dst.ok {
				c2 := inotifyOf(t).NewCookie()
				inotifyOf(t).NotifyChild(dst.parent, dst.name, inotify.InMovedFrom, c2, dst.isDir)
				inotifyOf(t).NotifyChild(src.parent, src.name, inotify.InMovedTo, c2, dst.isDir)
				inotifyOf(t).NotifyKey(dst.key, dst.isDir, inotify.InMoveSelf)
			} else if dst.ok && dst.key != src.key {
				if !dst.isDir {
					inotifyOf(t).NotifyKey(dst.key, false, inotify.InAttrib)
				}
			}
			inotifyOf(t).NotifyKey(src.key, src.isDir, inotify.InMoveSelf)
			if flags&unix.RENAME_EXCHANGE == 0 && dst.ok && dst.key != src.key && (dst.isDir || dst.nlink <= 1) {
				inotifyOf(t).Deleted(dst.key)
			}
			return r, err
		}
	}
}

// inotifyOf returns the inotify table of t's kernel.
func inotifyOf(t *kernel.Task) *inotify.Table { return inotify.Of(t.Kernel()) }
