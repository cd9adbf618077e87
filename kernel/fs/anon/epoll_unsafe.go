package anon

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// setEpollData stores a 64-bit ID in epoll_event.data (x/sys splits it into Fd and Pad).
func setEpollData(ev *unix.EpollEvent, id uint64) {
	*(*uint64)(unsafe.Pointer(&ev.Fd)) = id
}

// epollData reads the ID back.
func epollData(ev *unix.EpollEvent) uint64 {
	return *(*uint64)(unsafe.Pointer(&ev.Fd))
}
