package vfs

import (
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Mounts and mount namespaces (mount_namespaces(7)).
//
// A Mount is one attachment of a filesystem tree (a root dentry) at a place (a parent mount
// and a dentry in it). Every mount namespace of one kernel shares one mountTable: the hash
// from (parent mount, dentry) to the mount on top, the mount lock, the rename lock. A new
// mount namespace is a copy of every Mount of its parent's (new Mount values sharing the
// dentries), so a path walk stays in the namespace it starts in without asking which one
// that is: the mounts it meets are keyed by the mount it walks in, as Linux's mount hash is.
//
// Propagation: a shared mount belongs to a peer group; mounting or unmounting below one
// member is repeated below every other member and below the group's slaves (whose own
// events do not go back). Locks: the table's mu guards every mount's place, children,
// peer group and master, and every namespace's list; dentry and rename locks come after.

// Mount flags (per mount: Linux's MNT_*), as mountinfo shows them.
const (
	MntReadOnly uint32 = 1 << iota
	MntNoSuid
	MntNoDev
	MntNoExec
	MntNoAtime
	MntNoDirAtime
	MntRelAtime
	MntNoSymFollow
)

// MntAtimeMask are the flags that choose the atime policy.
const MntAtimeMask = MntNoAtime | MntNoDirAtime | MntRelAtime

// Lock bits of a mount copied into a less privileged namespace (Linux's MNT_LOCK_*): the
// flag cannot be cleared there, and a locked mount cannot be unmounted or moved alone.
const (
	LockReadOnly uint32 = 1 << iota
	LockNoSuid
	LockNoDev
	LockNoExec
	LockAtime
	Locked
)

// Mount is a filesystem tree attached in a namespace.
type Mount struct {
	ID     int
	root   *Dentry
	FSType string
	Source string
	// Options are the filesystem's options as mountinfo's last field shows them after rw/ro.
	Options string
	dev     uint64
	t       *mountTable

	// place is where the mount is attached; nil for a namespace's root and once unmounted.
	// Written under t.mu, read without it.
	place atomic.Pointer[mountPlace]
	// flags are the Mnt* flags.
	flags atomic.Uint32

	// ns is the namespace the mount belongs to (nil once unmounted). protected by t.mu
	ns *Namespace
	// children are the mounts attached below this one. protected by t.mu
	children []*Mount
	// lock holds the Lock* bits. protected by t.mu
	lock uint32
	// peers is the peer group of a shared mount, master the group a slave receives from,
	// unbindable marks MS_UNBINDABLE. protected by t.mu
	peers      *peerGroup
	master     *peerGroup
	unbindable bool
	// expiring is MNT_EXPIRE's mark. protected by t.mu
	expiring bool
	// sbReadOnly is the filesystem's own read-only state (mountinfo's last field), set by
	// a mount or a remount that is not a bind. protected by t.mu
	sbReadOnly bool
}

type mountPlace struct {
	parent *Mount
	point  *Dentry
}

// peerGroup is a set of shared mounts that propagate to each other, and the slaves that
// receive from them.
type peerGroup struct {
	id      int
	members []*Mount
	slaves  []*Mount
}

// mountTable is what every mount namespace of one kernel shares.
type mountTable struct {
	// renameMu is the rename lock (Linux's s_vfs_rename_mutex): a rename holds it from its
	// checks to its cache update, so no other rename can make a directory its own ancestor
	// in between, and the dentry tree changes one rename at a time.
	renameMu sync.Mutex

	mu sync.RWMutex
	// mounts maps (parent mount, mount point) to the mount on top. protected by mu
	mounts map[mountKey]*Mount
	nextID int // protected by mu
	// groupIDs are the peer group numbers in use. protected by mu
	groupIDs map[int]bool

	// nextDev numbers the devices of filesystems mounted by mount(2).
	nextDev atomic.Uint32

	// closeHook is told about every last close of a file opened by path (inotify's
	// IN_CLOSE_WRITE and IN_CLOSE_NOWRITE).
	closeHook atomic.Pointer[func(*FileDescription)]
}

// Namespace is a mount namespace: a tree of mounts.
type Namespace struct {
	t *mountTable
	// root is the namespace's root mount (Linux's rootfs: the sandbox's / is mounted on
	// it, so that pivot_root can move it); all lists the namespace's mounts in the order
	// they were attached. protected by t.mu
	root *Mount
	all  []*Mount
	// origin maps the mounts of the namespace this one was copied from to their copies,
	// until DoneCopy. protected by t.mu
	origin map[*Mount]*Mount
	// released is set once no process is in the namespace. protected by t.mu
	released bool
	// anon marks the namespace of a detached tree (detached.go). protected by t.mu
	anon bool
}

type mountKey struct {
	m *Mount
	d *Dentry
}

// NewNamespace creates a namespace whose / is the filesystem rooted at root, mounted on an
// empty root mount no path reaches.
func NewNamespace(root Inode, fstype, source string) *Namespace {
	t := &mountTable{mounts: make(map[mountKey]*Mount), nextID: 20, groupIDs: make(map[int]bool)}
	t.nextDev.Store(0x100)
	ns := &Namespace{t: t}
	t.mu.Lock()
	ns.root = ns.newMountLocked(NewRootDentry(rootfsDir{}), "rootfs", "rootfs", 0)
	ns.all = append(ns.all, ns.root)
	m := ns.newMountLocked(NewRootDentry(root), fstype, source, MntRelAtime)
	ns.attachLocked(m, ns.root, ns.root.root)
	t.mu.Unlock()
	return ns
}

// newMountLocked makes an unattached mount. Preconditions: ns.t.mu is held.
func (ns *Namespace) newMountLocked(root *Dentry, fstype, source string, flags uint32) *Mount {
	ns.t.nextID++
	m := &Mount{ID: ns.t.nextID, root: root, FSType: fstype, Source: source, dev: uint64(ns.t.nextID), t: ns.t}
	m.flags.Store(flags)
	return m
}

// Pinner is an inode whose mounts keep something alive: a /proc/PID/ns file bind-mounted
// somewhere keeps its namespace, as an open descriptor of it does. Pin runs when a mount
// of it enters a namespace, Unpin when that mount leaves. Such a file may be bind-mounted
// from a mount outside the caller's namespace (Linux's nsfs files).
type Pinner interface {
	Pin()
	Unpin()
}

// attachLocked puts m on top of point in parent and into ns.
// Preconditions: ns.t.mu is held for writing; nothing is mounted on (parent, point).
func (ns *Namespace) attachLocked(m, parent *Mount, point *Dentry) {
	m.place.Store(&mountPlace{parent, point})
	ns.t.mounts[mountKey{parent, point}] = m
	point.mounts.Add(1)
	parent.children = append(parent.children, m)
	m.enterLocked(ns)
	ns.all = append(ns.all, m)
}

// enterLocked makes ns the namespace of m, which was in none (a Pinner root is pinned).
// Preconditions: t.mu is held for writing.
func (m *Mount) enterLocked(ns *Namespace) {
	if p, ok := m.root.inode.(Pinner); ok && m.ns == nil {
		p.Pin()
	}
	m.ns = ns
}

// detachLocked takes m off its place (it keeps its own children) and out of its
// namespace. Preconditions: ns.t.mu is held for writing.
func (t *mountTable) detachLocked(m *Mount) {
	if pl := m.place.Load(); pl != nil {
		if t.mounts[mountKey{pl.parent, pl.point}] == m {
			delete(t.mounts, mountKey{pl.parent, pl.point})
		}
		pl.point.mounts.Add(-1)
		pl.parent.children = removeMount(pl.parent.children, m)
		m.place.Store(nil)
	}
	if m.ns != nil {
		m.ns.all = removeMount(m.ns.all, m)
		m.ns = nil
		if p, ok := m.root.inode.(Pinner); ok {
			p.Unpin()
		}
	}
}

func removeMount(l []*Mount, m *Mount) []*Mount {
	for i, x := range l {
		if x == m {
			return append(l[:i:i], l[i+1:]...)
		}
	}
	return l
}

// SetCloseHook registers the kernel's close hook.
func (ns *Namespace) SetCloseHook(f func(*FileDescription)) { ns.t.closeHook.Store(&f) }

// LockRename takes the rename lock; UnlockRename releases it.
func (ns *Namespace) LockRename()   { ns.t.renameMu.Lock() }
func (ns *Namespace) UnlockRename() { ns.t.renameMu.Unlock() }

// NewDev returns a device number for a filesystem mount(2) makes (major 0).
func (ns *Namespace) NewDev() uint64 { return unix.Mkdev(0, ns.t.nextDev.Add(1)) }

// Root returns the namespace's root location: the top of what is mounted on the root mount.
func (ns *Namespace) Root() VirtualDentry {
	ns.t.mu.RLock()
	vd := VirtualDentry{ns.root, ns.root.root}
	ns.t.mu.RUnlock()
	return ns.mountedOn(vd)
}

// Mount attaches a filesystem rooted at root on top of at (the sandbox's own layout, made
// at boot: private, nosuid, relatime, and nodev but for device and host filesystems).
func (ns *Namespace) Mount(at VirtualDentry, root Inode, fstype, source string, ro bool) *Mount {
	return ns.MountDentry(at, NewRootDentry(root), fstype, source, ro)
}

// MountDentry is Mount with the root dentry given: a bind of a directory or file.
func (ns *Namespace) MountDentry(at VirtualDentry, root *Dentry, fstype, source string, ro bool) *Mount {
	ns.t.mu.Lock()
	defer ns.t.mu.Unlock()
	at = ns.topLocked(at)
	f := MntNoSuid | MntRelAtime
	if fstype != "devtmpfs" && fstype != "gofer" {
		f |= MntNoDev
	}
	if ro {
		f |= MntReadOnly
	}
	m := ns.newMountLocked(root, fstype, source, f)
	m.sbReadOnly = ro
	ns.attachLocked(m, at.Mount, at.Dentry)
	return m
}

// topLocked returns the top of the mounts stacked on at. Preconditions: t.mu is held.
func (ns *Namespace) topLocked(at VirtualDentry) VirtualDentry {
	for {
		top, ok := ns.t.mounts[mountKey{at.Mount, at.Dentry}]
		if !ok {
			return at
		}
		at = VirtualDentry{top, top.root}
	}
}

// Mounts lists the namespace's mounts in the order they were attached.
func (ns *Namespace) Mounts() []*Mount {
	ns.t.mu.RLock()
	defer ns.t.mu.RUnlock()
	return append([]*Mount(nil), ns.all...)
}

// mountedOn returns the top mount stacked on vd, or vd itself.
func (ns *Namespace) mountedOn(vd VirtualDentry) VirtualDentry {
	if vd.Dentry.mounts.Load() == 0 {
		return vd
	}
	ns.t.mu.RLock()
	defer ns.t.mu.RUnlock()
	return ns.topLocked(vd)
}

// Top returns what a path naming vd reaches once mounts on it are followed (umount2's and
// pivot_root's view of ".").
func (ns *Namespace) Top(vd VirtualDentry) VirtualDentry { return ns.mountedOn(vd) }

// IsMountPoint reports whether something is mounted on vd's dentry in any namespace.
func (ns *Namespace) IsMountPoint(vd VirtualDentry) bool { return vd.Dentry.mounts.Load() != 0 }

// Root returns the mount's root dentry.
func (m *Mount) Root() *Dentry { return m.root }

// Parent returns the parent mount (nil for a namespace's root or an unmounted mount).
func (m *Mount) Parent() *Mount {
	if pl := m.place.Load(); pl != nil {
		return pl.parent
	}
	return nil
}

// Dev returns the device number the mount's files report when the filesystem has none.
func (m *Mount) Dev() uint64 { return m.dev }

// Flags returns the mount's Mnt* flags.
func (m *Mount) Flags() uint32 { return m.flags.Load() }

// ReadOnly reports whether the mount is read-only.
func (m *Mount) ReadOnly() bool { return m.flags.Load()&MntReadOnly != 0 }

// NoExec, NoSuid and NoDev report the mount's noexec, nosuid and nodev flags.
func (m *Mount) NoExec() bool { return m.flags.Load()&MntNoExec != 0 }
func (m *Mount) NoSuid() bool { return m.flags.Load()&MntNoSuid != 0 }
func (m *Mount) NoDev() bool  { return m.flags.Load()&MntNoDev != 0 }

// Namespace returns the namespace m belongs to (nil once unmounted).
func (m *Mount) Namespace() *Namespace {
	m.t.mu.RLock()
	defer m.t.mu.RUnlock()
	return m.ns
}

// MountPointPath returns where m is mounted, as a path from the namespace root.
func MountPointPath(m *Mount) string {
	pl := m.place.Load()
	if pl == nil {
		return "/"
	}
	return VirtualDentry{pl.parent, pl.point}.Path()
}

// rootfsDir is the empty directory of a namespace's root mount.
type rootfsDir struct {
	ReadOnlyDir
	NoSetAttr
	DefaultStatFS
}

func (rootfsDir) Stat() (Attr, error) {
	return Attr{Mode: unix.S_IFDIR | 0o755, Nlink: 2, Ino: 1}, nil
}
func (rootfsDir) Lookup(string) (Inode, error) { return nil, unix.ENOENT }
func (rootfsDir) Readdir() ([]Dirent, error)   { return nil, nil }

// fsPath renders the mount's root as a path inside its filesystem (mountinfo's root field).
func (m *Mount) fsPath() string {
	var parts []string
	for d := m.root; ; {
		d.mu.Lock()
		name, p := d.name, d.parent
		d.mu.Unlock()
		if p == nil {
			break
		}
		parts = append(parts, name)
		d = p
	}
	return joinPath(parts)
}

// MountInfo is one line of /proc/PID/mountinfo.
type MountInfo struct {
	ID, ParentID int
	Dev          uint64
	Root, Point  string
	Flags        uint32
	// Shared and Master are peer group IDs (0: none); Unbindable marks MS_UNBINDABLE.
	Shared, Master int
	Unbindable     bool
	FSType, Source string
	Options        string
	// SuperReadOnly is the filesystem's read-only state.
	SuperReadOnly bool
}

// Info lists the namespace's mounts a process whose root is root sees: those at or below
// root, with mount points rendered from it (proc_pid_mountinfo(5)).
func (ns *Namespace) Info(root VirtualDentry) []MountInfo {
	ns.t.mu.RLock()
	all := append([]*Mount(nil), ns.all...)
	type prop struct {
		shared, master int
		unbindable     bool
		options        string
		sbRO           bool
	}
	props := make([]prop, len(all))
	for i, m := range all {
		props[i].unbindable, props[i].options, props[i].sbRO = m.unbindable, m.Options, m.sbReadOnly
		if m.peers != nil {
			props[i].shared = m.peers.id
		}
		if m.master != nil {
			props[i].master = m.master.id
		}
	}
	ns.t.mu.RUnlock()
	var out []MountInfo
	for i, m := range all {
		point, ok := VirtualDentry{m, m.root}.PathFrom(root)
		if !ok {
			continue
		}
		parent := m.ID
		if p := m.Parent(); p != nil {
			parent = p.ID
		}
		src := m.Source
		if src == "" {
			src = "none"
		}
		dev := m.dev
		if a, err := m.root.Inode().Stat(); err == nil && a.Dev != 0 {
			dev = a.Dev
		}
		out = append(out, MountInfo{ID: m.ID, ParentID: parent, Dev: dev, Root: m.fsPath(), Point: point, SuperReadOnly: props[i].sbRO,
			Flags: m.flags.Load(), Shared: props[i].shared, Master: props[i].master, Unbindable: props[i].unbindable,
			FSType: m.FSType, Source: src, Options: props[i].options})
	}
	return out
}

// FlagString renders mount flags as mountinfo's fields do: "rw,nosuid,relatime".
func FlagString(f uint32) string {
	var b strings.Builder
	if f&MntReadOnly != 0 {
		b.WriteString("ro")
	} else {
		b.WriteString("rw")
	}
	for _, x := range []struct {
		f    uint32
		name string
	}{{MntNoSuid, "nosuid"}, {MntNoDev, "nodev"}, {MntNoExec, "noexec"}, {MntNoAtime, "noatime"},
		{MntNoDirAtime, "nodiratime"}, {MntRelAtime, "relatime"}, {MntNoSymFollow, "nosymfollow"}} {
		if f&x.f != 0 {
			b.WriteString("," + x.name)
		}
	}
	return b.String()
}
