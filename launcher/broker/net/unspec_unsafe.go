package net

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// connectUnspec dissolves a datagram socket's association or disconnects a TCP socket
// (connect with AF_UNSPEC), which x/sys/unix has no Sockaddr for.
func connectUnspec(fd int) error {
	var sa [16]byte // sa_family = AF_UNSPEC (0)
	_, _, e := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa[0])), uintptr(len(sa)))
	if e != 0 {
		return e
	}
	return nil
}
