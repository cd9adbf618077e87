package syscalls

// confEntries are the calls added for conformance (issue 19): see conf.go.
func confEntries() []entry {
	return []entry{
		partial(103, Syslog, "d,x,d", "the kernel log is always empty"),
		sup(148, SchedRRGetInterval, "d,x"),
		partial(251, IoprioSet, "d,d,x", "priorities are remembered; I/O is not scheduled by them"),
		sup(252, IoprioGet, "d,d"),
		partial(197, Removexattr, "p,s", "user.* on host files; user.*, trusted.* and security.* on tmpfs"),
		partial(198, Lremovexattr, "p,s", "user.* on host files; user.*, trusted.* and security.* on tmpfs"),
		partial(199, Fremovexattr, "f,s", "user.* on host files; user.*, trusted.* and security.* on tmpfs"),
		partial(314, SchedSetattr, "d,x,x", "SCHED_OTHER, BATCH and IDLE with a nice value; real-time and deadline policies get EPERM"),
		sup(315, SchedGetattr, "d,x,d,x"),
		partial(237, Mbind, "x,d,d,x,d,x", "one NUMA node: policies are validated, memory is always on node 0"),
		partial(238, SetMempolicy, "d,x,d", "one NUMA node: policies are validated and remembered"),
		sup(239, GetMempolicy, "x,x,d,x,x"),
		partial(248, AddKey, "s,s,x,d,i", "key types user, logon and keyring"),
		partial(249, RequestKey, "s,s,s,i", "finds keys only: there is no request-key upcall, a missing key is ENOKEY"),
		partial(250, Keyctl, "i,x,x,x,x", "no request-key upcall (instantiation needs an authorization key: EPERM), no persistent keyrings, Diffie-Hellman, public-key operations or notifications (EOPNOTSUPP)"),
		partial(304, OpenByHandleAt, "f,x,o", "handles this kernel gave out, while their files are cached; others are stale"),
		partial(303, NameToHandleAt, "f,p,x,x,x", "tmpfs and host files export handles, any file with AT_HANDLE_FID; no AT_HANDLE_CONNECTABLE"),
	}
}
