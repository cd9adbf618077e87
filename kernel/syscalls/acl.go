package syscalls

import (
	"encoding/binary"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// POSIX ACLs as extended attributes (acl(5); the format is include/uapi/linux/posix_acl_xattr.h).
// sbx's filesystems keep no ACLs of their own, like a filesystem mounted without ACL
// support, except that an access ACL equivalent to the mode bits is what Linux turns it
// into, a chmod: that is what sed -i, cp -p and install set on every file they write.
const (
	xattrACLAccess  = "system.posix_acl_access"
	xattrACLDefault = "system.posix_acl_default"

	aclXattrVersion = 2

	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclGroup    = 0x08
	aclMask     = 0x10
	aclOther    = 0x20
)

type aclEntry struct {
	tag, perm uint16
	id        uint32
}

// parseACL decodes an ACL xattr value; nil means no ACL (an empty value or no entries).
func parseACL(v []byte) ([]aclEntry, error) {
	if len(v) == 0 {
		return nil, nil
	}
	if len(v) < 4 {
		return nil, unix.EINVAL
	}
	if binary.LittleEndian.Uint32(v) != aclXattrVersion {
		return nil, unix.EOPNOTSUPP
	}
	if (len(v)-4)%8 != 0 {
		return nil, unix.EINVAL
	}
	var out []aclEntry
	for b := v[4:]; len(b) > 0; b = b[8:] {
		e := aclEntry{binary.LittleEndian.Uint16(b), binary.LittleEndian.Uint16(b[2:]), binary.LittleEndian.Uint32(b[4:])}
		switch e.tag {
		case aclUserObj, aclUser, aclGroupObj, aclGroup, aclMask, aclOther:
		default:
			return nil, unix.EINVAL
		}
		out = append(out, e)
	}
	return out, nil
}

// validACL checks the order Linux requires: the owner, named users, the owning group,
// named groups, the mask (required with named entries) and others, with rwx permissions.
func validACL(acl []aclEntry) error {
	const done = 0
	state, needsMask := uint16(aclUserObj), false
	for _, e := range acl {
		if e.perm&^7 != 0 {
			return unix.EINVAL
		}
		switch e.tag {
		case aclUserObj:
			if state != aclUserObj {
				return unix.EINVAL
			}
			state = aclUser
		case aclUser:
			if state != aclUser {
				return unix.EINVAL
			}
			needsMask = true
		case aclGroupObj:
			if state != aclUser {
				return unix.EINVAL
			}
			state = aclGroup
		case aclGroup:
			if state != aclGroup {
				return unix.EINVAL
			}
			needsMask = true
		case aclMask:
			if state != aclGroup {
				return unix.EINVAL
			}
			state = aclOther
		case aclOther:
			if state != aclOther && (state != aclGroup || needsMask) {
				return unix.EINVAL
			}
			state = done
		}
	}
	if state != done {
		return unix.EINVAL
	}
	return nil
}

// equivMode returns the permission bits an ACL stands for, and whether it has nothing
// beyond them (no named entries, no mask).
func equivMode(acl []aclEntry) (uint32, bool) {
	var mode uint32
	equiv := true
	for _, e := range acl {
		switch e.tag {
		case aclUserObj:
			mode |= uint32(e.perm) << 6
		case aclGroupObj:
			mode |= uint32(e.perm) << 3
		case aclOther:
			mode |= uint32(e.perm)
		default:
			equiv = false
		}
	}
	return mode, equiv
}

// setACL implements setxattr(2) of system.posix_acl_access and system.posix_acl_default.
func setACL(t *kernel.Task, vd vfs.VirtualDentry, in vfs.Inode, name string, v []byte) error {
	if vd.Ok() && vd.Mount.ReadOnly() {
		return unix.EROFS
	}
	acl, err := parseACL(v)
	if err != nil {
		return err
	}
	if acl != nil {
		if err := validACL(acl); err != nil {
			return err
		}
	}
	a, err := in.Stat()
	if err != nil {
		return err
	}
	if a.Type() == unix.S_IFLNK {
		return unix.EOPNOTSUPP
	}
	c := t.Creds()
	if c.FSUID != 0 && c.FSUID != a.UID {
		return unix.EPERM
	}
	if name == xattrACLDefault {
		switch {
		case acl == nil:
			return nil
		case !a.IsDir():
			return unix.EACCES
		}
		return unix.EOPNOTSUPP // no filesystem here keeps default ACLs
	}
	if acl == nil {
		return nil
	}
	bits, equiv := equivMode(acl)
	if !equiv {
		return unix.EOPNOTSUPP // extended ACLs are not kept
	}
	mode := a.Mode&0o7000 | bits
	if c.FSUID != 0 && !c.InGroup(a.GID) {
		mode &^= unix.S_ISGID
	}
	return in.SetAttr(vfs.SetAttr{Mode: &mode})
}
