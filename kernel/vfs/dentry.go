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
	// epoch is the parent's ChildEpoch when this dentry was looked up, if epochOK
	// (ChildValidator). protected by mu of the parent
	epoch   uint64
	epochOK bool

	// mounts counts mounts stacked on this dentry, to skip the mount-table lookup.
	mounts atomic.Int32
	// removals counts the names the sandbox removed or moved out of this directory: a
	// listing in progress compares it (the directory's times may not move within a tick).
	removals atomic.Uint64
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

// ChildValidator is a directory whose cached children may be removed or replaced other
// than through this kernel (goferfs: host directories other programs change). ChildEpoch
// returns a value that changes whenever name may have been removed or replaced, or ok
// false when that cannot be told; a child cached under one epoch is looked up again
// under another.
type ChildValidator interface {
	ChildEpoch(name string) (epoch uint64, ok bool)
}

// PlusReader is a directory whose listing can come with its entries looked up (goferfs:
// one gofer request per chunk of a directory instead of one per entry, when the app
// looks its entries up after listing them: tar, ls -l, du). ReaddirPlus is Readdir; the
// children it returns (possibly none) are cached as Lookup's would be, each with its
// ChildEpoch if Valid.
type PlusReader interface {
	ReaddirPlus() ([]Dirent, []PlusChild, error)
}

// PlusChild is a child a listing looked up.
type PlusChild struct {
	Name  string
	Inode Inode
	// Epoch is the directory's ChildEpoch for Name, if Valid.
	Epoch uint64
	Valid bool
}

// prime caches children a listing looked up, leaving alone names already cached.
func (d *Dentry) prime(kids []PlusChild) {
	if len(kids) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead {
		return
	}
	if d.children == nil {
		d.children = make(map[string]*Dentry, len(kids))
	}
	for _, k := range kids {
		if _, ok := d.children[k.Name]; ok {
			continue
		}
		d.children[k.Name] = &Dentry{inode: k.Inode, parent: d, name: k.Name, epoch: k.Epoch, epochOK: k.Valid}
		delete(d.missing, k.Name)
	}
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
	cv, validated := d.inode.(ChildValidator)
	validated = validated && !volatile
	if !volatile {
		d.mu.Lock()
		if c, ok := d.children[name]; ok {
			epoch, epochOK := c.epoch, c.epochOK
			d.mu.Unlock()
			if !validated || !epochOK || c.mounts.Load() != 0 {
				return c, nil
			}
			if now, ok := cv.ChildEpoch(name); ok && now == epoch {
				return c, nil
			}
			// The name may lead elsewhere now: ask the filesystem again.
			d.mu.Lock()
			if d.children[name] == c {
				delete(d.children, name)
			}
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
	var epoch, childEpoch uint64
	var epochOK, childEpochOK bool
	if negative {
		epoch, epochOK = nc.MissEpoch(false)
	}
	if validated {
		childEpoch, childEpochOK = cv.ChildEpoch(name)
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
	c := &Dentry{inode: in, parent: d, name: name, epoch: childEpoch, epochOK: childEpochOK}
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
	if cv, ok := d.inode.(ChildValidator); ok {
		// Taken after the create: what it did is in the epoch already.
		c.epoch, c.epochOK = cv.ChildEpoch(name)
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

// Unlinked returns a dentry below d for in, a file created without a name (O_TMPFILE):
// dead from the start and never cached, named name (what /proc/PID/fd shows of it).
func (d *Dentry) Unlinked(name string, in Inode) *Dentry {
	return &Dentry{inode: in, parent: d, name: name, dead: true}
}

// Forget drops name from the cache, marking the cached child dead when unlinked.
func (d *Dentry) Forget(name string, unlinked bool) {
	d.removals.Add(1)
	d.mu.Lock()
	c := d.children[name]
	delete(d.children, name)
	d.mu.Unlock()
	if c != nil && unlinked {
		c.mu.Lock()
		c.dead = true
		c.mu.Unlock()
		if r, ok := c.inode.(RemovedNotifier); ok {
			r.Removed()
		}
	}
}

// RemovedNotifier is an inode told when the sandbox removed a name of it (unlink, rmdir):
// a filesystem that caches attributes drops them (a removed directory's link count is 0,
// which its host watch may report only once the last reference goes).
type RemovedNotifier interface {
	Removed()
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
	d.removals.Add(1)
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
	var epoch uint64
	var epochOK bool
	if cv, ok := newParent.inode.(ChildValidator); ok {
		epoch, epochOK = cv.ChildEpoch(newName)
	}
	c.mu.Lock()
	c.parent, c.name = newParent, newName
	c.mu.Unlock()
	newParent.mu.Lock()
	c.epoch, c.epochOK = epoch, epochOK
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
