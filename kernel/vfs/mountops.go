package vfs

import "golang.org/x/sys/unix"

// The operations of mount(2), umount2(2) and pivot_root(2) on a namespace, with the checks
// Linux makes in fs/namespace.c. The kernel has already resolved the paths and checked
// CAP_SYS_ADMIN; locations must belong to ns (EINVAL otherwise, as Linux's check_mnt).

// Propagation types of mount(2) (one at a time).
const (
	PropShared = iota + 1
	PropPrivate
	PropSlave
	PropUnbindable
)

// cloneKind says how a copy relates to its original's propagation.
type cloneKind int

const (
	cloneLike    cloneKind = iota // peer of a shared original, slave of a slave's master
	clonePrivate                  // neither
	clonePeer                     // peer of the original (made shared first)
	cloneSlave                    // slave of the original's group
)

// Copy makes a new mount namespace holding a copy of every mount of ns. lessPrivileged is
// set when the new namespace's owner is not the old one's: the copies are then locked
// (they come as one unit) and shared mounts become slaves of their originals. Translate
// maps locations in ns to the copy until DoneCopy.
func (ns *Namespace) Copy(lessPrivileged bool) *Namespace {
	t := ns.t
	t.mu.Lock()
	defer t.mu.Unlock()
	n := &Namespace{t: t, origin: make(map[*Mount]*Mount)}
	kind := cloneLike
	if lessPrivileged {
		kind = cloneSlave
	}
	var order []*Mount
	n.root, order = t.copyTreeLocked(ns.root, ns.root.root, kind, false, n.origin)
	if lessPrivileged {
		for _, m := range treeOf(n.root) {
			f := m.flags.Load()
			m.lock |= LockAtime | Locked
			for _, x := range [][2]uint32{{MntReadOnly, LockReadOnly}, {MntNoDev, LockNoDev}, {MntNoSuid, LockNoSuid}, {MntNoExec, LockNoExec}} {
				if f&x[0] != 0 {
					m.lock |= x[1]
				}
			}
		}
	}
	for _, c := range order {
		c.enterLocked(n)
	}
	n.all = order
	return n
}

// Translate returns where vd (a location in the namespace ns was copied from) is in ns.
func (ns *Namespace) Translate(vd VirtualDentry) VirtualDentry {
	ns.t.mu.RLock()
	defer ns.t.mu.RUnlock()
	if c := ns.origin[vd.Mount]; c != nil {
		return VirtualDentry{c, vd.Dentry}
	}
	return vd
}

// DoneCopy forgets what Translate needs.
func (ns *Namespace) DoneCopy() {
	ns.t.mu.Lock()
	ns.origin = nil
	ns.t.mu.Unlock()
}

// treeOf lists m and every mount below it, parents first.
// Preconditions: t.mu is held.
func treeOf(m *Mount) []*Mount {
	out := []*Mount{m}
	for i := 0; i < len(out); i++ {
		out = append(out, out[i].children...)
	}
	return out
}

// cloneLocked makes an unattached copy of old rooted at root. Preconditions: t.mu is held
// for writing.
func (t *mountTable) cloneLocked(old *Mount, root *Dentry, kind cloneKind) *Mount {
	t.nextID++
	m := &Mount{ID: t.nextID, root: root, FSType: old.FSType, Source: old.Source, Options: old.Options, dev: old.dev, t: t,
		lock: old.lock, unbindable: old.unbindable, sbReadOnly: old.sbReadOnly}
	m.flags.Store(old.flags.Load())
	switch kind {
	case cloneLike:
		if old.peers != nil {
			old.peers.addAfter(old, m)
			m.peers = old.peers
		}
		if old.master != nil {
			m.master = old.master
			old.master.slaves = append(old.master.slaves, m)
		}
	case clonePeer:
		t.makeSharedLocked(old)
		old.peers.addAfter(old, m)
		m.peers = old.peers
	case cloneSlave:
		if old.peers != nil {
			m.master = old.peers
			old.peers.slaves = append(old.peers.slaves, m)
		} else if old.master != nil {
			m.master = old.master
			old.master.slaves = append(old.master.slaves, m)
		}
	}
	return m
}

