package inet

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// getsockoptBytes reads an option of up to size bytes (TCP_INFO, TCP_CONGESTION, SO_LINGER).
func getsockoptBytes(fd, level, name, size int) ([]byte, error) {
	b := make([]byte, size)
	l := uint32(size)
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(name), uintptr(unsafe.Pointer(&b[0])),
		uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return nil, e
	}
	return b[:l], nil
}

// setsockoptBytes sets an option from raw bytes.
func setsockoptBytes(fd, level, name int, val []byte) error {
	if len(val) == 0 {
		return unix.EINVAL
	}
	_, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(name), uintptr(unsafe.Pointer(&val[0])),
		uintptr(len(val)), 0)
	if e != 0 {
		return e
	}
	return nil
}
