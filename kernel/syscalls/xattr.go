package syscalls

import (
	"strings"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// xattrTarget resolves the file of a *xattr call: by path (following symlinks or not) or by
// FD (not an O_PATH one: Linux's f*xattr take fdget, EBADF); its location is unset for
// anonymous files (memfd).
func xattrTarget(t *kernel.Task, a kernel.SyscallArgs, byFD, follow bool) (vfs.VirtualDentry, vfs.Inode, error) {
	if byFD {
		fd, err := getIOFD(t, a[0])
		if err != nil {
			return vfs.VirtualDentry{}, nil, err
		}
		defer fd.DecRef()
		if in := fd.Inode(); in != nil {
			return fd.VirtualDentry(), in, nil
		}
		return vfs.VirtualDentry{}, nil, unix.EOPNOTSUPP
	}
	path, err := copyInPath(t, a[0])
	if err != nil {
		return vfs.VirtualDentry{}, nil, err
	}
	vd, err := t.Lookup(kernel.AtFDCWD, path, follow)
	if err != nil {
		return vfs.VirtualDentry{}, nil, err
	}
	return vd, vd.Dentry.Inode(), nil
}

func xattrName(t *kernel.Task, addr uint64) (string, error) {
	name, err := t.CopyInString(addr, 255)
	if err == unix.ENAMETOOLONG {
		return "", unix.ERANGE
	}
	if err != nil {
		return "", err
	}
	if name == "" {
		return "", unix.ERANGE
	}
	if !strings.Contains(name, ".") {
		return "", unix.EOPNOTSUPP
	}
	return name, nil
}

// xattrAccess resolves the target and the name of an xattr call that reads (or removes)
// an attribute, and checks that the caller may.
func xattrAccess(t *kernel.Task, a kernel.SyscallArgs, byFD, follow, write bool) (vfs.Inode, string, error) {
	_, in, err := xattrTarget(t, a, byFD, follow)
	if err != nil {
		return nil, "", err
	}
	name, err := xattrName(t, a[1])
	if err != nil {
		return nil, "", err
	}
	if err := xattrPermission(t, in, name, write); err != nil {
		return nil, "", err
	}
	if !knownXattrPrefix(name) {
		return nil, "", unix.EOPNOTSUPP
	}
	return in, name, nil
}

func getxattr(t *kernel.Task, a kernel.SyscallArgs, byFD, follow bool) (uint64, error) {
	in, name, err := xattrAccess(t, a, byFD, follow, false)
	if err != nil {
		return 0, err
	}
	x, ok := in.(vfs.Xattrer)
	if !ok {
		return 0, unix.ENODATA
	}
	v, err := x.Getxattr(name)
	if err != nil {
		return 0, err
	}
	return copyOutSized(t, a[2], a[3], v)
}

func listxattr(t *kernel.Task, a kernel.SyscallArgs, byFD, follow bool) (uint64, error) {
	_, in, err := xattrTarget(t, a, byFD, follow)
	if err != nil {
		return 0, err
	}
	var names []string
	if x, ok := in.(vfs.Xattrer); ok {
		if names, err = x.Listxattr(); err != nil && err != unix.ENODATA && err != unix.EOPNOTSUPP {
			return 0, err
		}
	}
	var b []byte
	for _, n := range names {
		b = append(append(b, n...), 0)
	}
	return copyOutSized(t, a[1], a[2], b)
}

func setxattr(t *kernel.Task, a kernel.SyscallArgs, byFD, follow bool) (uint64, error) {
	vd, in, err := xattrTarget(t, a, byFD, follow)
	if err != nil {
		return 0, err
	}
	name, err := xattrName(t, a[1])
	if err != nil {
		return 0, err
	}
	if a[4]&^uint64(unix.XATTR_CREATE|unix.XATTR_REPLACE) != 0 {
		return 0, unix.EINVAL
	}
	if a[3] > 65536 {
		return 0, unix.E2BIG
	}
	v := make([]byte, a[3])
	if _, err := t.CopyIn(a[2], v); err != nil {
		return 0, unix.EFAULT
	}
	if err := xattrPermission(t, in, name, true); err != nil {
		return 0, err
	}
	if !knownXattrPrefix(name) {
		return 0, unix.EOPNOTSUPP
	}
	if name == xattrACLAccess || name == xattrACLDefault {
		return 0, setACL(t, vd, in, name, v)
	}
	if strings.HasPrefix(name, "system.") {
		return 0, unix.EOPNOTSUPP // no other system.* attribute is handled (Linux has no handler either)
	}
	x, ok := in.(vfs.Xattrer)
	if !ok {
		return 0, unix.EOPNOTSUPP
	}
	return 0, x.Setxattr(name, v, int(a[4]))
}

// Getxattr, Lgetxattr, Fgetxattr implement getxattr(2).
func Getxattr(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return getxattr(t, a, false, true)
}
func Lgetxattr(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return getxattr(t, a, false, false)
}
func Fgetxattr(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return getxattr(t, a, true, true)
}

// Listxattr, Llistxattr, Flistxattr implement listxattr(2).
func Listxattr(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return listxattr(t, a, false, true)
}
func Llistxattr(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return listxattr(t, a, false, false)
}
func Flistxattr(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return listxattr(t, a, true, true)
}

// Setxattr, Lsetxattr, Fsetxattr implement setxattr(2) (user.* on gofer files).
func Setxattr(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return setxattr(t, a, false, true)
}
func Lsetxattr(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return setxattr(t, a, false, false)
}
func Fsetxattr(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return setxattr(t, a, true, true)
}

// knownXattrPrefix reports whether name is in a namespace Linux has handlers for; others
// fail with EOPNOTSUPP after the permission check (xattr_resolve_name).
func knownXattrPrefix(name string) bool {
	for _, p := range []string{"user.", "trusted.", "security.", "system."} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// xattrPermission is Linux's xattr_permission: trusted.* needs CAP_SYS_ADMIN, user.*
// lives only on regular files and directories (and a sticky directory's belong to its
// owner), and the file's own permission decides the rest.
func xattrPermission(t *kernel.Task, in vfs.Inode, name string, write bool) error {
	a, err := in.Stat()
	if err != nil {
		return err
	}
	deny := unix.ENODATA
	if write {
		deny = unix.EPERM
	}
	switch {
	case strings.HasPrefix(name, "security."), strings.HasPrefix(name, "system."):
		return nil
	case strings.HasPrefix(name, "trusted."):
		if !capable(t, capSysAdmin) {
			return deny
		}
		return nil
	case strings.HasPrefix(name, "user."):
		typ := a.Type()
		if typ != unix.S_IFREG && typ != unix.S_IFDIR {
			return deny
		}
		c := t.Creds()
		if typ == unix.S_IFDIR && a.Mode&unix.S_ISVTX != 0 && write && c.FSUID != a.UID && c.FSUID != 0 {
			return unix.EPERM
		}
	}
	want := uint32(vfs.MayRead)
	if write {
		want = vfs.MayWrite
	}
	return vfs.CheckAccess(t.Creds(), a, want)
}