// copyTreeLocked copies src (from its dentry root down) and the mounts below it whose
// mount points lie under root, skipping unbindable ones when asked, parents before
// children in the order they were attached (Linux's copy_tree). origin, when not nil,
// records each original's copy; the copies come back in that order too.
// Preconditions: t.mu is held for writing.
func (t *mountTable) copyTreeLocked(src *Mount, root *Dentry, kind cloneKind, skipUnbindable bool, origin map[*Mount]*Mount) (*Mount, []*Mount) {
	top := t.cloneLocked(src, root, kind)
	if origin != nil {
		origin[src] = top
	}
	order := []*Mount{top}
	var walk func(old, new *Mount)
	walk = func(old, new *Mount) {
		for _, c := range old.children {
			pl := c.place.Load()
			if old == src && !root.IsAncestor(pl.point) {
				continue
			}
			if skipUnbindable && c.unbindable {
				continue
			}
			cc := t.cloneLocked(c, c.root, kind)
			t.linkLocked(cc, new, pl.point)
			if origin != nil {
				origin[c] = cc
			}
			order = append(order, cc)
			walk(c, cc)
		}
	}
	walk(src, top)
	return top, order
}

// linkLocked places m on point in parent. Preconditions: t.mu is held for writing.
func (t *mountTable) linkLocked(m, parent *Mount, point *Dentry) {
	m.place.Store(&mountPlace{parent, point})
	t.mounts[mountKey{parent, point}] = m
	point.mounts.Add(1)
	parent.children = append(parent.children, m)
}

// addAfter puts m in the group right after old: the ring of peers is walked from the
// mount an event starts at, so the order is Linux's (clone_mnt's list_add).
func (g *peerGroup) addAfter(old, m *Mount) {
	for i, x := range g.members {
		if x == old {
			g.members = append(g.members[:i+1], append([]*Mount{m}, g.members[i+1:]...)...)
			return
		}
	}
	g.members = append(g.members, m)
}

// makeSharedLocked gives a mount that is not shared a peer group of its own.
func (t *mountTable) makeSharedLocked(m *Mount) {
	if m.peers == nil {
		// The smallest free number, as Linux's mnt_group_ida hands them out.
		id := 1
		for t.groupIDs[id] {
			id++
		}
		t.groupIDs[id] = true
		m.peers = &peerGroup{id: id, members: []*Mount{m}}
	}
	m.unbindable = false
}

// leaveGroupLocked takes m out of its peer group; the group's slaves go to m's master
// when m was its last member.
func (t *mountTable) leaveGroupLocked(m *Mount) {
	g := m.peers
	if g == nil {
		return
	}
	g.members = removeMount(g.members, m)
	m.peers = nil
	if len(g.members) == 0 {
		delete(t.groupIDs, g.id)
		for _, s := range g.slaves {
			s.master = m.master
			if m.master != nil {
				m.master.slaves = append(m.master.slaves, s)
			}
		}
		g.slaves = nil
	}
}

func (t *mountTable) leaveMasterLocked(m *Mount) {
	if m.master != nil {
		m.master.slaves = removeMount(m.master.slaves, m)
		m.master = nil
	}
}

// setPropagationLocked implements one mount's part of MS_SHARED/PRIVATE/SLAVE/UNBINDABLE.
func (t *mountTable) setPropagationLocked(m *Mount, typ int) {
	switch typ {
	case PropShared:
		t.makeSharedLocked(m)
		return
	case PropSlave:
		if g := m.peers; g != nil {
			var master *peerGroup
			if len(g.members) > 1 {
				master = g
			} else {
				master = m.master
			}
			// m's slaves follow m's master when the group dies with it.
			t.leaveGroupLocked(m)
			if master != m.master {
				t.leaveMasterLocked(m)
				if master != nil {
					m.master = master
					master.slaves = append(master.slaves, m)
				}
			}
		}
		return
	}
	t.leaveGroupLocked(m)
	t.leaveMasterLocked(m)
	m.unbindable = typ == PropUnbindable
}

