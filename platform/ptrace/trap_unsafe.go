package ptrace

import (
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Implemented in trapstub_amd64.s.
func trapInitAddr() uintptr
func trapHandlerAddr() uintptr
func trapRestorerAddr() uintptr
func trapFastAddr() uintptr

// codeAt returns n bytes of the sbx binary's text at addr (the stub's code is copied from it).
func codeAt(addr uintptr, n int) []byte {
	// The text segment is never moved or freed: converting its address is safe.
	p := *(*unsafe.Pointer)(unsafe.Pointer(&addr))
	return unsafe.Slice((*byte)(p), n)
}

// word returns the 32-bit control word at off of a shared area, for atomic access.
func word(shm []byte, off int) *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Pointer(&shm[off]))
}

// futexWait sleeps while the control word at off of shm holds val, at most timeout.
func futexWait(shm []byte, off int, val uint32, timeout time.Duration) error {
	ts := unix.NsecToTimespec(int64(timeout))
	_, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(&shm[off])), 0 /* FUTEX_WAIT */, uintptr(val),
		uintptr(unsafe.Pointer(&ts)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// futexWake wakes the waiters on the control word at off of shm.
func futexWake(shm []byte, off int) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(&shm[off])), 1 /* FUTEX_WAKE */, 1, 0, 0, 0)
}

// probeSeccompAction asks the host whether seccomp supports a filter return action
// (SECCOMP_GET_ACTION_AVAIL).
func probeSeccompAction(action uint32) error {
	const seccompGetActionAvail = 2
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, seccompGetActionAvail, 0, uintptr(unsafe.Pointer(&action)))
	if e != 0 {
		return e
	}
	return nil
}
