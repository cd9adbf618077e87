package kernel

import (
	"errors"
	"strconv"
	"time"

	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// AtFDCWD is AT_FDCWD.
const AtFDCWD = -100

// resolveStart returns the resolution options for a *at syscall's dirfd and path.
func (t *Task) resolveStart(dirfd int32, path string) (vfs.ResolveOpts, error) {
	return t.resolveStartScoped(dirfd, path, false)
}

// resolveStartScoped is resolveStart for openat2's RESOLVE_IN_ROOT (inRoot): dirfd is the
// start, and the root, even of an absolute path (Linux's path_init takes the dirfd for
// LOOKUP_IN_ROOT before looking at the path's first byte).
func (t *Task) resolveStartScoped(dirfd int32, path string, inRoot bool) (vfs.ResolveOpts, error) {
	root, cwd := t.FSContext()
	o := vfs.ResolveOpts{Root: root, Start: cwd, Creds: t.Creds(), PID: t.tg.PID, TID: t.TID}
	if path == "" {
		// An empty path (without AT_EMPTY_PATH, which callers handle first) fails as
		// Linux's getname does, before dirfd is looked at.
		return o, unix.ENOENT
	}
	if (path[0] == '/' && !inRoot) || dirfd == AtFDCWD {
		return o, nil
	}
	fd, _, err := t.FDs().Get(dirfd)
	if err != nil {
		return o, err
	}
	defer fd.DecRef()
	vd := fd.VirtualDentry()
	if !vd.Ok() {
		return o, unix.ENOTDIR
	}
	a, err := vd.Dentry.Inode().Stat()
	if err != nil {
		return o, err
	}
	if !a.IsDir() {
		return o, unix.ENOTDIR
	}
	o.Start = vd
	return o, nil
}

// Lookup resolves path relative to dirfd.
func (t *Task) Lookup(dirfd int32, path string, follow bool) (vfs.VirtualDentry, error) {
	o, err := t.resolveStart(dirfd, path)
	if err != nil {
		return vfs.VirtualDentry{}, err
	}
	o.Follow = follow
	return t.k.NS.Resolve(path, o)
}

// LookupOpts resolves with explicit options (openat2).
func (t *Task) LookupParent(dirfd int32, path string) (vfs.VirtualDentry, string, bool, vfs.ResolveOpts, error) {
	return t.lookupParent(dirfd, path, false)
}

// LookupParentLong is LookupParent leaving a last component over vfs.NameMax to the
// caller (vfs.ResolveOpts.LongLast).
func (t *Task) LookupParentLong(dirfd int32, path string) (vfs.VirtualDentry, string, bool, vfs.ResolveOpts, error) {
	return t.lookupParent(dirfd, path, true)
}

func (t *Task) lookupParent(dirfd int32, path string, longLast bool) (vfs.VirtualDentry, string, bool, vfs.ResolveOpts, error) {
	o, err := t.resolveStart(dirfd, path)
	if err != nil {
		return vfs.VirtualDentry{}, "", false, o, err
	}
	o.LongLast = longLast
	p, name, trailing, err := t.k.NS.ResolveParent(path, o)
	return p, name, trailing, o, err
}

// FileOrPath returns the location named by dirfd+path, or dirfd itself with AT_EMPTY_PATH
// and an empty path.
func (t *Task) FileOrPath(dirfd int32, path string, emptyPath, follow bool) (vfs.VirtualDentry, *vfs.FileDescription, error) {
	if path == "" && emptyPath {
		if dirfd == AtFDCWD {
			_, cwd := t.FSContext()
			return cwd, nil, nil
		}
		fd, _, err := t.FDs().Get(dirfd)
		if err != nil {
			return vfs.VirtualDentry{}, nil, err
		}
		return fd.VirtualDentry(), fd, nil
	}
	vd, err := t.Lookup(dirfd, path, follow)
	return vd, nil, err
}

// OpenOpts are open's inputs after decoding.
type OpenOpts struct {
	Flags   int
	Mode    uint32
	Resolve vfs.ResolveOpts // openat2 RESOLVE_* (Root/Start/Creds filled in by OpenAt)
}

// pathFile is the File of an O_PATH description: no I/O. It holds its file as an open
// one does (vfs.Retainer): release drops that.
type pathFile struct{ release func() }

func (pathFile) Read(*vfs.FileDescription, [][]byte, int64) (int64, error)  { return 0, unix.EBADF }
func (pathFile) Write(*vfs.FileDescription, [][]byte, int64) (int64, error) { return 0, unix.EBADF }
func (f pathFile) Release() {
	if f.release != nil {
		f.release()
	}
}

// staleRetries bounds how often an open resolves its path again after the file it found
// was renamed over or unlinked before it could be opened (Linux retries such races too,
// with LOOKUP_REVAL).
const staleRetries = 5

// errStale marks an open that lost such a race.
var errStale = errors.New("the file was replaced while being opened")

// maxSymlinkHops is Linux's MAXSYMLINKS: how many links one path may go through.
const maxSymlinkHops = 40

// OpenAt implements the path part of open/openat/openat2/creat.
func (t *Task) OpenAt(dirfd int32, path string, oo OpenOpts) (*vfs.FileDescription, error) {
	for i := 0; ; i++ {
		fd, err := t.openAt(dirfd, path, oo, i == staleRetries)
		if err != errStale {
			return fd, err
		}
	}
}

// staleOpen reports whether opening vd failed with err because its name no longer leads to
// the file the cache holds: a rename or unlink in the sandbox replaced it after the path
// resolved, or the host changed it behind the cache's back (the dentry is then dropped, so
// the retry looks the name up afresh). The failure is not the app's to see.
func (t *Task) staleOpen(vd vfs.VirtualDentry, err error) bool {
	if err != unix.ENOENT && err != unix.ESTALE {
		return false
	}
	// A rename holds the rename lock until the dentry cache says what it did.
	t.k.NS.LockRename()
	t.k.NS.UnlockRename()
	if !vd.Dentry.IsDead() {
		vd.Dentry.Invalidate()
	}
	return true
}

func (t *Task) openAt(dirfd int32, path string, oo OpenOpts, last bool) (*vfs.FileDescription, error) {
	flags := oo.Flags
	// The last attempt holds the rename lock from the path's resolution to the file's open:
	// no rename in the sandbox can then replace the file in between (renames that kept
	// doing so had made every earlier attempt lose on a loaded machine). It is released
	// before anything that may wait (a FIFO's partner).
	held := last
	if held {
		t.k.NS.LockRename()
	}
	release := func() {
		if held {
			held = false
			t.k.NS.UnlockRename()
		}
	}
	defer release()
	o, err := t.resolveStartScoped(dirfd, path, oo.Resolve.InRoot)
	if err != nil {
		return nil, err
	}
	o.NoSymlinks, o.NoMagicLinks, o.Beneath, o.InRoot, o.NoXDev = oo.Resolve.NoSymlinks, oo.Resolve.NoMagicLinks,
		oo.Resolve.Beneath, oo.Resolve.InRoot, oo.Resolve.NoXDev
	if o.InRoot {
		o.Root = o.Start
	}
	creds := o.Creds
	ns := t.k.NS
	follow := flags&unix.O_NOFOLLOW == 0
	var vd vfs.VirtualDentry
	var created vfs.File
	if flags&unix.O_TMPFILE == unix.O_TMPFILE {
		// An unnamed file in the directory path names (open's checks on flags done).
		o.Follow = true
		dir, err := ns.Resolve(path, o)
		if err != nil {
			return nil, err
		}
		da, err := dir.Dentry.Inode().Stat()
		if err != nil {
			return nil, err
		}
		if !da.IsDir() {
			return nil, unix.ENOTDIR
		}
		if err := vfs.CheckAccess(creds, da, vfs.MayWrite|vfs.MayExec); err != nil {
			return nil, err
		}
		if dir.Mount.ReadOnly() {
			return nil, unix.EROFS
		}
		tc, ok := dir.Dentry.Inode().(vfs.TmpfileCreator)
		if !ok {
			return nil, unix.EOPNOTSUPP
		}
		in, f, err := tc.Tmpfile(oo.Mode&^creds.Umask&0o7777, flags&unix.O_EXCL != 0, creds)
		if err != nil {
			return nil, err
		}
		a, err := in.Stat()
		if err != nil {
			f.Release()
			return nil, err
		}
		vd = vfs.VirtualDentry{Mount: dir.Mount, Dentry: dir.Dentry.Unlinked("#"+strconv.FormatUint(a.Ino, 10), in)}
		return vfs.NewFileDescription(f, vd, flags), nil // F_GETFL shows O_TMPFILE, as Linux keeps it
	}
	if flags&unix.O_CREAT != 0 && flags&unix.O_PATH == 0 {
		parent, name, trailing, err := ns.ResolveParent(path, o)
		if err != nil {
			return nil, err
		}
		if name == "" || name == "." || name == ".." || trailing {
			return nil, unix.EISDIR
		}
		vd, err = ns.Walk(parent, name, false, follow && flags&unix.O_EXCL == 0, o)
		// A dangling symlink followed by O_CREAT (without O_EXCL) creates the file it
		// names, as Linux does: go on from the link's target.
		for hops := 0; err == unix.ENOENT && follow && flags&unix.O_EXCL == 0; hops++ {
			l, lerr := ns.Walk(parent, name, false, false, o)
			if lerr != nil {
				break
			}
			la, lerr := l.Dentry.Inode().Stat()
			if lerr != nil || la.Type() != unix.S_IFLNK {
				break
			}
			if hops == maxSymlinkHops {
				return nil, unix.ELOOP
			}
			target, lerr := l.Dentry.Inode().Readlink()
			if lerr != nil {
				return nil, lerr
			}
			lo := o
			lo.Start = parent
			if parent, name, trailing, err = ns.ResolveParent(target, lo); err != nil {
				return nil, err
			}
			if name == "" || name == "." || name == ".." || trailing {
				return nil, unix.EISDIR
			}
			vd, err = ns.Walk(parent, name, false, true, o)
		}
		switch {
		case err == nil:
			if flags&unix.O_EXCL != 0 {
				return nil, unix.EEXIST
			}
			// do_open: O_CREAT of an existing directory is EISDIR.
			if da, derr := vd.Dentry.Inode().Stat(); derr == nil && da.IsDir() {
				return nil, unix.EISDIR
			}
		case err == unix.ENOENT:
			// Create it (a dangling symlink is followed only without O_EXCL; creating through
			// one is what Linux does too, but rare; we create in the parent here). A
			// directory whose misses fail (procfs) fails the lookup first.
			if _, ok := parent.Dentry.Inode().(vfs.MissFailer); ok {
				return nil, err
			}
			pa, err := parent.Dentry.Inode().Stat()
			if err != nil {
				return nil, err
			}
			if err := vfs.CheckAccess(creds, pa, vfs.MayWrite|vfs.MayExec); err != nil {
				return nil, err
			}
			if parent.Mount.ReadOnly() {
				return nil, unix.EROFS
			}
			if parent.Dentry.IsDead() {
				return nil, unix.ENOENT
			}
			in, f, err := parent.Dentry.Inode().Create(name, flags, oo.Mode&^creds.Umask&0o7777, creds)
			if err != nil {
				return nil, err
			}
			vd = vfs.VirtualDentry{Mount: parent.Mount, Dentry: parent.Dentry.Insert(name, in)}
			created = f
		default:
			return nil, err
		}
	} else {
		o.Follow = follow
		o.OpenRead = flags&(unix.O_ACCMODE|unix.O_PATH|unix.O_TRUNC|unix.O_DIRECTORY) == unix.O_RDONLY
		vd, err = ns.Resolve(path, o)
		if err != nil {
			return nil, err
		}
	}
	return t.openLocated(vd, flags, creds, created, last, release)
}

// OpenLocation opens the file at vd with flags as open(2) would once the path resolved
// (open_by_handle_at(2) finds its file by handle).
func (t *Task) OpenLocation(vd vfs.VirtualDentry, flags int) (*vfs.FileDescription, error) {
	return t.openLocated(vd, flags, t.Creds(), nil, true, func() {})
}

// openLocated is the end of an open: vd is resolved (created is the file O_CREAT made, if
// it did); checks, opening, and the description. release drops the rename lock of the
// last attempt before anything that may wait.
func (t *Task) openLocated(vd vfs.VirtualDentry, flags int, creds *vfs.Creds, created vfs.File, last bool, release func()) (*vfs.FileDescription, error) {
	in := vd.Dentry.Inode()
	a, err := in.Stat()
	if err != nil {
		if created != nil {
			created.Release()
		}
		return nil, err
	}
	if flags&unix.O_PATH != 0 {
		if flags&unix.O_DIRECTORY != 0 && !a.IsDir() {
			return nil, unix.ENOTDIR
		}
		var pf pathFile
		if r, ok := in.(vfs.Retainer); ok {
			if pf.release, err = r.Retain(); err != nil {
				if !last && t.staleOpen(vd, err) {
					return nil, errStale
				}
				return nil, err
			}
		}
		return vfs.NewFileDescription(pf, vd, flags&(unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW)), nil
	}
	if created == nil {
		// do_open and may_open's order: O_DIRECTORY, then the file's type, then access.
		if flags&unix.O_DIRECTORY != 0 && !a.IsDir() {
			return nil, unix.ENOTDIR
		}
		if a.Type() == unix.S_IFLNK {
			return nil, unix.ELOOP
		}
		// Access mode 3 asks for both (ioctl-only descriptors); O_TRUNC asks to write.
		acc := flags & unix.O_ACCMODE
		writes := acc != unix.O_RDONLY || flags&unix.O_TRUNC != 0
		if a.IsDir() && writes {
			return nil, unix.EISDIR
		}
		var want uint32
		if acc != unix.O_WRONLY {
			want |= vfs.MayRead
		}
		if writes {
			want |= vfs.MayWrite
		}
		if err := vfs.CheckAccess(creds, a, want); err != nil {
			return nil, err
		}
		// O_NOATIME is the owner's (or a privileged task's) to ask for.
		if flags&unix.O_NOATIME != 0 && creds.FSUID != 0 && creds.FSUID != a.UID {
			return nil, unix.EPERM
		}
		if (writes || flags&unix.O_TRUNC != 0) && vd.Mount.ReadOnly() && a.Type() == unix.S_IFREG {
			return nil, unix.EROFS
		}
		if (a.Type() == unix.S_IFCHR || a.Type() == unix.S_IFBLK) && vd.Mount.NoDev() {
			return nil, unix.EACCES // may_open_dev
		}
	}
	if ao, ok := in.(vfs.AnonOpener); ok && created == nil {
		return ao.OpenAnon(flags)
	}
	f := created
	if po, ok := in.(vfs.PIDOpener); ok && f == nil {
		if f, err = po.OpenAs(t.tg.PID, flags); err != nil {
			return nil, err
		}
	}
	if f == nil {
		if f, err = in.Open(flags); err != nil {
			if !last && t.staleOpen(vd, err) {
				return nil, errStale
			}
			return nil, err
		}
	}
	release()
	if created == nil && flags&unix.O_TRUNC != 0 && a.Type() == unix.S_IFREG {
		// An unprivileged truncating open drops set-ID bits (do_truncate's remove_privs).
		if pk, ok := in.(vfs.PrivKiller); ok {
			pk.KillPrivs(creds)
		}
	}
	if f, err = t.openedTerminal(f, flags); err != nil {
		return nil, err
	}
	fd := vfs.NewFileDescription(f, vd, flags)
	if pw, ok := f.(vfs.PartnerWaiter); ok && flags&unix.O_NONBLOCK == 0 {
		if err := t.waitPartner(fd, pw); err != nil {
			fd.DecRef()
			return nil, err
		}
	}
	return fd, nil
}

// waitPartner blocks a FIFO open until the other side opens it (interruptibly).
func (t *Task) waitPartner(fd *vfs.FileDescription, pw vfs.PartnerWaiter) error {
	p, ok := fd.Impl().(vfs.Pollable)
	if !ok {
		return nil
	}
	t.noteWait(func() string { return "the other end of FIFO " + fd.VirtualDentry().Path() })
	e := &waiter.Entry{Mask: ^uint32(0), Callback: func(uint32) { t.wakeUp() }}
	p.EventRegister(e)
	defer p.EventUnregister(e)
	for pw.WaitingForPartner() {
		if err := t.sleep(nil, time.Time{}); err != nil {
			return err
		}
	}
	return nil
}

// WritableSharedMapped reports whether any process maps src shared and writable (or able
// to become writable): F_SEAL_WRITE is then refused with EBUSY.
func (k *Kernel) WritableSharedMapped(src mm.Source) bool {
	for _, tg := range k.Groups() {
		if m := tg.MM(); m != nil && m.MapsWritableShared(src) {
			return true
		}
	}
	return false
}
