package mm

import (
	"sync/atomic"
	"time"

	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// RSS is an address space's resident memory by kind, in bytes, as /proc/PID/status counts
// it: pages that hold data in the memory file (holes cost nothing and are not counted).
// Pages shared copy-on-write after fork count in every address space that maps them.
type RSS struct {
	Anon, File, Shmem uint64
}

// Total is VmRSS.
func (r RSS) Total() uint64 { return r.Anon + r.File + r.Shmem }

// Resident returns m's resident memory.
func (m *MM) Resident() RSS {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.residentLocked(m.vmas)
}

// residentLocked returns the resident memory of vmas. Preconditions: m.mu held.
func (m *MM) residentLocked(vmas []*VMA) RSS {
	var r RSS
	for _, v := range vmas {
		x := m.vmaResidentLocked(v)
		r.Anon, r.File, r.Shmem = r.Anon+x.Anon, r.File+x.File, r.Shmem+x.Shmem
	}
	return r
}

// vmaResidentLocked returns v's resident memory. Preconditions: m.mu held.
func (m *MM) vmaResidentLocked(v *VMA) RSS {
	if v.directMapped() {
		return RSS{File: v.directRSS()} // the host file's pages
	}
	if v.host != nil {
		// A host-backed file (a memfd) or a received one: its pages are the host file's.
		return RSS{Shmem: uint64(seekDataBytes(v.hostFD, v.FileOff, int64(v.End-v.Start)))}
	}
	_, hostFile := v.Source.(SyncSource)
	if v.Shared && !hostFile {
		// Pages other processes sharing the memory filled count here only where this
		// address space maps them (it faulted there, or they were filled when it mapped
		// them), as Linux counts the pages in a process's page tables: a process that
		// maps shared memory others fill is not the one the OOM killer should choose.
		var n int64
		for _, s := range m.mapped.within(v.Start, v.End, true) {
			n += m.mf.dataBytes(v.memOff+int64(s.lo-v.Start), int64(s.hi-s.lo))
		}
		return RSS{Shmem: uint64(n)}
	}
	n := uint64(m.mf.dataBytes(v.memOff, int64(v.End-v.Start)))
	switch {
	case v.direct != nil:
		return RSS{Anon: n} // copies of a private file mapping's pages, as Linux's COW pages
	case v.Source != nil:
		return RSS{File: n}
	default:
		return RSS{Anon: n}
	}
}

// Stats are an address space's sizes as /proc/PID/status reports them, in bytes.
type Stats struct {
	Size, Data, Stack, Exec uint64 // VmSize, VmData, VmStk, and mapped executable code
	RSS                     RSS
	// Peak and HWM are VmPeak and VmHWM: the largest Size and RSS.Total seen. The kernel
	// does not hear of pages the app fills (resident.go), so the high-water marks are kept
	// where it measures: every Stats call and every release of memory (Release).
	Peak, HWM uint64
	// Locked is VmLck: the size of locked mappings.
	Locked uint64
}

// Stats returns m's sizes.
func (m *MM) Stats() Stats {
	m.mu.Lock()
	var s Stats
	for _, v := range m.vmas {
		n := v.End - v.Start
		s.Size += n
		if v.locked {
			s.Locked += n
		}
		stack := v.GrowsDown || v.Name == "[stack]"
		switch {
		case stack:
			s.Stack += n
		case isData(v.Prot, v.Shared, false):
			s.Data += n
		case v.Prot&platform.ProtExec != 0:
			s.Exec += n
		}
	}
	m.mu.Unlock()
	s.RSS = m.Resident()
	s.Peak = raise(&m.peakSize, s.Size)
	s.HWM = raise(&m.peakRSS, s.RSS.Total())
	return s
}

// noteReleaseLocked keeps VmHWM before [lo, hi) is unmapped, as Linux's
// update_hiwater_rss does: when the range holds data, the resident set before the release
// may be the largest yet. Preconditions: m.mu held.
func (m *MM) noteReleaseLocked(lo, hi uint64) {
	i := m.findLocked(lo)
	j := i
	for j < len(m.vmas) && m.vmas[j].Start < hi {
		j++
	}
	if i < 0 || i >= j {
		return
	}
	d := m.residentLocked(m.vmas[i:j]).Total()
	if d == 0 {
		return
	}
	// Measuring the whole address space costs a pass over every mapping (and host calls
	// for partly filled ones): a release of less than an eighth of the last total measures
	// at most once per hwmInterval, so a process unmapping many small ranges (a browser's
	// allocators) pays once, not per munmap. The mark can then miss growth made and
	// released in small pieces within one interval.
	now := time.Now()
	if d < m.hwmRSS/8 && now.Sub(m.hwmAt) < hwmInterval {
		return
	}
	m.hwmRSS, m.hwmAt = m.residentLocked(m.vmas).Total(), now
	raise(&m.peakRSS, m.hwmRSS)
}

// hwmInterval bounds how often small releases measure the whole resident set.
const hwmInterval = 20 * time.Millisecond

// raise makes *p at least v and returns it.
func raise(p *atomic.Uint64, v uint64) uint64 {
	for {
		old := p.Load()
		if old >= v {
			return old
		}
		if p.CompareAndSwap(old, v) {
			return v
		}
	}
}

// Span returns the lowest and highest mapped addresses (smaps_rollup's range).
func (m *MM) Span() (lo, hi uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.vmas) == 0 {
		return 0, 0
	}
	return m.vmas[0].Start, m.vmas[len(m.vmas)-1].End
}

// Overcommit, as Linux's default heuristic mode (vm.overcommit_memory = 0) does it: memory
// that could need fresh pages (private and writable) may be promised freely, except a
// single request larger than the machine's RAM and swap together, which fails at once.
// MAP_NORESERVE mappings and memory that cannot be written are not counted; making memory
// writable later (mprotect) is checked the same way.

// accountable reports whether memory with prot counts against overcommit.
func accountable(prot platform.Prot, shared bool) bool {
	return prot&platform.ProtWrite != 0 && !shared
}

// enoughMemory reports whether a request of length bytes passes the heuristic.
func enoughMemory(length uint64) bool {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return true
	}
	return length <= (si.Totalram+si.Totalswap)*uint64(si.Unit)
}
