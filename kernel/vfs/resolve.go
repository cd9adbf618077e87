package vfs

import (
	"strings"

	"golang.org/x/sys/unix"
)

// MaxSymlinks is Linux's limit on symlinks followed in one resolution (ELOOP beyond).
const MaxSymlinks = 40

// MagicLink is a procfs link whose target is a location, not a path (/proc/PID/fd/N,
// /proc/PID/exe, cwd, root). Following it jumps there directly.
type MagicLink interface {
	Target() (VirtualDentry, error)
}

// SelfLink is a link whose target depends on who follows it (/proc/self).
type SelfLink interface {
	SelfTarget(pid, tid int32) string
}

// ResolveOpts controls a path resolution.
type ResolveOpts struct {
	Root  VirtualDentry // the caller's root directory
	Start VirtualDentry // where relative paths start (cwd or dirfd)
	Creds *Creds
	// Follow makes a final symlink be followed.
	Follow bool
	// PID and TID identify the caller, for links like /proc/self.
	PID, TID int32
	// OpenRead says the location is about to be opened read-only: a filesystem may open
	// the last component with its lookup (OpeningLookuper).
	OpenRead bool
	// NoSymlinks, NoMagicLinks, Beneath, InRoot, NoXDev are openat2's RESOLVE_* flags.
	NoSymlinks, NoMagicLinks, Beneath, InRoot, NoXDev bool
	// LongLast leaves a last component over NameMax to the caller: Linux fails it in the
	// filesystem's lookup, so rename looks its source up before its target's length.
	LongLast bool
}

// NameMax is the longest name of one path component (ENAMETOOLONG beyond).
const NameMax = 255

// resolver walks one path.
type resolver struct {
	ns    *Namespace
	o     ResolveOpts
	links int
}

// Resolve returns the location path names.
func (ns *Namespace) Resolve(path string, o ResolveOpts) (VirtualDentry, error) {
	r := resolver{ns: ns, o: o}
	parent, name, trailing, err := r.walkParent(path)
	if err != nil {
		return VirtualDentry{}, err
	}
	if name == "" {
		return parent, nil
	}
	return r.final(parent, name, trailing, o.Follow)
}

// ResolveParent resolves all but the last component of path, for operations that create
// or remove the last one. name is "" when path names "/" itself; "." or ".." come back as
// they are so callers can give the right errno.
func (ns *Namespace) ResolveParent(path string, o ResolveOpts) (parent VirtualDentry, name string, trailingSlash bool, err error) {
	r := resolver{ns: ns, o: o}
	return r.walkParent(path)
}

// Walk continues from a ResolveParent result to the final component, following a final
// symlink when follow is set.
func (ns *Namespace) Walk(parent VirtualDentry, name string, trailingSlash, follow bool, o ResolveOpts) (VirtualDentry, error) {
	r := resolver{ns: ns, o: o}
	return r.final(parent, name, trailingSlash, follow)
}

func splitPath(path string) (comps []string, trailing bool) {
	trailing = strings.HasSuffix(path, "/")
	for _, c := range strings.Split(path, "/") {
		if c != "" {
			comps = append(comps, c)
		}
	}
	return comps, trailing
}

// walkParent walks every component but the last.
func (r *resolver) walkParent(path string) (VirtualDentry, string, bool, error) {
	if path == "" {
		return VirtualDentry{}, "", false, unix.ENOENT
	}
	if len(path) >= unix.PathMax {
		return VirtualDentry{}, "", false, unix.ENAMETOOLONG
	}
	cur := r.o.Start
	if strings.HasPrefix(path, "/") {
		if r.o.Beneath {
			return VirtualDentry{}, "", false, unix.EXDEV
		}
		cur = r.o.Root
	}
	comps, trailing := splitPath(path)
	if len(comps) == 0 {
		return cur, "", true, nil
	}
	for _, c := range comps[:len(comps)-1] {
		var err error
		if cur, err = r.step(cur, c, true); err != nil {
			return VirtualDentry{}, "", false, err
		}
	}
	last := comps[len(comps)-1]
	// The parent's search permission is checked first (link_path_walk's may_lookup).
	if err := r.checkSearch(cur); err != nil {
		return VirtualDentry{}, "", false, err
	}
	if len(last) > NameMax && !r.o.LongLast {
		return VirtualDentry{}, "", false, unix.ENAMETOOLONG
	}
	return cur, last, trailing, nil
}

func (r *resolver) checkSearch(dir VirtualDentry) error {
	a, err := dir.Dentry.Inode().Stat()
	if err != nil {
		return err
	}
	if !a.IsDir() {
		return unix.ENOTDIR
	}
	if r.o.Creds != nil {
		return CheckAccess(r.o.Creds, a, MayExec)
	}
	return nil
}

