package syscalls

// browserEntries are the syscalls browsers' own sandboxes need (issue 13).
func browserEntries() []entry {
	return []entry{
		partial(317, Seccomp, "u,u,x", "no SECCOMP_FILTER_FLAG_NEW_LISTENER (user notification) yet"),
	}
}
