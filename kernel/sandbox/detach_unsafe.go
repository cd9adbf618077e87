package sandbox

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cloneDetach (detach_amd64.s) starts a process that shares this one's memory and
// detaches the mount at path (umount2 MNT_DETACH), then exits with the errno.
//
//go:noescape
func cloneDetach(stackTop uintptr, path *byte, mask *uint64) (pid uintptr, errno uintptr)

// detachAsync detaches the mount stacked at path, the host root pivot_root left on top of
// the kernel's new root, in a helper process, and returns a function that waits for it.
//
// Why: umount2 returns only after an RCU grace period (the kernel frees the detached mounts
// once no path walk can still see them): 0.1–0.5 ms on a quiet machine, several on a
// loaded one. The mounts are out of the namespace before that wait, but this process
// cannot know when, so it may not use untrusted input (the gofer's replies, the app) before
// wait returns; its own set-up (read-only root, capabilities, seccomp, its kernel, its
// first stub) overlaps the wait instead of following it.
//
// The helper shares the kernel's memory (no page tables copied) but is no thread of its
// Go runtime: it runs a few instructions of assembly on a stack of its own with every
// signal blocked, and holds the capabilities the kernel had when it was started (dropped
// from the kernel's threads meanwhile) only until it exits, right after the umount2. It is
// in the kernel's PID namespace, so it dies with the kernel.
func detachAsync(path string) (wait func() error, err error) {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return nil, err
	}
	stack := make([]uint64, 512)
	mask := ^uint64(0)
	top := uintptr(unsafe.Pointer(&stack[len(stack)-2]))
	pid, errno := cloneDetach(top, p, &mask)
	if errno != 0 {
		return nil, fmt.Errorf("starting the helper that detaches the host root: %w", unix.Errno(errno))
	}
	return func() error {
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(int(pid), &ws, 0, nil)
			if err == unix.EINTR {
				continue
			}
			runtime.KeepAlive(p)
			runtime.KeepAlive(stack)
			runtime.KeepAlive(&mask)
			if err != nil {
				return fmt.Errorf("waiting for the host root to be detached: %w", err)
			}
			break
		}
		switch {
		case ws.Exited() && ws.ExitStatus() == 0:
			return nil
		case ws.Exited():
			return fmt.Errorf("detaching the host root: %w", unix.Errno(ws.ExitStatus()))
		}
		return errors.New("detaching the host root: the helper was killed")
	}, nil
}
