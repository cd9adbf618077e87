package syscalls

import (
	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/fs/procfs"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// mount(2), umount2(2) and pivot_root(2) inside the sandbox's own VFS: every mount is a
// kernel object of the caller's mount namespace; nothing reaches the host. The checks and
// their order follow fs/namespace.c (path_mount, ksys_umount, pivot_root).

const (
	msMgcMsk = 0xffff0000
	msMgcVal = 0xC0ED0000
	msNoUser = 1 << 31
)

// Mount implements mount(2).
func Mount(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	source, err := copyInMountString(t, a[0])
	if err != nil {
		return 0, err
	}
	fstype, err := copyInMountString(t, a[2])
	if err != nil {
		return 0, err
	}
	data, err := copyInMountString(t, a[4])
	if err != nil {
		return 0, err
	}
	target, err := copyInPath(t, a[1])
	if err != nil {
		return 0, err
	}
	at, err := t.Lookup(kernel.AtFDCWD, target, true)
	if err != nil {
		return 0, err
	}
	flags := a[3]
	if flags&msMgcMsk == msMgcVal {
		flags &^= msMgcMsk
	}
	if flags&msNoUser != 0 {
		return 0, unix.EINVAL
	}
	if !t.MountCapable() {
		return 0, unix.EPERM
	}
	ns := t.Group().MountNS()
	mnt := mountFlags(flags)
	propagation := uint64(unix.MS_SHARED | unix.MS_PRIVATE | unix.MS_SLAVE | unix.MS_UNBINDABLE)
	switch {
	case flags&(unix.MS_REMOUNT|unix.MS_BIND) == unix.MS_REMOUNT|unix.MS_BIND:
		return 0, ns.Reconfigure(at, keepAtime(flags, mnt, at.Mount), false, nil)
	case flags&unix.MS_REMOUNT != 0:
		var opts string
		if data != nil {
			opts = *data
		}
		return 0, ns.Reconfigure(at, keepAtime(flags, mnt, at.Mount), true, func() (*string, error) {
			return remountOptions(t, at.Mount, opts)
		})
	case flags&unix.MS_BIND != 0:
		if source == nil || *source == "" {
			return 0, unix.EINVAL
		}
		src, err := t.Lookup(kernel.AtFDCWD, *source, true)
		if err != nil {
			return 0, err
		}
		if err := nsBindLoop(t, src); err != nil {
			return 0, err
		}
		return 0, ns.Bind(at, src, flags&unix.MS_REC != 0)
	case flags&propagation != 0:
		p, ok := propagationType(flags &^ (unix.MS_REC | unix.MS_SILENT))
		if !ok {
			return 0, unix.EINVAL
		}
		return 0, ns.ChangeType(at, p, flags&unix.MS_REC != 0)
	case flags&unix.MS_MOVE != 0:
		if source == nil || *source == "" {
			return 0, unix.EINVAL
		}
		from, err := t.Lookup(kernel.AtFDCWD, *source, true)
		if err != nil {
			return 0, err
		}
		return 0, ns.Move(from, at)
	}
	if fstype == nil {
		return 0, unix.EINVAL
	}
	return 0, newMount(t, ns, at, *fstype, source, data, mnt)
}

// nsBindLoop refuses to bind-mount the file of a mount namespace no newer than the
// caller's (mnt_ns_loop): a namespace holding a mount that holds it could never go.
func nsBindLoop(t *kernel.Task, src vfs.VirtualDentry) error {
	in, ok := src.Dentry.Inode().(*procfs.NSInode)
	if ok && in.NS.Kind == kernel.NSMnt && in.NS.Ino <= t.Group().Namespaces()[kernel.NSMnt].Ino {
		return unix.EINVAL
	}
	return nil
}

// copyInMountString reads one of mount(2)'s optional strings (nil for a NULL pointer).
func copyInMountString(t *kernel.Task, addr uint64) (*string, error) {
	if addr == 0 {
		return nil, nil
	}
	s, err := t.CopyInString(addr, 4095)
	if err == unix.ENAMETOOLONG {
		err = nil // a page of options is cut at its end, as Linux does
	}
	if err != nil {
		return nil, unix.EFAULT
	}
	return &s, nil
}

// mountFlags turns mount(2)'s MS_* flags into a mount's flags (relatime unless told).
func mountFlags(flags uint64) uint32 {
	var f uint32
	if flags&unix.MS_NOATIME == 0 {
		f |= vfs.MntRelAtime
	}
	for _, x := range []struct {
		ms  uint64
		mnt uint32
	}{{unix.MS_RDONLY, vfs.MntReadOnly}, {unix.MS_NOSUID, vfs.MntNoSuid}, {unix.MS_NODEV, vfs.MntNoDev},
		{unix.MS_NOEXEC, vfs.MntNoExec}, {unix.MS_NOATIME, vfs.MntNoAtime}, {unix.MS_NODIRATIME, vfs.MntNoDirAtime},
		{unix.MS_NOSYMFOLLOW, vfs.MntNoSymFollow}} {
		if flags&x.ms != 0 {
			f |= x.mnt
		}
	}
	if flags&unix.MS_STRICTATIME != 0 {
		f &^= vfs.MntRelAtime | vfs.MntNoAtime
	}
	return f
}

// keepAtime keeps a remounted mount's atime policy when the call names none.
func keepAtime(flags uint64, f uint32, m *vfs.Mount) uint32 {
	if flags&(unix.MS_NOATIME|unix.MS_NODIRATIME|unix.MS_RELATIME|unix.MS_STRICTATIME) == 0 {
		f = f&^vfs.MntAtimeMask | m.Flags()&vfs.MntAtimeMask
	}
	return f
}

// newMount makes a new filesystem and mounts it (do_new_mount). The filesystems that can
// be mounted are the kernel's own: tmpfs, proc, sysfs (the sandbox's), mqueue.
func newMount(t *kernel.Task, ns *vfs.Namespace, at vfs.VirtualDentry, fstype string, source, data *string, flags uint32) error {
	k := t.Kernel()
	src := "none"
	if source != nil {
		src = *source
	}
	opts := ""
	if data != nil {
		opts = *data
	}
	switch fstype {
	case "tmpfs":
		o, err := parseTmpfsOptions(t, opts)
		if err != nil {
			return err
		}
		fs, root := newTmpfs(t, ns.NewDev(), o)
		_, err = ns.NewMount(at, vfs.NewRootDentry(root), "tmpfs", src, fs.MountOptions(), flags)
		return err
	case "proc":
		// A proc shows a PID namespace: the mounter needs CAP_SYS_ADMIN over it.
		if !t.NSCapable(t.Group().PIDNSOwner(), unix.CAP_SYS_ADMIN) {
			return unix.EPERM
		}
		pfs := procfs.NewFor(k, t.Group().ActivePIDNS())
		m, err := ns.NewMount(at, vfs.NewRootDentry(pfs.Root()), "proc", src, "", flags)
		if err == nil {
			pfs.SetMount(m)
		}
		return err
	case "sysfs":
		if !t.NSCapable(t.Group().NetNSOwner(), unix.CAP_SYS_ADMIN) {
			return unix.EPERM
		}
		for _, m := range k.NS.Mounts() {
			if m.FSType == "sysfs" {
				_, err := ns.NewMount(at, m.Root(), "sysfs", src, "", flags)
				return err
			}
		}
		return unix.ENODEV
	case "mqueue":
		_, err := ns.NewMount(at, vfs.NewRootDentry(mqueueFSFor(t, ns.NewDev())), "mqueue", src, "", flags)
		return err
	}
	return unix.ENODEV // no such filesystem here: block-device ones need a host device
}

// Umount2 implements umount2(2) (and umount(2) with flags 0).
func Umount2(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	flags := int(a[1])
	if flags&^(unix.MNT_FORCE|unix.MNT_DETACH|unix.MNT_EXPIRE|unix.UMOUNT_NOFOLLOW) != 0 {
		return 0, unix.EINVAL
	}
	if !t.MountCapable() {
		return 0, unix.EPERM
	}
	path, err := copyInPath(t, a[0])
	if err != nil {
		return 0, err
	}
	vd, err := t.Lookup(kernel.AtFDCWD, path, flags&unix.UMOUNT_NOFOLLOW == 0)
	if err != nil {
		return 0, err
	}
	ns := t.Group().MountNS()
	vd = ns.Top(vd)
	if vd.Dentry != vd.Mount.Root() || !ns.InNS(vd) || vd.Mount.LockedFlags()&vfs.Locked != 0 {
		return 0, unix.EINVAL
	}
	if flags&unix.MNT_FORCE != 0 && !t.NSCapable(t.Kernel().RootUserNS(), unix.CAP_SYS_ADMIN) {
		return 0, unix.EPERM
	}
	var f int
	if flags&unix.MNT_FORCE != 0 {
		f |= vfs.UmountForce
	}
	if flags&unix.MNT_DETACH != 0 {
		f |= vfs.UmountDetach
	}
	if flags&unix.MNT_EXPIRE != 0 {
		f |= vfs.UmountExpire
	}
	var inUse map[*vfs.Mount]bool
	if f&vfs.UmountDetach == 0 {
		inUse = t.Kernel().MountsInUse()
	}
	root, _ := t.FSContext()
	return 0, ns.Umount(vd, f, inUse, root)
}

// PivotRoot implements pivot_root(2).
func PivotRoot(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if !t.MountCapable() {
		return 0, unix.EPERM
	}
	lookupDir := func(addr uint64) (vfs.VirtualDentry, error) {
		p, err := copyInPath(t, addr)
		if err != nil {
			return vfs.VirtualDentry{}, err
		}
		vd, err := t.Lookup(kernel.AtFDCWD, p, true)
		if err != nil {
			return vfs.VirtualDentry{}, err
		}
		if at, err := vd.Dentry.Inode().Stat(); err != nil {
			return vfs.VirtualDentry{}, err
		} else if !at.IsDir() {
			return vfs.VirtualDentry{}, unix.ENOTDIR
		}
		return vd, nil
	}
	newRoot, err := lookupDir(a[0])
	if err != nil {
		return 0, err
	}
	putOld, err := lookupDir(a[1])
	if err != nil {
		return 0, err
	}
	return 0, t.PivotRoot(newRoot, putOld)
}

// propagationType maps exactly one of MS_SHARED, MS_PRIVATE, MS_SLAVE or MS_UNBINDABLE to
// its vfs propagation type; anything else is not one.
func propagationType(flag uint64) (int, bool) {
	switch flag {
	case unix.MS_SHARED:
		return vfs.PropShared, true
	case unix.MS_PRIVATE:
		return vfs.PropPrivate, true
	case unix.MS_SLAVE:
		return vfs.PropSlave, true
	case unix.MS_UNBINDABLE:
		return vfs.PropUnbindable, true
	}
	return 0, false
}
