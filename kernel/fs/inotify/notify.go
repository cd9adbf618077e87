package inotify

import "github.com/sbx-dev/sbx/kernel/vfs"

// closed reports the last close of fd (IN_CLOSE_WRITE or IN_CLOSE_NOWRITE).
func (tbl *Table) closed(fd *vfs.FileDescription) {
	if !tbl.Active() {
		return
	}
	mask := uint32(InCloseNowrite)
	if fd.Writable() {
		mask = InCloseWrite
	}
	tbl.Notify(fd.VirtualDentry(), mask)
}

// Notify reports mask (IN_ACCESS, IN_MODIFY, IN_ATTRIB, IN_OPEN, IN_CLOSE_*) about the file
// at vd: to the watches on it, and under its name to the watches on its directory.
func (tbl *Table) Notify(vd vfs.VirtualDentry, mask uint32) {
	if !tbl.Active() || vd.Dentry == nil {
		return
	}
	k, isDir, ok := KeyOf(vd.Dentry.Inode())
	if !ok {
		return
	}
	if isDir {
		mask |= InIsdir
	}
	// The directory hears first, then the file itself (fsnotify_parent, then fsnotify).
	if mask&childEvents != 0 {
		if parent := vd.Parent(); parent.Dentry != nil && parent.Dentry != vd.Dentry {
			if pk, _, ok := KeyOf(parent.Dentry.Inode()); ok {
				tbl.deliver(pk, mask, 0, vd.Dentry.Name(), vd.Dentry.IsDead())
			}
		}
	}
	tbl.deliver(k, mask, 0, "", false)
}

// NotifyChild reports an event of directory dir about its entry name: IN_CREATE,
// IN_DELETE, IN_MOVED_FROM and IN_MOVED_TO (with the rename's cookie).
func (tbl *Table) NotifyChild(dir vfs.VirtualDentry, name string, mask, cookie uint32, childIsDir bool) {
	if !tbl.Active() || dir.Dentry == nil {
		return
	}
	if childIsDir {
		mask |= InIsdir
	}
	if k, _, ok := KeyOf(dir.Dentry.Inode()); ok {
		tbl.deliver(k, mask, cookie, name, false)
	}
}

// NotifyKey reports mask to the watches on the inode k itself (IN_ATTRIB for a link count
// change, IN_MOVE_SELF).
func (tbl *Table) NotifyKey(k Key, isDir bool, mask uint32) {
	if !tbl.Active() {
		return
	}
	if isDir {
		mask |= InIsdir
	}
	tbl.deliver(k, mask, 0, "", false)
}

// Deleted reports that inode k lost its last link: its watches get IN_DELETE_SELF and end
// (IN_IGNORED).
func (tbl *Table) Deleted(k Key) {
	if tbl.Active() {
		tbl.gone(k, InDeleteSelf)
	}
}

// Lookup returns the key of the inode at vd when anything watches at all (the callers of
// Deleted and NotifyKey take it before the inode goes).
func (tbl *Table) Lookup(vd vfs.VirtualDentry) (Key, bool, bool) {
	if !tbl.Active() || vd.Dentry == nil {
		return Key{}, false, false
	}
	return KeyOf(vd.Dentry.Inode())
}
