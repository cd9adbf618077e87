package gofer

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

// DetachAsync detaches the mount stacked at path (the host root pivot_root(".", ".") left
// on top of a role's new root, path "."), in a helper process, and returns a function
// that waits for it. A role (the gofer, the kernel) calls it right after pivot_root.
//
// Why: umount2 returns only after an RCU grace period (Linux frees the detached mounts
// once no path walk can still see them): 0.1–0.5 ms on a quiet machine, 1–4 ms (up to 40)
// on a loaded one. The mounts are out of the namespace before that wait, but the role
// cannot know when, so it must not use untrusted input (requests, replies, the app)
// before wait returns; its own confinement (read-only root, Landlock, capabilities,
// seccomp) and set-up overlap the wait instead of following it.
//
// The helper shares the role's memory (no page tables copied) but is no thread of its Go
// runtime: it runs a few instructions of assembly on a stack of its own with every signal
// blocked, and holds the capabilities the role had when it was cloned (dropped from the
// role's threads meanwhile) only until it exits, right after the umount2. It is in the
// role's PID namespace, so it dies with the role. Its cwd is the caller's at the call.
func DetachAsync(path string) (wait func() error, err error) {
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
