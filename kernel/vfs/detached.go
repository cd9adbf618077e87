package vfs

import "golang.org/x/sys/unix"

// Detached mount trees (the new mount API: fsmount(2), open_tree(2) with OPEN_TREE_CLONE).
// A detached tree sits in an anonymous namespace of its own whose root it is, attached
// nowhere: paths resolve below it from the descriptor that names it, no process is in
// it, and move_mount(2) attaches it in a real namespace. If the last descriptor goes
// first, the tree is unmounted (Linux's FMODE_NEED_UNMOUNT).

// Mount attribute bits of mount_setattr(2) and fsmount(2), as Mnt* flags: what may be
// set or cleared (the atime policy is one choice among MntAtimeMask).
const MntSettable = MntReadOnly | MntNoSuid | MntNoDev | MntNoExec | MntAtimeMask | MntNoSymFollow

// newDetachedLocked puts the tree m into a new anonymous namespace. Preconditions: t.mu
// held for writing; m is attached nowhere and in no namespace.
func (t *mountTable) newDetachedLocked(m *Mount) {
	a := &Namespace{t: t, anon: true, root: m}
	for _, x := range treeOf(m) {
		x.enterLocked(a)
		a.all = append(a.all, x)
	}
}

// NewDetached makes a detached mount of the filesystem rooted at root (fsmount).
func (ns *Namespace) NewDetached(root *Dentry, fstype, source, options string, flags uint32, sbReadOnly bool) *Mount {
	t := ns.t
	t.mu.Lock()
	defer t.mu.Unlock()
	m := ns.newMountLocked(root, fstype, source, flags)
	m.Options = options
	m.sbReadOnly = sbReadOnly
	t.newDetachedLocked(m)
	return m
}

// CloneDetached copies the mount at src, with recursive the mounts below it too, into a
// detached tree (open_tree with OPEN_TREE_CLONE; __do_loopback's checks): src must be in
// ns (or be a namespace file), not unbindable, and without recursive cover no locked
// mount.
func (ns *Namespace) CloneDetached(src VirtualDentry, recursive bool) (*Mount, error) {
	t := ns.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, nsFile := src.Dentry.inode.(Pinner); nsFile {
		m := ns.newMountLocked(src.Dentry, "nsfs", "nsfs", 0)
		t.newDetachedLocked(m)
		return m, nil
	}
	if src.Mount.unbindable || !ns.inNSLocked(src.Mount) {
		return nil, unix.EINVAL
	}
	if !recursive {
		for _, c := range src.Mount.children {
			if c.lock&Locked != 0 && src.Dentry.IsAncestor(c.place.Load().point) {
				return nil, unix.EINVAL
			}
		}
	}
	var m *Mount
	if recursive {
		m, _ = t.copyTreeLocked(src.Mount, src.Dentry, cloneLike, true, nil)
	} else {
		m = t.cloneLocked(src.Mount, src.Dentry, cloneLike)
	}
	m.lock &^= Locked
	t.newDetachedLocked(m)
	return m, nil
}

// DropDetached unmounts m's tree if m is still the root of a detached one: its last
// descriptor is gone and nothing attached it.
func (m *Mount) DropDetached() {
	t := m.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if a := m.ns; a != nil && a.anon && a.root == m {
		t.umountTreeLocked(m, false)
		a.root, a.all = nil, nil
	}
}

// Detached reports whether m is in a detached tree.
func (m *Mount) Detached() bool {
	m.t.mu.RLock()
	defer m.t.mu.RUnlock()
	return m.ns != nil && m.ns.anon
}

// AttachDetached attaches the detached tree rooted at from on to (move_mount(2) of an
// fsmount or open_tree result; do_move_mount's checks): to must be in ns, from the root of
// a detached tree, both directories or both not; a shared destination takes no
// unbindable mount (EINVAL).
func (ns *Namespace) AttachDetached(from, to VirtualDentry) error {
	t := ns.t
	t.mu.Lock()
	defer t.mu.Unlock()
	to = ns.topLocked(to)
	old := from.Mount
	a := old.ns
	if !ns.inNSLocked(to.Mount) || a == nil || !a.anon || a.root != old || from.Dentry != old.root {
		return unix.EINVAL
	}
	if isDir(to.Dentry) != isDir(from.Dentry) {
		return unix.EINVAL
	}
	if to.Mount.peers != nil {
		for _, m := range treeOf(old) {
			if m.unbindable {
				return unix.EINVAL
			}
		}
	}
	a.root, a.all = nil, nil
	ns.attachTreeLocked(old, to.Mount, to.Dentry)
	return nil
}

// SetAttr changes the flags of the mount rooted at at, with recursive of those below it
// too (mount_setattr(2)): each gets (flags &^ clr) | set; propagation, when not 0, is set
// as by ChangeType. The mount must be the root of its mount and in ns or detached
// (EINVAL); a flag a less privileged namespace inherited locked cannot be cleared
// (EPERM). Nothing changes unless every mount can.
func (ns *Namespace) SetAttr(at VirtualDentry, set, clr uint32, propagation int, recursive bool) error {
	t := ns.t
	t.mu.Lock()
	defer t.mu.Unlock()
	m := at.Mount
	if at.Dentry != m.root || m.ns == nil {
		return unix.EINVAL
	}
	if m.place.Load() != nil && !ns.inNSLocked(m) || m.place.Load() == nil && !m.ns.anon {
		return unix.EINVAL
	}
	targets := []*Mount{m}
	if recursive {
		targets = treeOf(m)
	}
	newFlags := make([]uint32, len(targets))
	for i, x := range targets {
		old := x.flags.Load()
		f := old&^clr | set
		for _, l := range [][2]uint32{{MntReadOnly, LockReadOnly}, {MntNoDev, LockNoDev}, {MntNoSuid, LockNoSuid}, {MntNoExec, LockNoExec}} {
			if x.lock&l[1] != 0 && f&l[0] == 0 {
				return unix.EPERM
			}
		}
		if x.lock&LockAtime != 0 && f&MntAtimeMask != old&MntAtimeMask {
			return unix.EPERM
		}
		newFlags[i] = f
	}
	for i, x := range targets {
		x.flags.Store(newFlags[i])
		if propagation != 0 {
			t.setPropagationLocked(x, propagation)
		}
	}
	return nil
}

// SetOptions records a reconfigured filesystem's options (and, when ro is not nil, its
// read-only state) on every mount of it (fsconfig's FSCONFIG_CMD_RECONFIGURE).
func (ns *Namespace) SetOptions(m *Mount, options string, ro *bool) {
	t := ns.t
	t.mu.Lock()
	defer t.mu.Unlock()
	same := func(o *Mount) bool { return o == m || o.dev == m.dev && o.FSType == m.FSType }
	for _, o := range t.mounts {
		if same(o) {
			o.Options = options
			if ro != nil {
				o.sbReadOnly = *ro
			}
		}
	}
	m.Options = options
	if ro != nil {
		m.sbReadOnly = *ro
	}
}
