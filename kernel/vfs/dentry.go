package vfs

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
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
	// missing caches negative lookups in a NegativeCacher directory: each name with the
	// directory's MissEpoch when it was found missing. protected by mu
	missing map[string]uint64
	// dead is set when the dentry was unlinked. protected by mu
	dead bool

	// mounts counts mounts stacked on this dentry, to skip the mount-table lookup.
	mounts atomic.Int32
}

// Volatile inodes (procfs) are looked up afresh every time: their children are not cached.
type Volatile interface{ Volatile() bool }

// NegativeCacher is a directory whose missing names may be cached (goferfs: host
// directories). MissEpoch returns a value that changes whenever a name may have appeared
// in the directory other than through this kernel, or ok false when misses there cannot
// be cached now; with watch, the filesystem may first set up what it needs to tell
// (a costly step the VFS asks for only after a miss).
type NegativeCacher interface {
	MissEpoch(watch bool) (epoch uint64, ok bool)
}

// OpeningLookuper is a directory whose lookups can also open the file they find for
// reading (goferfs: one gofer round trip instead of two). LookupOpening is Lookup; the
// inode it returns opens with O_RDONLY at no further cost. Resolve uses it for the last
// component of a read-only open (ResolveOpts.OpenRead).
type OpeningLookuper interface {
	LookupOpening(name string) (Inode, error)
}

// maxMissing bounds the misses cached per directory; beyond it the set starts again.
const maxMissing = 1024

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
func (d *Dentry) Child(name string) (*Dentry, error) { return d.child(name, false) }

// child is Child; opening says the child is about to be opened read-only
// (OpeningLookuper).
func (d *Dentry) child(name string, opening bool) (*Dentry, error) {
	volatile := false
	if v, ok := d.inode.(Volatile); ok && v.Volatile() {
		volatile = true
	}
	nc, negative := d.inode.(NegativeCacher)
	negative = negative && !volatile
	if !volatile {
		d.mu.Lock()
		if c, ok := d.children[name]; ok {
			d.mu.Unlock()
			return c, nil
		}
		was, missed := d.missing[name]
		d.mu.Unlock()
		if missed {
			if now, ok := nc.MissEpoch(false); ok && now == was {
				return nil, unix.ENOENT
			}
			d.mu.Lock()
			if d.missing[name] == was {
				delete(d.missing, name)
			}
			d.mu.Unlock()
		}
	}
	// The epoch is taken before the lookup, so that a name appearing after it is never
	// hidden by what the lookup found.
	var epoch uint64
	var epochOK bool
	if negative {
		epoch, epochOK = nc.MissEpoch(false)
	}
	lookup := d.inode.Lookup
	if ol, ok := d.inode.(OpeningLookuper); ok && opening {
		lookup = ol.LookupOpening
	}
	in, err := lookup(name)
	if err == unix.ENOENT && negative {
		if !epochOK {
			// The first miss here: watch the directory, then ask again under the watch.
			if epoch, epochOK = nc.MissEpoch(true); epochOK {
				in, err = d.inode.Lookup(name)
			}
		}
		if err == unix.ENOENT && epochOK {
			d.mu.Lock()
			if _, ok := d.children[name]; !ok {
				if d.missing == nil || len(d.missing) >= maxMissing {
					d.missing = make(map[string]uint64)
				}
				d.missing[name] = epoch
			}
			d.mu.Unlock()
		}
	}
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
	delete(d.missing, name)
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
	newParent.mu.Lock()
	delete(newParent.missing, newName)
	newParent.mu.Unlock()
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
		pl := vd.Mount.place.Load()
		if pl == nil {
			return vd
		}
		vd = VirtualDentry{pl.parent, pl.point}
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
