package platform

import (
	"sync"

	"golang.org/x/sys/unix"
)

// Host processes forked from the kernel process. The ptrace and trap platforms start their
// stubs with fork and exec from the kernel process, so from the fork until the child's exec
// the child holds a copy of every host FD the kernel has open (close-on-exec ones are closed
// by the exec itself). A host file the kernel closes in that window is not released on the
// host when its close returns but when the child execs: a socket's peer sees the hang-up, a
// port is freed, a lock is dropped only then, after the app's close(2) has returned, where
// Linux releases the file before close returns. Platforms bracket every such start with
// Forking; the kernel closes the host FDs whose release the app can observe with
// CloseHostFD, which waits for the starts in flight.

// forks is held for reading by each start in flight (fork to exec stop) and taken for
// writing by CloseHostFD to wait for them.
var forks sync.RWMutex

// Forking marks the start of a host process forked from the kernel process; done must be
// called once the child has executed its program and its copies of the kernel's
// close-on-exec FDs are released (a traced child's exec stop: the host finishes closing a
// process's files, task work included, before the child stops). The caller must not call
// CloseHostFD before done.
func Forking() (done func()) {
	forks.RLock()
	return forks.RUnlock
}

// CloseHostFD closes fd, a host FD of the kernel's, and returns once no process the platform
// is starting still holds a copy of it, so that the host file is released when it returns
// (unless the kernel holds it under another FD).
func CloseHostFD(fd int) error {
	err := unix.Close(fd)
	forks.Lock()
	//lint:ignore SA2001 an empty critical section: waiting for the starts in flight is the point
	forks.Unlock()
	return err
}
