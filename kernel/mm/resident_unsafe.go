package mm

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// cachestat(2)'s structures (include/uapi/linux/mman.h).
type cachestatRange struct{ off, len uint64 }

type cachestat struct{ cache, dirty, writeback, evicted, recentlyEvicted uint64 }

// cachedPages returns how many pages of [off, off+n) of host file fd are in its page cache
// (for a memfd: hold data), with cachestat(2).
func cachedPages(fd int, off, n int64) (int64, error) {
	r := cachestatRange{uint64(off), uint64(n)}
	var cs cachestat
	_, _, e := unix.Syscall6(unix.SYS_CACHESTAT, uintptr(fd), uintptr(unsafe.Pointer(&r)), uintptr(unsafe.Pointer(&cs)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int64(cs.cache), nil
}
