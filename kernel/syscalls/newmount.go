package syscalls

import (
	"sync"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/fs/procfs"
	"github.com/sbx-dev/sbx/kernel/fs/tmpfs"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// The new mount API (fsopen(2), fsconfig(2), fsmount(2), move_mount(2), open_tree(2),
// fspick(2), mount_setattr(2)) over the sandbox's own VFS, for the filesystems mount(2)
// makes here (tmpfs, proc, mqueue) and binds; nothing reaches the host. The checks and
// their order follow fs/fsopen.c and fs/namespace.c: CAP_SYS_ADMIN over the caller's
// mount namespace first (EPERM), then flags (EINVAL), then the descriptors.

// An fs context's phases (enum fs_context_phase).
const (
	fcCreateParams = iota // fsopen: parameters for a new filesystem
	fcAwaitMount          // created, for fsmount
	fcAwaitReconf         // mounted or reconfigured: the next fsconfig starts a reconfiguration
	fcReconfParams        // fspick: parameters for a reconfiguration
	fcFailed
)

// fsContext is the file fsopen and fspick return ("anon_inode:[fscontext]").
type fsContext struct {
	mu sync.Mutex
	// All below are protected by mu.
	fstype string
	phase  int
	// opts are a tmpfs's parameters so far; source is "source", ro the "ro"/"rw" flag.
	opts   tmpfsOptions
	source *string
	ro     *bool
	// root is the filesystem made (or picked); tfs is it when a tmpfs; mnt is the
	// picked mount (fspick).
	root    *vfs.Dentry
	tfs     *tmpfs.FS
	options string
	sbRO    bool
	picked  *vfs.Mount
	pfsHook func(*vfs.Mount)
}

func (c *fsContext) Read(*vfs.FileDescription, [][]byte, int64) (int64, error) {
	return 0, unix.ENODATA // no messages are kept
}
func (c *fsContext) Write(*vfs.FileDescription, [][]byte, int64) (int64, error) {
	return 0, unix.EINVAL
}
func (c *fsContext) Release() {}

// newMountFSTypes are the filesystems fsopen knows.
var newMountFSTypes = map[string]bool{"tmpfs": true, "proc": true, "mqueue": true}

const (
	fsopenCloexec  = 1
	fsmountCloexec = 1

	fsconfigSetFlag        = 0
	fsconfigSetString      = 1
	fsconfigSetBinary      = 2
	fsconfigSetPath        = 3
	fsconfigSetPathEmpty   = 4
	fsconfigSetFD          = 5
	fsconfigCmdCreate      = 6
	fsconfigCmdReconfigure = 7
	fsconfigCmdCreateExcl  = 8

	mountAttrRdonly      = 0x1
	mountAttrNosuid      = 0x2
	mountAttrNodev       = 0x4
	mountAttrNoexec      = 0x8
	mountAttrAtime       = 0x70
	mountAttrRelatime    = 0x0
	mountAttrNoatime     = 0x10
	mountAttrStrictatime = 0x20
	mountAttrNodiratime  = 0x80
	mountAttrIdmap       = 0x100000
	mountAttrNosymfollow = 0x200000

	moveMountFSymlinks   = 0x1
	moveMountFAutomounts = 0x2
	moveMountFEmptyPath  = 0x4
	moveMountTSymlinks   = 0x10
	moveMountTAutomounts = 0x20
	moveMountTEmptyPath  = 0x40
	moveMountSetGroup    = 0x100
	moveMountBeneath     = 0x200

	openTreeClone = 1

	fspickCloexec         = 1
	fspickSymlinkNofollow = 2
	fspickNoAutomount     = 4
	fspickEmptyPath       = 8

	mountAttrSizeVer0 = 32
)

// Fsopen implements fsopen(2).
func Fsopen(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if !t.MountCapable() {
		return 0, unix.EPERM
	}
	if a[1]&^fsopenCloexec != 0 {
		return 0, unix.EINVAL
	}
	name, err := t.CopyInString(a[0], 4095)
	if err != nil {
		return 0, unix.EFAULT
	}
	if !newMountFSTypes[name] {
		return 0, unix.ENODEV
	}
	c := &fsContext{fstype: name, phase: fcCreateParams, opts: tmpfsOptions{mode: 0o1777}}
	return installFSContext(t, c, a[1]&fsopenCloexec != 0)
}

func installFSContext(t *kernel.Task, c *fsContext, cloexec bool) (uint64, error) {
	fd := vfs.NewAnonFileDescription(c, "anon_inode:[fscontext]", unix.O_RDWR)
	defer fd.DecRef()
	n, err := t.FDs().Install(fd, 0, cloexec, nofile(t))
	return uint64(n), err
}

// fsContextOf returns the fs context fd names: EBADF for no file, EINVAL for another.
func fsContextOf(t *kernel.Task, fd uint64) (*fsContext, func(), error) {
	f, err := getFD(t, fd)
	if err != nil {
		return nil, nil, err
	}
	c, ok := f.Impl().(*fsContext)
	if !ok {
		f.DecRef()
		return nil, nil, unix.EINVAL
	}
	return c, f.DecRef, nil
}

// Fsconfig implements fsconfig(2).
func Fsconfig(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fdnr, cmd, keyAddr, valAddr, aux := int32(a[0]), a[1], a[2], a[3], int32(a[4])
	if fdnr < 0 {
		return 0, unix.EINVAL
	}
	switch cmd {
	case fsconfigSetFlag:
		if keyAddr == 0 || valAddr != 0 || aux != 0 {
			return 0, unix.EINVAL
		}
	case fsconfigSetString:
		if keyAddr == 0 || valAddr == 0 || aux != 0 {
			return 0, unix.EINVAL
		}
	case fsconfigSetBinary:
		if keyAddr == 0 || valAddr == 0 || aux <= 0 || aux > 1<<20 {
			return 0, unix.EINVAL
		}
	case fsconfigSetPath, fsconfigSetPathEmpty:
		if keyAddr == 0 || valAddr == 0 || aux != kernel.AtFDCWD && aux < 0 {
			return 0, unix.EINVAL
		}
	case fsconfigSetFD:
		if keyAddr == 0 || valAddr != 0 || aux < 0 {
			return 0, unix.EINVAL
		}
	case fsconfigCmdCreate, fsconfigCmdCreateExcl, fsconfigCmdReconfigure:
		if keyAddr != 0 || valAddr != 0 || aux != 0 {
			return 0, unix.EINVAL
		}
	default:
		return 0, unix.EOPNOTSUPP
	}
	c, release, err := fsContextOf(t, uint64(fdnr))
	if err != nil {
		return 0, err
	}
	defer release()
	var key, val string
	if keyAddr != 0 {
		if key, err = t.CopyInString(keyAddr, 256); err != nil {
			return 0, copyStringErr(err)
		}
	}
	switch cmd {
	case fsconfigSetString:
		if val, err = t.CopyInString(valAddr, 256); err != nil {
			return 0, copyStringErr(err)
		}
	case fsconfigSetFD:
		f, err := getFD(t, uint64(aux))
		if err != nil {
			return 0, err
		}
		f.DecRef()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.phase == fcAwaitReconf {
		// finish_clean_context: a new reconfiguration starts from fresh parameters.
		c.phase, c.opts, c.source, c.ro = fcReconfParams, tmpfsOptions{mode: 0o1777}, nil, nil
	}
	switch cmd {
	case fsconfigCmdCreate, fsconfigCmdCreateExcl:
		if c.phase != fcCreateParams {
			return 0, unix.EBUSY
		}
		if err := c.createLocked(t); err != nil {
			c.phase = fcFailed
			return 0, err
		}
		c.phase = fcAwaitMount
		return 0, nil
	case fsconfigCmdReconfigure:
		if c.phase != fcReconfParams {
			return 0, unix.EBUSY
		}
		if err := c.reconfigureLocked(t); err != nil {
			c.phase = fcFailed
			return 0, err
		}
		c.phase = fcAwaitReconf
		return 0, nil
	}
	if c.phase != fcCreateParams && c.phase != fcReconfParams {
		return 0, unix.EBUSY
	}
	return 0, c.paramLocked(t, cmd, key, val)
}

func copyStringErr(err error) error {
	if err == unix.ENAMETOOLONG {
		return unix.EINVAL
	}
	return unix.EFAULT
}

// paramLocked applies one parameter (vfs_parse_fs_param): the superblock flags, the
// filesystem's own, then "source"; anything else is EINVAL. Preconditions: c.mu held.
func (c *fsContext) paramLocked(t *kernel.Task, cmd uint64, key, val string) error {
	switch key {
	case "ro", "rw":
		b := key == "ro"
		c.ro = &b
		return nil
	case "dirsync", "lazytime", "mand", "sync", "async", "nolazytime", "nomand":
		return nil
	}
	isString := cmd == fsconfigSetString
	if c.fstype == "tmpfs" && key != "source" {
		if cmd != fsconfigSetFlag && !isString {
			return unix.EINVAL // tmpfs takes only strings and flags
		}
		return c.opts.set(t, key, val, isString)
	}
	if key == "source" {
		if !isString || c.source != nil {
			return unix.EINVAL
		}
		c.source = &val
		return nil
	}
	return unix.EINVAL
}

// createLocked makes the filesystem (vfs_get_tree), with the checks of mount_capable.
// Preconditions: c.mu held.
func (c *fsContext) createLocked(t *kernel.Task) error {
	ns := t.Group().MountNS()
	switch c.fstype {
	case "tmpfs":
		fs, root := newTmpfs(t, ns.NewDev(), c.opts)
		c.root, c.tfs, c.options = vfs.NewRootDentry(root), fs, fs.MountOptions()
	case "proc":
		if !t.NSCapable(t.Group().PIDNSOwner(), unix.CAP_SYS_ADMIN) {
			return unix.EPERM
		}
		pfs := procfs.NewFor(t.Kernel(), t.Group().ActivePIDNS())
		c.root = vfs.NewRootDentry(pfs.Root())
		c.pfsHook = pfs.SetMount
	case "mqueue":
		c.root = vfs.NewRootDentry(mqueueFSFor(t, ns.NewDev()))
	}
	c.sbRO = c.ro != nil && *c.ro
	return nil
}

// reconfigureLocked applies a reconfiguration's parameters to the picked filesystem.
// Preconditions: c.mu held.
func (c *fsContext) reconfigureLocked(t *kernel.Task) error {
	if c.tfs != nil {
		fs, o := c.tfs, c.opts
		if !tmpfsOwnerCapable(t, fs) {
			return unix.EPERM
		}
		if p := fs.Params(); o.noswap && !p.NoSwap {
			return unix.EINVAL
		}
		if err := fs.Reconfigure(o.seenBlocks, clampLimit(o.blocks), o.seenInodes, clampLimit(o.inodes)); err != nil {
			return err
		}
		c.options = fs.MountOptions()
	}
	if c.picked != nil {
		opts := c.options
		t.Group().MountNS().SetOptions(c.picked, opts, c.ro)
	}
	return nil
}

// Fsmount implements fsmount(2): the created filesystem as a detached mount, named by an
// O_PATH descriptor; closing it before move_mount unmounts it.
func Fsmount(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if !t.MountCapable() {
		return 0, unix.EPERM
	}
	flags, attr := a[1], a[2]
	if flags&^fsmountCloexec != 0 {
		return 0, unix.EINVAL
	}
	if attr&^(mountAttrRdonly|mountAttrNosuid|mountAttrNodev|mountAttrNoexec|mountAttrAtime|mountAttrNodiratime|mountAttrNosymfollow) != 0 {
		return 0, unix.EINVAL
	}
	mf, err := mountAttrFlags(attr)
	if err != nil {
		return 0, err
	}
	c, release, err := fsContextOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer release()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.root == nil {
		return 0, unix.EINVAL
	}
	if c.phase != fcAwaitMount {
		return 0, unix.EBUSY
	}
	src := "none"
	if c.source != nil {
		src = *c.source
	}
	m := t.Group().MountNS().NewDetached(c.root, c.fstype, src, c.options, mf, c.sbRO)
	if c.pfsHook != nil {
		c.pfsHook(m)
	}
	c.phase = fcAwaitReconf
	c.picked = m
	return installDetached(t, m, flags&fsmountCloexec != 0)
}

// mountAttrFlags turns MOUNT_ATTR_* bits into mount flags (the atime choice one of three).
func mountAttrFlags(attr uint64) (uint32, error) {
	var f uint32
	for _, x := range []struct {
		attr uint64
		mnt  uint32
	}{{mountAttrRdonly, vfs.MntReadOnly}, {mountAttrNosuid, vfs.MntNoSuid}, {mountAttrNodev, vfs.MntNoDev},
		{mountAttrNoexec, vfs.MntNoExec}, {mountAttrNodiratime, vfs.MntNoDirAtime}, {mountAttrNosymfollow, vfs.MntNoSymFollow}} {
		if attr&x.attr != 0 {
			f |= x.mnt
		}
	}
	switch attr & mountAttrAtime {
	case mountAttrRelatime:
		f |= vfs.MntRelAtime
	case mountAttrNoatime:
		f |= vfs.MntNoAtime
	case mountAttrStrictatime:
	default:
		return 0, unix.EINVAL
	}
	return f, nil
}

// detachedTree is the O_PATH file naming a detached mount: its last close unmounts the
// tree unless move_mount attached it.
type detachedTree struct{ m *vfs.Mount }

func (d *detachedTree) Read(*vfs.FileDescription, [][]byte, int64) (int64, error) {
	return 0, unix.EBADF
}
func (d *detachedTree) Write(*vfs.FileDescription, [][]byte, int64) (int64, error) {
	return 0, unix.EBADF
}
func (d *detachedTree) Release() { d.m.DropDetached() }

func installDetached(t *kernel.Task, m *vfs.Mount, cloexec bool) (uint64, error) {
	fd := vfs.NewFileDescription(&detachedTree{m: m}, vfs.VirtualDentry{Mount: m, Dentry: m.Root()}, unix.O_PATH)
	defer fd.DecRef()
	n, err := t.FDs().Install(fd, 0, cloexec, nofile(t))
	return uint64(n), err
}

// MoveMount implements move_mount(2): a detached tree is attached, an attached mount of
// the caller's namespace moved (as MS_MOVE).
func MoveMount(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if !t.MountCapable() {
		return 0, unix.EPERM
	}
	flags := a[4]
	all := uint64(moveMountFSymlinks | moveMountFAutomounts | moveMountFEmptyPath | moveMountTSymlinks |
		moveMountTAutomounts | moveMountTEmptyPath | moveMountSetGroup | moveMountBeneath)
	if flags&^all != 0 || flags&(moveMountBeneath|moveMountSetGroup) == moveMountBeneath|moveMountSetGroup {
		return 0, unix.EINVAL
	}
	lookup := func(dirfd, addr uint64, empty, symlinks uint64) (vfs.VirtualDentry, func(), error) {
		var f uint64
		if flags&empty != 0 {
			f |= unix.AT_EMPTY_PATH
		}
		if flags&symlinks == 0 {
			f |= unix.AT_SYMLINK_NOFOLLOW
		}
		return atTarget(t, int32(dirfd), addr, f)
	}
	from, rel1, err := lookup(a[0], a[1], moveMountFEmptyPath, moveMountFSymlinks)
	if err != nil {
		return 0, err
	}
	defer rel1()
	to, rel2, err := lookup(a[2], a[3], moveMountTEmptyPath, moveMountTSymlinks)
	if err != nil {
		return 0, err
	}
	defer rel2()
	if flags&(moveMountSetGroup|moveMountBeneath) != 0 {
		return 0, unix.EINVAL // sharing a peer group and mounting beneath are not supported here
	}
	ns := t.Group().MountNS()
	if from.Mount.Detached() {
		return 0, ns.AttachDetached(from, to)
	}
	return 0, ns.Move(from, to)
}

// OpenTree implements open_tree(2): an O_PATH descriptor of a path, or with
// OPEN_TREE_CLONE of a detached copy of the mount there (AT_RECURSIVE: and below it).
func OpenTree(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	flags := a[2]
	if flags&^(unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT|unix.AT_RECURSIVE|unix.AT_SYMLINK_NOFOLLOW|openTreeClone|unix.O_CLOEXEC) != 0 {
		return 0, unix.EINVAL
	}
	if flags&(unix.AT_RECURSIVE|openTreeClone) == unix.AT_RECURSIVE {
		return 0, unix.EINVAL
	}
	clone := flags&openTreeClone != 0
	if clone && !t.MountCapable() {
		return 0, unix.EPERM
	}
	vd, release, err := atTarget(t, int32(a[0]), a[1], flags&(unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW))
	if err != nil {
		return 0, err
	}
	defer release()
	cloexec := flags&unix.O_CLOEXEC != 0
	if !clone {
		fd := vfs.NewFileDescription(&pathOnly{}, vd, unix.O_PATH)
		defer fd.DecRef()
		n, err := t.FDs().Install(fd, 0, cloexec, nofile(t))
		return uint64(n), err
	}
	if err := nsBindLoop(t, vd); err != nil {
		return 0, err
	}
	m, err := t.Group().MountNS().CloneDetached(vd, flags&unix.AT_RECURSIVE != 0)
	if err != nil {
		return 0, err
	}
	return installDetached(t, m, cloexec)
}

// pathOnly is an O_PATH file: no I/O.
type pathOnly struct{}

func (pathOnly) Read(*vfs.FileDescription, [][]byte, int64) (int64, error)  { return 0, unix.EBADF }
func (pathOnly) Write(*vfs.FileDescription, [][]byte, int64) (int64, error) { return 0, unix.EBADF }
func (pathOnly) Release()                                                   {}

// Fspick implements fspick(2): an fs context to reconfigure the filesystem mounted at a
// path (the root of a mount, else EINVAL).
func Fspick(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if !t.MountCapable() {
		return 0, unix.EPERM
	}
	flags := a[2]
	if flags&^(fspickCloexec|fspickSymlinkNofollow|fspickNoAutomount|fspickEmptyPath) != 0 {
		return 0, unix.EINVAL
	}
	var at uint64
	if flags&fspickEmptyPath != 0 {
		at |= unix.AT_EMPTY_PATH
	}
	if flags&fspickSymlinkNofollow != 0 {
		at |= unix.AT_SYMLINK_NOFOLLOW
	}
	vd, release, err := atTarget(t, int32(a[0]), a[1], at)
	if err != nil {
		return 0, err
	}
	defer release()
	if vd.Dentry != vd.Mount.Root() {
		return 0, unix.EINVAL
	}
	c := &fsContext{fstype: vd.Mount.FSType, phase: fcReconfParams, opts: tmpfsOptions{mode: 0o1777}, root: vd.Mount.Root(),
		picked: vd.Mount, options: vd.Mount.Options}
	if in, ok := vd.Mount.Root().Inode().(*tmpfs.Inode); ok && vd.Mount.FSType == "tmpfs" {
		c.tfs = in.FS()
	}
	return installFSContext(t, c, flags&fspickCloexec != 0)
}

// MountSetattr implements mount_setattr(2).
func MountSetattr(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	flags, uattr, size := a[2], a[3], a[4]
	if flags&^(unix.AT_EMPTY_PATH|unix.AT_RECURSIVE|unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT) != 0 {
		return 0, unix.EINVAL
	}
	if size > 4096 {
		return 0, unix.E2BIG
	}
	if size < mountAttrSizeVer0 {
		return 0, unix.EINVAL
	}
	if !t.MountCapable() {
		return 0, unix.EPERM
	}
	b := make([]byte, size)
	if _, err := t.CopyIn(uattr, b); err != nil {
		return 0, unix.EFAULT
	}
	for _, c := range b[abi.SizeofMountAttr:] {
		if c != 0 {
			return 0, unix.E2BIG // a newer structure's fields this kernel does not know
		}
	}
	var ma abi.MountAttr
	ma.Decode(b)
	if ma.AttrSet == 0 && ma.AttrClr == 0 && ma.Propagation == 0 {
		return 0, nil
	}
	var prop int
	if ma.Propagation != 0 {
		p, ok := propagationType(ma.Propagation)
		if !ok {
			return 0, unix.EINVAL
		}
		prop = p
	}
	valid := uint64(mountAttrRdonly | mountAttrNosuid | mountAttrNodev | mountAttrNoexec | mountAttrAtime |
		mountAttrNodiratime | mountAttrIdmap | mountAttrNosymfollow)
	if (ma.AttrSet|ma.AttrClr)&^valid != 0 {
		return 0, unix.EINVAL
	}
	set, _ := mountAttrFlags(ma.AttrSet &^ mountAttrAtime)
	clr, _ := mountAttrFlags(ma.AttrClr &^ mountAttrAtime)
	set &^= vfs.MntRelAtime // mountAttrFlags's default; the atime choice is below
	clr &^= vfs.MntRelAtime
	if ma.AttrClr&mountAttrAtime != 0 {
		if ma.AttrClr&mountAttrAtime != mountAttrAtime {
			return 0, unix.EINVAL
		}
		clr |= vfs.MntAtimeMask &^ vfs.MntNoDirAtime
		switch ma.AttrSet & mountAttrAtime {
		case mountAttrRelatime:
			set |= vfs.MntRelAtime
		case mountAttrNoatime:
			set |= vfs.MntNoAtime
		case mountAttrStrictatime:
		default:
			return 0, unix.EINVAL
		}
	} else if ma.AttrSet&mountAttrAtime != 0 {
		return 0, unix.EINVAL
	}
	if (ma.AttrSet|ma.AttrClr)&mountAttrIdmap != 0 {
		if err := idmapCheck(t, ma); err != nil {
			return 0, err
		}
	}
	vd, release, err := atTarget(t, int32(a[0]), a[1], flags&(unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW))
	if err != nil {
		return 0, err
	}
	defer release()
	if (ma.AttrSet|ma.AttrClr)&mountAttrIdmap != 0 {
		// Idmapped mounts need a filesystem whose superblock belongs to the initial user
		// namespace and a detached mount; this kernel makes none (can_idmap_mount).
		return 0, unix.EINVAL
	}
	return 0, t.Group().MountNS().SetAttr(vd, set, clr, prop, flags&unix.AT_RECURSIVE != 0)
}

// idmapCheck validates MOUNT_ATTR_IDMAP's user namespace descriptor as
// build_mount_idmapped does.
func idmapCheck(t *kernel.Task, ma abi.MountAttr) error {
	if ma.AttrClr&mountAttrIdmap != 0 || ma.UsernsFD > 1<<31-1 {
		return unix.EINVAL
	}
	f, err := getFD(t, ma.UsernsFD)
	if err != nil {
		return unix.EBADF
	}
	defer f.DecRef()
	nf, ok := f.Impl().(kernel.NSFile)
	if !ok || nf.Namespace().Kind != kernel.NSUser {
		return unix.EINVAL
	}
	u := nf.Namespace().User()
	if u.IsRoot() || !t.NSCapable(u, unix.CAP_SYS_ADMIN) {
		return unix.EPERM
	}
	return nil
}
