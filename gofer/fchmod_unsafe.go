package gofer

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// fchmodEmptyPath is fchmodat2(fd, "", mode, AT_EMPTY_PATH) (Linux 6.6); older hosts
// cannot change the mode of a file through an O_PATH FD and answer ENOENT (the name is gone).
func fchmodEmptyPath(fd int, mode uint32) error {
	empty := [1]byte{}
	_, _, e := unix.Syscall6(unix.SYS_FCHMODAT2, uintptr(fd), uintptr(unsafe.Pointer(&empty[0])), uintptr(mode), unix.AT_EMPTY_PATH, 0, 0)
	switch e {
	case 0:
		return nil
	case unix.ENOSYS:
		return unix.ENOENT
	}
	return e
}
