package kernel

import "golang.org/x/sys/unix"

// MemInfo is the sandbox's memory as /proc/meminfo and sysinfo(2) report it, in bytes: the
// sandbox is the machine, with the memory limit as its RAM (capped by the host's).
type MemInfo struct {
	// Cached is the page cache's clean file pages; Shmem the shared memory (tmpfs files,
	// shared anonymous memory, System V segments, memfds) that holds data.
	Total, Free, Available, Cached, Shmem, Used uint64
	SwapTotal, SwapFree                         uint64
}

// MemInfo returns the sandbox's memory figures.
func (k *Kernel) MemInfo() MemInfo {
	var si unix.Sysinfo_t
	unix.Sysinfo(&si)
	unit := uint64(si.Unit)
	hostTotal, hostFree := si.Totalram*unit, (si.Freeram+si.Bufferram)*unit
	mi := MemInfo{Total: hostTotal, SwapTotal: si.Totalswap * unit, SwapFree: si.Freeswap * unit}
	if k.MemoryLimit > 0 && uint64(k.MemoryLimit) < mi.Total {
		mi.Total = uint64(k.MemoryLimit)
		mi.SwapTotal, mi.SwapFree = 0, 0 // the limit counts memory, and nothing is swapped
	}
	if k.MemoryFile != nil {
		mi.Used = uint64(k.MemoryFile.Resident())
		mi.Cached = uint64(k.MemoryFile.PageCache().Resident())
		mi.Shmem = uint64(k.MemoryFile.Shmem())
	}
	mi.Free = min(mi.Total-min(mi.Total, mi.Used), hostFree)
	mi.Available = min(mi.Total, mi.Free+mi.Cached)
	return mi
}
