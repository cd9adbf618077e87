package kernel

import (
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// Mount namespaces: each holds its own table of mounts (vfs.Namespace), copied from its
// parent's by clone/unshare(CLONE_NEWNS). A namespace lives while a process is in it; when
// the last one leaves, its mounts are taken down (files still open in them keep working,
// as after a lazy unmount). The sandbox's initial namespace lives as long as the kernel.

// MountNS returns the mount namespace the process is in.
func (tg *ThreadGroup) MountNS() *vfs.Namespace { return tg.ns.Load()[NSMnt].mnt }

// MountNSOwner returns the user namespace owning the process's mount namespace.
func (tg *ThreadGroup) MountNSOwner() *UserNS { return tg.ns.Load()[NSMnt].Owner }

// MountCapable reports whether the task may change its mount namespace's mounts:
// CAP_SYS_ADMIN in the user namespace owning it (Linux's may_mount).
func (t *Task) MountCapable() bool { return t.NSCapable(t.tg.MountNSOwner(), unix.CAP_SYS_ADMIN) }

// countedNS are the kinds of namespace whose objects go away with their last process:
// mounts (a mount namespace's table) and System V IPC objects and message queues.
var countedNS = [...]NSKind{NSMnt, NSIPC}

// getNS counts a process entering the namespaces of s that differ from old (nil: all).
func (k *Kernel) getNS(s, old *NSSet) {
	for _, kind := range countedNS {
		if n := s[kind]; n != nil && !k.IsRootNS(n) && (old == nil || old[kind] != n) {
			n.users.Add(1)
		}
	}
}

// putNS counts a process leaving the namespaces of s that differ from cur (nil: all);
// the last one out takes a namespace's objects down.
func (k *Kernel) putNS(s, cur *NSSet) {
	for _, kind := range countedNS {
		n := s[kind]
		if n == nil || k.IsRootNS(n) || cur != nil && cur[kind] == n {
			continue
		}
		k.dropNS(n)
	}
}

// dropNS drops one user of n (a process, an open namespace file, a bind mount of one);
// the last one takes its objects down. Preconditions: n is of a counted kind, not a root
// namespace.
func (k *Kernel) dropNS(n *Namespace) {
	if n.users.Add(-1) != 0 {
		return
	}
	if n.Kind == NSMnt {
		n.mnt.Release()
	}
	k.mu.Lock()
	hooks := k.nsReleaseHooks
	k.mu.Unlock()
	for _, h := range hooks {
		h(n)
	}
}

// HoldNS keeps n's objects (a mount namespace's mounts, an IPC namespace's objects) while
// an open /proc/PID/ns file or a bind mount of one names it, as Linux's references from
// nsfs do; DropNS lets them go.
func (k *Kernel) HoldNS(n *Namespace) {
	if n.counted() && !k.IsRootNS(n) {
		n.users.Add(1)
	}
}

// DropNS ends a HoldNS.
func (k *Kernel) DropNS(n *Namespace) {
	if n.counted() && !k.IsRootNS(n) {
		k.dropNS(n)
	}
}

// counted reports whether n's objects go away with its last user.
func (n *Namespace) counted() bool {
	for _, kind := range countedNS {
		if n.Kind == kind {
			return true
		}
	}
	return false
}

// OnNamespaceRelease registers f to run when the last process leaves a mount or IPC
// namespace (not the sandbox's initial ones): f drops what it keeps for it.
func (k *Kernel) OnNamespaceRelease(f func(*Namespace)) {
	k.mu.Lock()
	k.nsReleaseHooks = append(k.nsReleaseHooks, f)
	k.mu.Unlock()
}

// IPCNS returns the IPC namespace the process is in.
func (tg *ThreadGroup) IPCNS() *Namespace { return tg.ns.Load()[NSIPC] }

// copyMountNS makes the mount namespace of a new NSSet: a copy of cur's, locked when its
// owner is another user namespace.
func copyMountNS(n, cur *Namespace) {
	n.mnt = cur.mnt.Copy(n.Owner != cur.Owner)
}

// enterCopiedMountNS moves an fs context made for a process of the new mount namespace n
// from the old namespace's mounts to the copies.
func enterCopiedMountNS(f *fsContext, n *vfs.Namespace) {
	f.mu.Lock()
	f.root, f.cwd = n.Translate(f.root), n.Translate(f.cwd)
	f.mu.Unlock()
	n.DoneCopy()
}

// MountsInUse returns the mounts some process holds: an open file, a private file
// mapping, its working directory, root or executable (what makes umount2 without MNT_DETACH fail with EBUSY).
func (k *Kernel) MountsInUse() map[*vfs.Mount]bool {
	used := make(map[*vfs.Mount]bool)
	for _, tg := range k.Groups() {
		root, cwd := tg.FSContext()
		used[root.Mount], used[cwd.Mount] = true, true
		if exe := tg.Exe(); exe.Ok() {
			used[exe.Mount] = true
		}
		if m := tg.MM(); m != nil {
			for _, h := range m.Holders() {
				if fd, ok := h.(*vfs.FileDescription); ok && fd.VirtualDentry().Ok() {
					used[fd.VirtualDentry().Mount] = true
				}
			}
		}
		fds := tg.FDs()
		if fds == nil {
			continue
		}
		for _, n := range fds.Numbers() {
			if fd, _, err := fds.Get(n); err == nil {
				if vd := fd.VirtualDentry(); vd.Ok() {
					used[vd.Mount] = true
				}
				fd.DecRef()
			}
		}
	}
	return used
}

// PivotRoot implements pivot_root(2) once its paths are resolved: the new root mount
// becomes the namespace's /, the old one goes to putOld, and every process of the
// namespace whose root or working directory was the old root moves to the new one.
func (t *Task) PivotRoot(newRoot, putOld vfs.VirtualDentry) error {
	ns := t.tg.MountNS()
	root, _ := t.FSContext()
	oldRoot := root
	nr, err := ns.PivotRoot(newRoot, putOld, root)
	if err != nil {
		return err
	}
	for _, tg := range t.k.Groups() {
		if tg.MountNS() != ns {
			continue
		}
		f := tg.fsCtx()
		f.mu.Lock()
		if f.root == oldRoot {
			f.root = nr
		}
		if f.cwd == oldRoot {
			f.cwd = nr
		}
		f.mu.Unlock()
	}
	return nil
}

// setnsMount moves the process into mount namespace n (mntns_install): its root and working
// directory become the namespace's root. The fs context must not be shared.
func (t *Task) setnsMount(n *Namespace) error {
	if !t.NSCapable(t.tg.UserNS(), unix.CAP_SYS_CHROOT) {
		return unix.EPERM
	}
	if n.mnt.Released() {
		return unix.EINVAL
	}
	f := t.tg.fsCtx()
	if t.k.fsShared(t.tg, f) {
		return unix.EINVAL
	}
	root := n.mnt.Root()
	f.mu.Lock()
	f.root, f.cwd = root, root
	f.mu.Unlock()
	return nil
}

// fsShared reports whether another process shares f (CLONE_FS).
func (k *Kernel) fsShared(self *ThreadGroup, f *fsContext) bool {
	for _, tg := range k.Groups() {
		if tg != self && tg.fsCtx() == f {
			return true
		}
	}
	return false
}

// PIDNSOwner returns the user namespace owning the PID namespace the process is in.
func (tg *ThreadGroup) PIDNSOwner() *UserNS {
	if p := tg.ActivePIDNS(); p != nil && p.NS != nil && p.NS.Owner != nil {
		return p.NS.Owner
	}
	return tg.k.rootNS[NSUser].user
}

// NetNSOwner returns the user namespace owning the process's network namespace.
func (tg *ThreadGroup) NetNSOwner() *UserNS { return tg.ns.Load()[NSNet].Owner }

// RootUserNS returns the sandbox's initial user namespace.
func (k *Kernel) RootUserNS() *UserNS { return k.rootNS[NSUser].user }

// RootNS returns the sandbox's initial namespace of a kind.
func (k *Kernel) RootNS(kind NSKind) *Namespace { return k.rootNS[kind] }