// final resolves the last component.
func (r *resolver) final(parent VirtualDentry, name string, trailing, follow bool) (VirtualDentry, error) {
	vd, err := r.stepOpening(parent, name, follow || trailing, r.o.OpenRead && !trailing)
	if err != nil {
		return VirtualDentry{}, err
	}
	if trailing {
		a, err := vd.Dentry.Inode().Stat()
		if err != nil {
			return VirtualDentry{}, err
		}
		if !a.IsDir() {
			return VirtualDentry{}, unix.ENOTDIR
		}
	}
	return vd, nil
}

// step moves from directory cur through one component, following a symlink there when
// follow is set.
func (r *resolver) step(cur VirtualDentry, name string, follow bool) (VirtualDentry, error) {
	return r.stepOpening(cur, name, follow, false)
}

// stepOpening is step; opening says name is the file an open will read (OpenRead).
func (r *resolver) stepOpening(cur VirtualDentry, name string, follow, opening bool) (VirtualDentry, error) {
	if len(name) > 255 {
		return VirtualDentry{}, unix.ENAMETOOLONG
	}
	if err := r.checkSearch(cur); err != nil {
		return VirtualDentry{}, err
	}
	switch name {
	case ".":
		return cur, nil
	case "..":
		if cur.Dentry == r.o.Root.Dentry && cur.Mount == r.o.Root.Mount {
			return cur, nil
		}
		if r.o.Beneath && cur.Dentry == r.o.Start.Dentry && cur.Mount == r.o.Start.Mount {
			return VirtualDentry{}, unix.EXDEV
		}
		p := cur.Parent()
		if r.o.NoXDev && p.Mount != cur.Mount {
			return VirtualDentry{}, unix.EXDEV
		}
		return p, nil
	}
	c, err := cur.Dentry.child(name, opening)
	if err != nil {
		return VirtualDentry{}, err
	}
	next := r.ns.mountedOn(VirtualDentry{cur.Mount, c})
	if r.o.NoXDev && next.Mount != cur.Mount {
		return VirtualDentry{}, unix.EXDEV
	}
	if !follow {
		return next, nil
	}
	a, err := next.Dentry.Inode().Stat()
	if err != nil {
		return VirtualDentry{}, err
	}
	if a.Type() != unix.S_IFLNK {
		return next, nil
	}
	return r.followLink(cur, next)
}

// followLink resolves symlink at link (found in directory dir).
func (r *resolver) followLink(dir, link VirtualDentry) (VirtualDentry, error) {
	r.links++
	if r.links > MaxSymlinks {
		return VirtualDentry{}, unix.ELOOP
	}
	if err := r.mayFollow(dir, link); err != nil {
		return VirtualDentry{}, err
	}
	if ml, ok := link.Dentry.Inode().(MagicLink); ok {
		if r.o.NoMagicLinks || r.o.NoSymlinks || r.o.Beneath || r.o.InRoot {
			return VirtualDentry{}, unix.ELOOP
		}
		return ml.Target()
	}
	if r.o.NoSymlinks {
		return VirtualDentry{}, unix.ELOOP
	}
	var target string
	if sl, ok := link.Dentry.Inode().(SelfLink); ok {
		target = sl.SelfTarget(r.o.PID, r.o.TID)
	} else {
		var err error
		if target, err = link.Dentry.Inode().Readlink(); err != nil {
			return VirtualDentry{}, err
		}
	}
	if target == "" {
		return VirtualDentry{}, unix.ENOENT
	}
	start := dir
	if strings.HasPrefix(target, "/") {
		if r.o.Beneath {
			return VirtualDentry{}, unix.EXDEV
		}
		start = r.o.Root
	}
	comps, trailing := splitPath(target)
	cur := start
	for _, c := range comps {
		var err error
		if cur, err = r.step(cur, c, true); err != nil {
			return VirtualDentry{}, err
		}
	}
	if trailing {
		if a, err := cur.Dentry.Inode().Stat(); err == nil && !a.IsDir() {
			return VirtualDentry{}, unix.ENOTDIR
		}
	}
	return cur, nil
}

// mayFollow is Linux's may_follow_link with fs.protected_symlinks on (as /proc/sys says):
// in a sticky world-writable directory, a symlink is followed only by its owner or when
// it belongs to the directory's owner; anyone else, root included, gets EACCES.
func (r *resolver) mayFollow(dir, link VirtualDentry) error {
	if r.o.Creds == nil {
		return nil
	}
	la, err := link.Dentry.Inode().Stat()
	if err != nil || la.UID == r.o.Creds.FSUID {
		return nil
	}
	da, err := dir.Dentry.Inode().Stat()
	if err != nil || da.Mode&(unix.S_ISVTX|0o002) != unix.S_ISVTX|0o002 || da.UID == la.UID {
		return nil
	}
	return unix.EACCES
}

// PIDOpener is a file whose contents depend on who opens it (/proc/sysvipc/* show the
// opener's IPC namespace): the kernel opens it with the opener's sandbox-wide PID.
type PIDOpener interface {
	OpenAs(pid int32, flags int) (File, error)
}
