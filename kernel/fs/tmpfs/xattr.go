package tmpfs

import (
	"sort"
	"strings"

	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// Extended attributes in tmpfs, as Linux 6.6+ keeps them: the user., trusted. and
// security. namespaces, in memory with the inode. (Permission checks by namespace are the
// syscall layer's, as in Linux's VFS.)

var (
	_ vfs.Xattrer      = (*Inode)(nil)
	_ vfs.XattrRemover = (*Inode)(nil)
)

// maxXattrSpace bounds one inode's attributes (names and values).
const maxXattrSpace = 128 << 10

// xattrNameErr says whether tmpfs keeps attributes named name: nil for a name in one of
// its namespaces, EINVAL for a namespace prefix with nothing after it (Linux's
// xattr_resolve_name), EOPNOTSUPP for another namespace.
func xattrNameErr(name string) error {
	for _, p := range []string{"user.", "trusted.", "security."} {
		if strings.HasPrefix(name, p) {
			if len(name) == len(p) {
				return unix.EINVAL
			}
			return nil
		}
	}
	return unix.EOPNOTSUPP
}

// Getxattr implements vfs.Xattrer. ACLs are kept in the mode bits only: a file has
// none of its own (ENODATA).
func (in *Inode) Getxattr(name string) ([]byte, error) {
	if name == "system.posix_acl_access" || name == "system.posix_acl_default" {
		// POSIX ACLs are supported as the mode bits (the syscall layer turns a minimal
		// ACL into a chmod), so no extended ACL is ever stored: as tmpfs without one.
		return nil, unix.ENODATA
	}
	if err := xattrNameErr(name); err != nil {
		return nil, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	v, ok := in.xattrs[name]
	if !ok {
		return nil, unix.ENODATA
	}
	return append([]byte(nil), v...), nil
}

// Listxattr implements vfs.Xattrer.
func (in *Inode) Listxattr() ([]string, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	names := make([]string, 0, len(in.xattrs))
	for n := range in.xattrs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// Setxattr implements vfs.Xattrer.
func (in *Inode) Setxattr(name string, value []byte, flags int) error {
	if err := xattrNameErr(name); err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	old, exists := in.xattrs[name]
	switch {
	case flags&unix.XATTR_CREATE != 0 && exists:
		return unix.EEXIST
	case flags&unix.XATTR_REPLACE != 0 && !exists:
		return unix.ENODATA
	}
	used := 0
	for n, v := range in.xattrs {
		used += len(n) + len(v)
	}
	if exists {
		used -= len(name) + len(old)
	}
	if used+len(name)+len(value) > maxXattrSpace {
		return unix.ENOSPC
	}
	if in.xattrs == nil {
		in.xattrs = make(map[string][]byte)
	}
	in.xattrs[name] = append([]byte(nil), value...)
	in.attr.Ctime = now()
	return nil
}

// Removexattr implements vfs.XattrRemover.
func (in *Inode) Removexattr(name string) error {
	if err := xattrNameErr(name); err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if _, ok := in.xattrs[name]; !ok {
		return unix.ENODATA
	}
	delete(in.xattrs, name)
	in.attr.Ctime = now()
	return nil
}
