package syscalls

import "golang.org/x/sys/unix"

// browserEntries are the syscalls browsers' own sandboxes need (issue 13).
func browserEntries() []entry {
	return []entry{
		partial(161, Chroot, "p", "paths in /proc (fd, cwd, root links) are shown from the sandbox root, not the chroot"),
		partial(272, Unshare, "x", "namespaces live in the kernel: a new network namespace has an up loopback (Linux: down)"),
		sup(170, Sethostname, "s,d"), sup(171, Setdomainname, "s,d"),
		partial(308, Setns, "i,x", "descriptors of /proc/PID/ns files; pidfds are refused (EINVAL)"),
		sup(310, ProcessVMReadv, "i,x,d,x,d,d"), sup(311, ProcessVMWritev, "i,x,d,x,d,d"),
		sup(329, PkeyMprotect, "x,d,x,i"), sup(330, PkeyAlloc, "x,x"), sup(331, PkeyFree, "i"),
		refuse(444, unix.EOPNOTSUPP, "as a kernel with Landlock disabled at boot"),
		refuse(445, unix.EOPNOTSUPP, "as a kernel with Landlock disabled at boot"),
		refuse(446, unix.EOPNOTSUPP, "as a kernel with Landlock disabled at boot"),
		partial(317, Seccomp, "u,u,x", "TRACE acts as without a tracer"),
	}
}
