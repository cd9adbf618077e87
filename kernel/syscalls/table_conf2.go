package syscalls

// conf2Entries are more calls added for conformance (issue 19): POSIX message queues
// (mqueue.go), futex_waitv (futexv.go) and Linux AIO (aio.go).
func conf2Entries() []entry {
	return []entry{
		sup(240, MqOpen, "s,x,o,x"),
		sup(241, MqUnlink, "s"),
		sup(242, MqTimedsend, "f,x,d,d,x"),
		sup(243, MqTimedreceive, "f,x,d,x,x"),
		sup(244, MqNotify, "f,x"),
		sup(245, MqGetsetattr, "f,x,x"),
		sup(449, FutexWaitv, "x,d,x,x,d"),
		partial(206, IoSetup, "d,x", "the ring is mapped but never filled (its magic is zero): events come from io_getevents"),
		sup(207, IoDestroy, "x"),
		partial(208, IoGetevents, "x,d,d,x,x", "requests complete inside io_submit"),
		partial(209, IoSubmit, "x,d,x", "reads, writes (also vectored) and fsyncs run to completion inside io_submit; IOCB_CMD_POLL gets EINVAL"),
		partial(210, IoCancel, "x,x,x", "requests complete inside io_submit, so none can be cancelled (EINVAL)"),
	}
}
