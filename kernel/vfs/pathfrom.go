package vfs

import "strings"

// PathFrom renders vd as seen from root (a chroot): the path below root, and whether vd is
// below root at all. A location outside root is rendered from the namespace root, as
// Linux's d_path does before getcwd prefixes it with "(unreachable)".
func (vd VirtualDentry) PathFrom(root VirtualDentry) (string, bool) {
	parts, reached := vd.namesUpTo(root)
	if !reached {
		return vd.Path(), false
	}
	return joinPath(parts), true
}

// namesUpTo returns the names from vd up to stop (or to the namespace root when stop is
// not on the way), last name first, and whether stop was reached.
func (vd VirtualDentry) namesUpTo(stop VirtualDentry) ([]string, bool) {
	var parts []string
	for cur := vd; cur.Dentry != nil; {
		if cur.Dentry == stop.Dentry && cur.Mount == stop.Mount {
			return parts, true
		}
		if cur.Mount != nil && cur.Dentry == cur.Mount.root {
			pl := cur.Mount.place.Load()
			if pl == nil {
				break
			}
			cur = VirtualDentry{pl.parent, pl.point}
			continue
		}
		cur.Dentry.mu.Lock()
		name, p := cur.Dentry.name, cur.Dentry.parent
		cur.Dentry.mu.Unlock()
		if p == nil {
			break
		}
		parts = append(parts, name)
		cur.Dentry = p
	}
	return parts, false
}

// joinPath renders names, last first, as an absolute path.
func joinPath(parts []string) string {
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(parts[i])
	}
	if b.Len() == 0 {
		b.WriteByte('/')
	}
	return b.String()
}