// inNSLocked reports whether m belongs to ns (Linux's check_mnt).
func (ns *Namespace) inNSLocked(m *Mount) bool { return m != nil && m.ns == ns }

// propagationTargets returns the mounts a mount or unmount below a member of group g is
// repeated under: the other members, and the slaves of g (with their own peers and slaves),
// each with whether it is reached as a slave.
func propagationTargets(g *peerGroup, from *Mount) (targets []*Mount, slave []bool) {
	seen := map[*peerGroup]bool{g: true}
	start := 0
	for i, m := range g.members {
		if m == from {
			start = i + 1
		}
	}
	for i := range g.members {
		if m := g.members[(start+i)%len(g.members)]; m != from {
			targets, slave = append(targets, m), append(slave, false)
		}
	}
	queue := append([]*Mount(nil), g.slaves...)
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		targets, slave = append(targets, s), append(slave, true)
		if s.peers != nil && !seen[s.peers] {
			seen[s.peers] = true
			for _, p := range s.peers.members {
				if p != s {
					targets, slave = append(targets, p), append(slave, true)
				}
			}
			queue = append(queue, s.peers.slaves...)
		}
	}
	return targets, slave
}

// attachTreeLocked attaches the unattached tree src at point in dest and into ns, and
// repeats it under every mount dest propagates to (attach_recursive_mnt).
// Preconditions: t.mu is held for writing; dest is the top of its stack at point.
func (ns *Namespace) attachTreeLocked(src, dest *Mount, point *Dentry) {
	t := ns.t
	type placed struct {
		m  *Mount
		at VirtualDentry
		ns *Namespace
	}
	var copies []placed
	if dest.peers != nil {
		for _, m := range treeOf(src) {
			t.makeSharedLocked(m)
		}
		targets, viaSlave := propagationTargets(dest.peers, dest)
		firstIn := map[*peerGroup]*Mount{}
		for i, tgt := range targets {
			if tgt.ns == nil || !tgt.root.IsAncestor(point) {
				continue
			}
			var c *Mount
			switch {
			case !viaSlave[i]:
				c, _ = t.copyTreeLocked(src, src.root, clonePeer, false, nil)
			case tgt.peers != nil && firstIn[tgt.peers] != nil:
				c, _ = t.copyTreeLocked(firstIn[tgt.peers], src.root, clonePeer, false, nil)
			default:
				c, _ = t.copyTreeLocked(src, src.root, cloneSlave, false, nil)
				if tgt.peers != nil {
					for _, m := range treeOf(c) {
						t.makeSharedLocked(m)
					}
					firstIn[tgt.peers] = c
				}
			}
			copies = append(copies, placed{c, tgt.ns.topLocked(VirtualDentry{tgt, point}), tgt.ns})
		}
	}
	// The mount itself goes first, then its copies (attach_recursive_mnt's commit order).
	at := ns.topLocked(VirtualDentry{dest, point})
	t.linkLocked(src, at.Mount, at.Dentry)
	ns.adoptLocked(src)
	for _, c := range copies {
		t.linkLocked(c.m, c.at.Mount, c.at.Dentry)
		c.ns.adoptLocked(c.m)
	}
}

// adoptLocked puts the tree m into ns.
func (ns *Namespace) adoptLocked(m *Mount) {
	for _, x := range treeOf(m) {
		x.enterLocked(ns)
		ns.all = append(ns.all, x)
	}
}

// isDir reports whether d is a directory.
func isDir(d *Dentry) bool {
	a, err := d.Inode().Stat()
	return err == nil && a.IsDir()
}

// NewMount attaches a new filesystem rooted at root on at (do_new_mount).
func (ns *Namespace) NewMount(at VirtualDentry, root *Dentry, fstype, source, options string, flags uint32) (*Mount, error) {
	t := ns.t
	t.mu.Lock()
	defer t.mu.Unlock()
	at = ns.topLocked(at)
	if !ns.inNSLocked(at.Mount) {
		return nil, unix.EINVAL
	}
	if isDir(at.Dentry) != isDir(root) {
		return nil, unix.ENOTDIR
	}
	m := ns.newMountLocked(root, fstype, source, flags)
	m.Options = options
	m.sbReadOnly = flags&MntReadOnly != 0
	ns.attachTreeLocked(m, at.Mount, at.Dentry)
	return m, nil
}

