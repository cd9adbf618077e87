package host

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// retireView replaces the kernel's mapping v of a received host file, in place, with
// anonymous memory: the file loses that (writable, shared) mapping, which F_SEAL_WRITE
// requires, while a kernel copy racing with it still reads and writes mapped memory instead
// of faulting. The address range stays reserved.
func retireView(v []byte) {
	if len(v) == 0 {
		return
	}
	_, _ = unix.MmapPtr(-1, 0, unsafe.Pointer(&v[0]), uintptr(len(v)), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED|unix.MAP_NORESERVE)
}
