package vfs

import (
	"sync"
	"sync/atomic"
)

// Dentry names an inode in the dentry tree. Dentries are cached: a looked-up child stays
// in its parent's map until it is unlinked or renamed away. Memory is managed by the Go
// collector; IncRef/DecRef exist for the places Linux holds references and cost nothing.
type Dentry struct {
	inode Inode

	mu sync.Mutex
	// parent and name place the dentry in the tree. protected by mu of the parent
	parent *Dentry
	name   string
	// children caches positive lookups. protected by mu
	children map[string]*Dentry
	// dead is set when the dentry was unlinked. protected by mu
	dead bool

	// mounts counts mounts stacked on this dentry, to skip the mount-table lookup.
	mounts atomic.Int32
}

// Volatile inodes (procfs) are looked up afresh every time: their children are not cached.
type Volatile interface{ Volatile() bool }

// NewRootDentry returns the root dentry of a filesystem.
func NewRootDentry(in Inode) *Dentry { return &Dentry{inode: in} }

// Inode returns the dentry's inode.
func (d *Dentry) Inode() Inode { return d.inode }

// Name returns the dentry's name in its parent.
func (d *Dentry) Name() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.name
}

// IsDead reports whether the dentry was unlinked.
func (d *Dentry) IsDead() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dead
}

func (d *Dentry) parentDentry() *Dentry {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.parent
}