// Bind mounts what src names (and, with recursive, the mounts below it) on at (do_loopback).
func (ns *Namespace) Bind(at, src VirtualDentry, recursive bool) error {
	t := ns.t
	t.mu.Lock()
	defer t.mu.Unlock()
	at = ns.topLocked(at)
	if _, nsFile := src.Dentry.inode.(Pinner); nsFile {
		// A namespace file is bound from wherever it was found, as a mount of its own
		// (do_loopback's exception for nsfs).
		if !ns.inNSLocked(at.Mount) || isDir(at.Dentry) {
			return unix.EINVAL
		}
		m := ns.newMountLocked(src.Dentry, "nsfs", "nsfs", 0)
		ns.attachTreeLocked(m, at.Mount, at.Dentry)
		return nil
	}
	if src.Mount.unbindable {
		return unix.EINVAL
	}
	if !ns.inNSLocked(at.Mount) || !ns.inNSLocked(src.Mount) {
		return unix.EINVAL
	}
	if !recursive {
		for _, c := range src.Mount.children {
			if c.lock&Locked != 0 && src.Dentry.IsAncestor(c.place.Load().point) {
				return unix.EINVAL // would reveal what a locked mount covers
			}
		}
	}
	if isDir(at.Dentry) != isDir(src.Dentry) {
		return unix.ENOTDIR
	}
	var m *Mount
	if recursive {
		m, _ = t.copyTreeLocked(src.Mount, src.Dentry, cloneLike, true, nil)
	} else {
		m = t.cloneLocked(src.Mount, src.Dentry, cloneLike)
	}
	m.lock &^= Locked
	ns.attachTreeLocked(m, at.Mount, at.Dentry)
	return nil
}

// ChangeType sets the propagation type of the mount rooted at at (and, with recursive, of
// the mounts below it).
func (ns *Namespace) ChangeType(at VirtualDentry, typ int, recursive bool) error {
	t := ns.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if at.Dentry != at.Mount.root {
		return unix.EINVAL
	}
	if !ns.inNSLocked(at.Mount) {
		return unix.EINVAL
	}
	ms := []*Mount{at.Mount}
	if recursive {
		ms = treeOf(at.Mount)
	}
	for _, m := range ms {
		t.setPropagationLocked(m, typ)
	}
	return nil
}

// Reconfigure sets the flags of the mount rooted at at (a remount); super (a remount that
// is not a bind) sets the filesystem's read-only state too. Flags a less privileged
// namespace inherited locked cannot be cleared (EPERM). reconfigure, when not nil, runs
// after those checks and before anything changes (do_remount's reconfigure_super): its
// error fails the remount, and options it returns replace the filesystem's on every mount
// of it.
func (ns *Namespace) Reconfigure(at VirtualDentry, flags uint32, super bool, reconfigure func() (*string, error)) error {
	t := ns.t
	t.mu.Lock()
	defer t.mu.Unlock()
	m := at.Mount
	if !ns.inNSLocked(m) || at.Dentry != m.root {
		return unix.EINVAL
	}
	for _, x := range [][2]uint32{{MntReadOnly, LockReadOnly}, {MntNoDev, LockNoDev}, {MntNoSuid, LockNoSuid}, {MntNoExec, LockNoExec}} {
		if m.lock&x[1] != 0 && flags&x[0] == 0 {
			return unix.EPERM
		}
	}
	if m.lock&LockAtime != 0 && flags&MntAtimeMask != m.flags.Load()&MntAtimeMask {
		return unix.EPERM
	}
	var options *string
	if reconfigure != nil {
		var err error
		if options, err = reconfigure(); err != nil {
			return err
		}
	}
	m.flags.Store(flags)
	if super {
		m.sbReadOnly = flags&MntReadOnly != 0
	}
	if options != nil {
		// The options are the filesystem's: every mount of it shows the new ones.
		for _, o := range t.mounts {
			if o.dev == m.dev && o.FSType == m.FSType {
				o.Options = *options // read under t.mu (Info)
			}
		}
		m.Options = *options
	}
	return nil
}

