package netproto

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// currentCPU is the CPU the calling thread runs on (-1: unknown). The kernel's task threads
// are pinned, so it is where the thread will wait for the reply.
func currentCPU() int {
	var cpu uint32
	if _, _, e := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), 0, 0); e != 0 {
		return -1
	}
	return int(cpu)
}
