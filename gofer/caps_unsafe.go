package gofer

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DropAllCapabilities empties the bounding, ambient, effective, permitted and inheritable
// capability sets of every thread of the process (capabilities are per thread, and the Go
// runtime has started threads before the caller runs).
func DropAllCapabilities() error { return dropCapabilitiesExcept(0) }

// dropCapabilitiesExcept is DropAllCapabilities keeping the capabilities in the keep mask
// effective and permitted (the bounding set is emptied all the same: nothing is executed
// after it).
func dropCapabilitiesExcept(keep uint64) error {
	if err := DropBoundingSet(); err != nil {
		return err
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	data[0].Effective, data[0].Permitted = uint32(keep), uint32(keep)
	data[1].Effective, data[1].Permitted = uint32(keep>>32), uint32(keep>>32)
	// The inheritable set becomes empty, which empties the ambient set too (Linux keeps
	// only ambient capabilities that stay permitted and inheritable): one call on every
	// thread, not two.
	if err := all(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	runtime.KeepAlive(&hdr)
	runtime.KeepAlive(&data)
	return nil
}

// DropBoundingSet empties the capability bounding set of every thread: no later execve can
// gain a capability. It leaves the current capabilities alone, so a role can call it first
// thing, while the Go runtime has few threads (each drop stops and signals all of them), and
// still mount what it needs before DropAllCapabilities. Only capabilities still in the set,
// up to the last the kernel knows (PR_CAPBSET_READ fails with EINVAL past it), are dropped.
func DropBoundingSet() error {
	for c := uintptr(0); c <= 63; c++ {
		in, _, e := syscall.RawSyscall(unix.SYS_PRCTL, unix.PR_CAPBSET_READ, c, 0)
		if e == unix.EINVAL {
			break
		}
		if e == 0 && in == 0 {
			continue
		}
		if err := all(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, c, 0); err != nil && err != unix.EINVAL {
			return fmt.Errorf("dropping capability %d: %w", c, err)
		}
	}
	return nil
}

// all makes a syscall on every thread of the process.
func all(trap, a1, a2, a3 uintptr) error {
	_, _, e := syscall.AllThreadsSyscall(trap, a1, a2, a3)
	if e == syscall.ENOTSUP {
		// Built with cgo (tests): only this thread can be changed; keep the caller on it.
		runtime.LockOSThread()
		_, _, e = syscall.RawSyscall(trap, a1, a2, a3)
	}
	if e != 0 {
		return e
	}
	return nil
}