// Move moves the mount rooted at from (with what is below it) onto to (MS_MOVE).
func (ns *Namespace) Move(from, to VirtualDentry) error {
	t := ns.t
	t.mu.Lock()
	defer t.mu.Unlock()
	to = ns.topLocked(to)
	old := from.Mount
	if !ns.inNSLocked(to.Mount) || !ns.inNSLocked(old) {
		return unix.EINVAL
	}
	pl := old.place.Load()
	if pl == nil || old.lock&Locked != 0 || from.Dentry != old.root {
		return unix.EINVAL
	}
	if isDir(to.Dentry) != isDir(from.Dentry) {
		return unix.EINVAL
	}
	if pl.parent.peers != nil {
		return unix.EINVAL // a mount below a shared one does not move
	}
	if to.Mount.peers != nil {
		for _, m := range treeOf(old) {
			if m.unbindable {
				return unix.EINVAL
			}
		}
	}
	for p := to.Mount; p != nil; p = p.Parent() {
		if p == old {
			return unix.ELOOP
		}
	}
	// Unhook old (keeping its subtree) and attach it again.
	delete(t.mounts, mountKey{pl.parent, pl.point})
	pl.point.mounts.Add(-1)
	pl.parent.children = removeMount(pl.parent.children, old)
	old.place.Store(nil)
	for _, m := range treeOf(old) {
		ns.all = removeMount(ns.all, m)
	}
	ns.attachTreeLocked(old, to.Mount, to.Dentry)
	return nil
}

// Umount flags (umount2(2)).
const (
	UmountForce  = 1
	UmountDetach = 2
	UmountExpire = 4
)

// Umount unmounts the mount rooted at at (umount2). inUse reports the mounts processes
// hold (an open file, a working directory or root); root is the caller's root.
func (ns *Namespace) Umount(at VirtualDentry, flags int, inUse map[*Mount]bool, root VirtualDentry) error {
	t := ns.t
	t.mu.Lock()
	defer t.mu.Unlock()
	m := at.Mount
	if at.Dentry != m.root || !ns.inNSLocked(m) || m.lock&Locked != 0 {
		return unix.EINVAL
	}
	pl := m.place.Load()
	if pl == nil {
		return unix.EINVAL // a namespace's root mount
	}
	if flags&UmountExpire != 0 {
		if m == root.Mount || flags&(UmountForce|UmountDetach) != 0 {
			return unix.EINVAL
		}
		if !m.expiring {
			m.expiring = true
			return unix.EAGAIN
		}
	}
	if flags&UmountDetach == 0 {
		if m == root.Mount || len(m.children) > 0 || inUse[m] {
			return unix.EBUSY
		}
	}
	t.umountTreeLocked(m, true)
	return nil
}

// umountTreeLocked takes m and everything below it out of their namespace; with
// propagate, so do the copies propagation put where each of them is, when nothing else is
// below those (Linux's propagate_umount).
func (t *mountTable) umountTreeLocked(m *Mount, propagate bool) {
	tree := treeOf(m)
	gone := make(map[*Mount]bool, len(tree))
	for _, x := range tree {
		gone[x] = true
	}
	for i := 0; propagate && i < len(tree); i++ {
		x := tree[i]
		pl := x.place.Load()
		if pl == nil || pl.parent.peers == nil {
			continue
		}
		targets, _ := propagationTargets(pl.parent.peers, pl.parent)
	next:
		for _, tgt := range targets {
			c := t.mounts[mountKey{tgt, pl.point}]
			if c == nil || gone[c] || c.root != x.root {
				continue
			}
			for _, cc := range c.children {
				if !gone[cc] {
					continue next
				}
			}
			gone[c] = true
			tree = append(tree, c)
		}
	}
	for i := len(tree) - 1; i >= 0; i-- {
		x := tree[i]
		t.leaveGroupLocked(x)
		t.leaveMasterLocked(x)
		t.detachLocked(x)
	}
}

