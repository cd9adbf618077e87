package syscalls

// mountEntries are mount(2), umount2(2) and pivot_root(2) inside the sandbox's VFS.
func mountEntries() []entry {
	return []entry{
		partial(165, Mount, "s,p,s,x,x", "the kernel's own filesystems (tmpfs, proc, sysfs, mqueue), binds, remounts, moves and propagation types; never a host mount; tmpfs size=/nr_inodes= enforced (pages first touched through a shared mapping are not charged)"),
		sup(166, Umount2, "p,x"),
		sup(155, PivotRoot, "p,p"),
	}
}
