package kernel

// Object returns the kernel's object for key (the IPC namespace's POSIX message queues, for
// one), made by mk the first time it is asked for. Syscall packages keep their per-sandbox
// state this way instead of in package variables, so two kernels in one process never share it.
func (k *Kernel) Object(key any, mk func() any) any {
	if v, ok := k.objects.Load(key); ok {
		return v
	}
	v, _ := k.objects.LoadOrStore(key, mk())
	return v
}
