package kernel

// StateOf returns the *T this kernel keeps for a package, creating it with create on first
// use: the state a handler package (kernel/syscalls) keeps per sandbox lives on the Kernel
// and dies with it, so two kernels in one process share nothing (issue 10) and package
// variables stay immutable. The type T is the key: each package declares its own type.
// create may register exit hooks (OnProcessExit) to drop what an exited process left.
//
// Reads after the first are lock-free, so the syscall path takes no global lock.
func StateOf[T any](k *Kernel, create func(*Kernel) *T) *T {
	key := any((*T)(nil))
	if v, ok := k.state.Load(key); ok {
		return v.(*T)
	}
	k.stateMu.Lock()
	defer k.stateMu.Unlock()
	if v, ok := k.state.Load(key); ok {
		return v.(*T)
	}
	v := create(k)
	k.state.Store(key, v)
	return v
}
