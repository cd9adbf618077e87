package vfs

import "strings"

// PathFrom renders vd as seen from root (a chroot): the path below root, and whether vd is
// below root at all. A location outside root is rendered from the namespace root, as
// Linux's d_path does before getcwd prefixes it with "(unreachable)".
func (vd VirtualDentry) PathFrom(root VirtualDentry) (string, bool) {
	var parts []string
	reachable := false
	for cur := vd; cur.Dentry != nil; {
		if cur.Dentry == root.Dentry && cur.Mount == root.Mount {
			reachable = true
			break
		}
		if cur.Mount != nil && cur.Dentry == cur.Mount.root {
			if cur.Mount.parent == nil {
				break
			}
			cur = VirtualDentry{cur.Mount.parent, cur.Mount.point}
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
	if !reachable {
		return vd.Path(), false
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(parts[i])
	}
	if b.Len() == 0 {
		b.WriteByte('/')
	}
	return b.String(), true
}
