package platform

// Placer is implemented by contexts whose platform chooses the CPU each context runs on by
// how the kernel's tasks wake each other (platform/ptrace/placement.go): a task woken by
// another, which then waits for it, runs fastest on the waker's CPU; tasks that both stay
// busy run fastest apart. The kernel tells such a context when its task blocks and when it
// is about to be woken; the platform decides.
//
// Threading: Sleep and Awake are called from the context's own goroutine, around each of
// the task's blocking waits (and while a prestarted context waits for its task). Waking
// may be called from any goroutine, just before it wakes the context's task; the platform
// learns the waker from the calling thread. A context that was released ignores them.
type Placer interface {
	Sleep()
	Awake()
	Waking()
}
