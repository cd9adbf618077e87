package syscalls

// procEntries are the process calls added by the process/signal conformance sweep
// (pidfd.go).
func procEntries() []entry {
	return []entry{
		sup(438, PidfdGetfd, "f,i,x"),
	}
}