// PivotRoot makes the mount rooted at newRoot the root of ns and puts the old root mount
// on putOld (pivot_root(2)); root is the caller's root. It returns the new root location.
func (ns *Namespace) PivotRoot(newRoot, putOld, root VirtualDentry) (VirtualDentry, error) {
	t := ns.t
	t.mu.Lock()
	defer t.mu.Unlock()
	putOld = ns.topLocked(putOld)
	newMnt, rootMnt, oldMnt := newRoot.Mount, root.Mount, putOld.Mount
	newPl, rootPl := newMnt.place.Load(), rootMnt.place.Load()
	shared := func(m *Mount) bool { return m != nil && m.peers != nil }
	var exParent, rootParent *Mount
	if newPl != nil {
		exParent = newPl.parent
	}
	if rootPl != nil {
		rootParent = rootPl.parent
	}
	if shared(oldMnt) || shared(exParent) || shared(rootParent) {
		return VirtualDentry{}, unix.EINVAL
	}
	if !ns.inNSLocked(rootMnt) || !ns.inNSLocked(newMnt) || newMnt.lock&Locked != 0 {
		return VirtualDentry{}, unix.EINVAL
	}
	if newRoot.Dentry.IsDead() {
		return VirtualDentry{}, unix.ENOENT
	}
	if newMnt == rootMnt || oldMnt == rootMnt {
		return VirtualDentry{}, unix.EBUSY
	}
	if root.Dentry != rootMnt.root || rootPl == nil || newRoot.Dentry != newMnt.root || newPl == nil {
		return VirtualDentry{}, unix.EINVAL
	}
	if !reachable(putOld, newRoot) || !reachable(newRoot, root) {
		return VirtualDentry{}, unix.EINVAL
	}
	// Take new off its place and the old root off /, then attach the old root on putOld
	// and new where the old root was.
	t.unlinkLocked(newMnt)
	t.unlinkLocked(rootMnt)
	if rootMnt.lock&Locked != 0 {
		newMnt.lock |= Locked
		rootMnt.lock &^= Locked
	}
	t.linkLocked(rootMnt, putOld.Mount, putOld.Dentry)
	t.linkLocked(newMnt, rootPl.parent, rootPl.point)
	return VirtualDentry{newMnt, newMnt.root}, nil
}

// unlinkLocked takes m off its place, keeping it in its namespace.
func (t *mountTable) unlinkLocked(m *Mount) {
	pl := m.place.Load()
	delete(t.mounts, mountKey{pl.parent, pl.point})
	pl.point.mounts.Add(-1)
	pl.parent.children = removeMount(pl.parent.children, m)
	m.place.Store(nil)
}

// reachable reports whether vd is at or below base (following mounts upward).
// Preconditions: t.mu is held.
func reachable(vd, base VirtualDentry) bool {
	m, d := vd.Mount, vd.Dentry
	for m != base.Mount {
		pl := m.place.Load()
		if pl == nil {
			return false
		}
		m, d = pl.parent, pl.point
	}
	return base.Dentry.IsAncestor(d)
}

// InNS reports whether vd's mount belongs to ns.
func (ns *Namespace) InNS(vd VirtualDentry) bool {
	ns.t.mu.RLock()
	defer ns.t.mu.RUnlock()
	return ns.inNSLocked(vd.Mount)
}

// LockedMount reports whether m came locked from a more privileged namespace.
func (m *Mount) LockedFlags() uint32 {
	m.t.mu.RLock()
	defer m.t.mu.RUnlock()
	return m.lock
}

// Release takes every mount of a namespace no process is in any more out of it.
func (ns *Namespace) Release() {
	t := ns.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if ns.released {
		return
	}
	ns.released = true
	for _, c := range append([]*Mount(nil), ns.root.children...) {
		t.umountTreeLocked(c, false)
	}
	ns.all = nil
}

// Released reports whether Release took the namespace down.
func (ns *Namespace) Released() bool {
	ns.t.mu.RLock()
	defer ns.t.mu.RUnlock()
	return ns.released
}