// Child looks up name in directory d, using the cache.
func (d *Dentry) Child(name string) (*Dentry, error) {
	volatile := false
	if v, ok := d.inode.(Volatile); ok && v.Volatile() {
		volatile = true
	}
	if !volatile {
		d.mu.Lock()
		if c, ok := d.children[name]; ok {
			d.mu.Unlock()
			return c, nil
		}
		d.mu.Unlock()
	}
	in, err := d.inode.Lookup(name)
	if err != nil {
		return nil, err
	}
	c := &Dentry{inode: in, parent: d, name: name}
	if volatile {
		return c, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if old, ok := d.children[name]; ok {
		return old, nil
	}
	if d.children == nil {
		d.children = make(map[string]*Dentry)
	}
	d.children[name] = c
	return c, nil
}

// Insert caches a newly created child.
func (d *Dentry) Insert(name string, in Inode) *Dentry {
	c := &Dentry{inode: in, parent: d, name: name}
	if v, ok := d.inode.(Volatile); ok && v.Volatile() {
		return c
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.children == nil {
		d.children = make(map[string]*Dentry)
	}
	d.children[name] = c
	return c
}

// Forget drops name from the cache, marking the cached child dead when unlinked.
func (d *Dentry) Forget(name string, unlinked bool) {
	d.mu.Lock()
	c := d.children[name]
	delete(d.children, name)
	d.mu.Unlock()
	if c != nil && unlinked {
		c.mu.Lock()
		c.dead = true
		c.mu.Unlock()
	}
}

// Invalidate drops d from its parent's cache, so that the next lookup of its name asks the
// filesystem again: for a file that changed behind the cache's back (a host file renamed
// or replaced outside the sandbox). A mount point stays cached.
func (d *Dentry) Invalidate() {
	if d.mounts.Load() != 0 {
		return
	}
	p := d.parentDentry()
	if p == nil {
		return
	}
	name := d.Name()
	p.mu.Lock()
	if p.children[name] == d {
		delete(p.children, name)
	}
	p.mu.Unlock()
}

// MoveTo re-homes the cached child oldName of d as newName of newParent after a rename.
func (d *Dentry) MoveTo(oldName string, newParent *Dentry, newName string) {
	d.mu.Lock()
	c := d.children[oldName]
	delete(d.children, oldName)
	d.mu.Unlock()
	newParent.Forget(newName, true)
	if c == nil {
		return
	}
	c.mu.Lock()
	c.parent, c.name = newParent, newName
	c.mu.Unlock()
	newParent.mu.Lock()
	if newParent.children == nil {
		newParent.children = make(map[string]*Dentry)
	}
	newParent.children[newName] = c
	newParent.mu.Unlock()
}

// Mount is a filesystem attached in a namespace.
type Mount struct {
	ID       int
	root     *Dentry
	parent   *Mount
	point    *Dentry
	ReadOnly bool
	FSType   string
	Source   string
	Options  string
	dev      uint64
	// ns is the namespace the mount belongs to.
	ns *Namespace
}

// Root returns the mount's root dentry.
func (m *Mount) Root() *Dentry { return m.root }

// Parent returns the parent mount (nil for the namespace root).
func (m *Mount) Parent() *Mount { return m.parent }

// VirtualDentry is a location in the namespace: a dentry within a mount.
type VirtualDentry struct {
	Mount  *Mount
	Dentry *Dentry
}

// IncRef and DecRef mark where a location is held (see Dentry).
func (vd VirtualDentry) IncRef() {}
func (vd VirtualDentry) DecRef() {}

// Ok reports whether vd is set.
func (vd VirtualDentry) Ok() bool { return vd.Dentry != nil }

// Parent returns the location of vd's parent directory, crossing mounts upward; the
// namespace root is its own parent.
func (vd VirtualDentry) Parent() VirtualDentry {
	for vd.Mount != nil && vd.Dentry == vd.Mount.root {
		if vd.Mount.parent == nil {
			return vd
		}
		vd = VirtualDentry{vd.Mount.parent, vd.Mount.point}
	}
	if p := vd.Dentry.parentDentry(); p != nil {
		return VirtualDentry{vd.Mount, p}
	}
	return vd
}

// Path renders vd as an absolute path from the namespace root, with " (deleted)" for an
// unlinked file.
func (vd VirtualDentry) Path() string {
	dead := vd.Dentry != nil && vd.Dentry.IsDead()
	parts, _ := vd.namesUpTo(VirtualDentry{})
	p := joinPath(parts)
	if dead {
		p += " (deleted)"
	}
	return p
}

// IsAncestor reports whether a is d or one of d's ancestors in the dentry tree.
func (a *Dentry) IsAncestor(d *Dentry) bool {
	for ; d != nil; d = d.parentDentry() {
		if d == a {
			return true
		}
	}
	return false
}

// Namespace is the sandbox's mount namespace.
type Namespace struct {
	// renameMu is the rename lock (Linux's s_vfs_rename_mutex): a rename holds it from its
	// checks to its cache update, so no other rename can make a directory its own ancestor
	// in between, and the dentry tree changes one rename at a time.
	renameMu sync.Mutex

	mu sync.RWMutex
	// root is the root mount. protected by mu
	root *Mount
	// mounts maps (parent mount, mount point) to the mount on top. protected by mu
	mounts map[mountKey]*Mount
	// all lists mounts in creation order. protected by mu
	all    []*Mount
	nextID int

	// closeHook is told about every last close of a file opened by path in this
	// namespace (inotify's IN_CLOSE_WRITE and IN_CLOSE_NOWRITE).
	closeHook atomic.Pointer[func(*FileDescription)]
}

// SetCloseHook registers the namespace's close hook.
func (ns *Namespace) SetCloseHook(f func(*FileDescription)) { ns.closeHook.Store(&f) }

type mountKey struct {
	m *Mount
	d *Dentry
}

// NewNamespace creates a namespace whose root is the filesystem rooted at root.
func NewNamespace(root Inode, fstype, source string) *Namespace {
	ns := &Namespace{mounts: make(map[mountKey]*Mount), nextID: 20}
	ns.root = ns.newMount(NewRootDentry(root), fstype, source, false)
	return ns
}

func (ns *Namespace) newMount(root *Dentry, fstype, source string, ro bool) *Mount {
	ns.nextID++
	m := &Mount{ID: ns.nextID, root: root, FSType: fstype, Source: source, ReadOnly: ro, dev: uint64(ns.nextID), ns: ns}
	ns.all = append(ns.all, m)
	return m
}

// LockRename takes the namespace's rename lock; UnlockRename releases it.
func (ns *Namespace) LockRename()   { ns.renameMu.Lock() }
func (ns *Namespace) UnlockRename() { ns.renameMu.Unlock() }

// Root returns the namespace's root location: the top of what is mounted on the first
// root (a container's root filesystem is mounted there).
func (ns *Namespace) Root() VirtualDentry {
	ns.mu.RLock()
	vd := VirtualDentry{ns.root, ns.root.root}
	ns.mu.RUnlock()
	return ns.mountedOn(vd)
}

// Mount attaches a filesystem rooted at root on top of at.
func (ns *Namespace) Mount(at VirtualDentry, root Inode, fstype, source string, ro bool) *Mount {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	// Stack on whatever is already mounted there.
	for {
		top, ok := ns.mounts[mountKey{at.Mount, at.Dentry}]
		if !ok {
			break
		}
		at = VirtualDentry{top, top.root}
	}
	m := ns.newMount(NewRootDentry(root), fstype, source, ro)
	m.parent, m.point = at.Mount, at.Dentry
	ns.mounts[mountKey{at.Mount, at.Dentry}] = m
	at.Dentry.mounts.Add(1)
	return m
}

// Mounts lists the mounts in creation order.
func (ns *Namespace) Mounts() []*Mount {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	return append([]*Mount(nil), ns.all...)
}

// mountedOn returns the top mount stacked on vd, or vd itself.
func (ns *Namespace) mountedOn(vd VirtualDentry) VirtualDentry {
	if vd.Dentry.mounts.Load() == 0 {
		return vd
	}
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	for {
		m, ok := ns.mounts[mountKey{vd.Mount, vd.Dentry}]
		if !ok {
			return vd
		}
		vd = VirtualDentry{m, m.root}
	}
}

// IsMountPoint reports whether something is mounted on vd.
func (ns *Namespace) IsMountPoint(vd VirtualDentry) bool { return vd.Dentry.mounts.Load() != 0 }

// Dev returns the device number the mount's files report when the filesystem has none.
func (m *Mount) Dev() uint64 { return m.dev }

// MountPointPath returns where m is mounted, as a path from the namespace root.
func MountPointPath(m *Mount) string {
	if m.parent == nil {
		return "/"
	}
	return VirtualDentry{m.parent, m.point}.Path()
}
