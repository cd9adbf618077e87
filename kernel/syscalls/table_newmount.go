package syscalls

// newMountEntries are the new mount API's calls (newmount.go).
func newMountEntries() []entry {
	return []entry{
		partial(430, Fsopen, "s,u", "tmpfs, proc and mqueue, in the sandbox's own VFS; no messages to read (ENODATA)"),
		partial(431, Fsconfig, "f,u,s,s,i", "flags and strings (tmpfs's options, source, ro/rw); binary, path and fd values are EINVAL"),
		sup(432, Fsmount, "f,u,x"),
		partial(429, MoveMount, "f,p,f,p,x", "MOVE_MOUNT_SET_GROUP and MOVE_MOUNT_BENEATH are EINVAL"),
		sup(428, OpenTree, "f,p,x"),
		sup(433, Fspick, "f,p,x"),
		partial(442, MountSetattr, "f,p,x,x,u", "MOUNT_ATTR_IDMAP is EINVAL (no idmapped mounts); a read-only switch does not wait for writers (no EBUSY)"),
	}
}
