package kernel

// SetSysvIPCRenderer registers what renders the rows of /proc/sysvipc/KIND ("shm", "sem",
// "msg") for an IPC namespace: the System V objects live in the syscalls package, which
// sets it; procfs asks SysvIPCTable.
func (k *Kernel) SetSysvIPCRenderer(f func(n *Namespace, kind string) string) {
	k.sysvIPCRender.Store(&f)
}

// SysvIPCTable renders the rows of /proc/sysvipc/KIND for IPC namespace n: none when no
// renderer is registered (no IPC object was ever made).
func (k *Kernel) SysvIPCTable(n *Namespace, kind string) string {
	if f := k.sysvIPCRender.Load(); f != nil {
		return (*f)(n, kind)
	}
	return ""
}
