package tmpfs

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// retireView replaces the kernel's mapping v of a host memfd, in place, with anonymous
// memory: the memfd no longer has that (writable, shared) mapping, which F_SEAL_WRITE
// requires and which would keep its pages alive, while a kernel copy racing with it still
// reads and writes mapped memory instead of faulting. The address range stays reserved.
func retireView(v []byte) {
	if len(v) == 0 {
		return
	}
	_, _ = unix.MmapPtr(-1, 0, unsafe.Pointer(&v[0]), uintptr(len(v)), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED|unix.MAP_NORESERVE)
}
