package syscalls

// conf2Entries are more calls added for conformance (issue 19): POSIX message queues
// (mqueue.go) and futex_waitv (futexv.go).
func conf2Entries() []entry {
	return []entry{
		sup(240, MqOpen, "s,x,o,x"),
		sup(241, MqUnlink, "s"),
		sup(242, MqTimedsend, "f,x,d,d,x"),
		sup(243, MqTimedreceive, "f,x,d,x,x"),
		partial(244, MqNotify, "f,x", "SIGEV_SIGNAL and SIGEV_NONE; SIGEV_THREAD (glibc's netlink notification socket) gets EINVAL"),
		sup(245, MqGetsetattr, "f,x,x"),
		sup(449, FutexWaitv, "x,d,x,x,d"),
	}
}
