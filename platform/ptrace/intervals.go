package ptrace

import (
	"sort"

	"github.com/sbx-dev/sbx/platform"
)

// mapping is one range of the memory file (or of a host file, when host is set) mapped in
// an address space.
type mapping struct {
	start, end uint64
	off        int64
	prot       platform.Prot
	host       *hostFile
}

// mappings is the current state of an address space, sorted and non-overlapping, with
// neighbours that continue each other (same file, protection, and contiguous offsets)
// merged, so a stub rebuilt from it makes one host mapping per range. Operations change it
// in place: a browser's address space holds thousands of mappings and changes them on
// every mmap, munmap and mprotect.
type mappings []mapping

func (ms mappings) find(addr uint64) int {
	return sort.Search(len(ms), func(i int) bool { return ms[i].end > addr })
}

// continues reports whether b starts where a ends, in the same file at the next offset,
// with the same protection.
func (a mapping) continues(b mapping) bool {
	return a.end == b.start && a.host == b.host && a.prot == b.prot && a.off+int64(a.end-a.start) == b.off
}

// splice replaces ms[i:j] with with.
func (ms mappings) splice(i, j int, with ...mapping) mappings {
	switch d := len(with) - (j - i); {
	case d > 0:
		ms = append(ms, with[:d]...) // grow; the tail is moved over it below
		copy(ms[j+d:], ms[j:len(ms)-d])
	case d < 0:
		copy(ms[j+d:], ms[j:])
		ms = ms[:len(ms)+d]
	}
	copy(ms[i:], with)
	return ms
}

// remove cuts [start, end) out, splitting mappings at the edges.
func (ms mappings) remove(start, end uint64) mappings {
	i := ms.find(start)
	j := i
	for j < len(ms) && ms[j].start < end {
		j++
	}
	if i == j {
		return ms
	}
	var keep [2]mapping
	n := 0
	if m := ms[i]; m.start < start {
		keep[n] = mapping{m.start, start, m.off, m.prot, m.host}
		n++
	}
	if m := ms[j-1]; m.end > end {
		keep[n] = mapping{end, m.end, m.off + int64(end-m.start), m.prot, m.host}
		n++
	}
	return ms.splice(i, j, keep[:n]...)
}

// insert adds m, replacing whatever overlapped it, merged with the neighbours it
// continues.
func (ms mappings) insert(m mapping) mappings {
	ms = ms.remove(m.start, m.end)
	i := ms.find(m.start)
	lo, hi := i, i
	if i > 0 && ms[i-1].continues(m) {
		lo = i - 1
		m = mapping{ms[lo].start, m.end, ms[lo].off, m.prot, m.host}
	}
	if i < len(ms) && m.continues(ms[i]) {
		hi = i + 1
		m.end = ms[i].end
	}
	return ms.splice(lo, hi, m)
}

// protect changes the protection of the mapped parts of [start, end).
func (ms mappings) protect(start, end uint64, prot platform.Prot) mappings {
	var pieces []mapping
	for i := ms.find(start); i < len(ms) && ms[i].start < end; i++ {
		m := ms[i]
		if m.prot == prot {
			continue
		}
		lo, hi := max(m.start, start), min(m.end, end)
		pieces = append(pieces, mapping{lo, hi, m.off + int64(lo-m.start), prot, m.host})
	}
	for _, p := range pieces {
		ms = ms.insert(p)
	}
	return ms
}

// widens reports whether giving [start, end) the protection prot only adds permissions:
// then other threads need not be stopped for it (they fault, and catch up, if they touch
// the range before they sync).
func (ms mappings) widens(start, end uint64, prot platform.Prot) bool {
	for i := ms.find(start); i < len(ms) && ms[i].start < end; i++ {
		if ms[i].prot&^prot != 0 {
			return false
		}
	}
	return true
}

// intersects reports whether any mapping overlaps [start, end).
func (ms mappings) intersects(start, end uint64) bool {
	i := ms.find(start)
	return i < len(ms) && ms[i].start < end
}

// covers reports whether the mappings leave no hole in [start, end).
func (ms mappings) covers(start, end uint64) bool {
	for i := ms.find(start); start < end; i++ {
		if i >= len(ms) || ms[i].start > start {
			return false
		}
		start = ms[i].end
	}
	return true
}

// gapAround returns the largest range inside [lo, hi) around addr that no mapping
// overlaps. Preconditions: lo <= addr < hi and no mapping contains addr.
func (ms mappings) gapAround(addr, lo, hi uint64) (uint64, uint64) {
	i := ms.find(addr)
	if i < len(ms) {
		hi = min(hi, ms[i].start)
	}
	if i > 0 {
		lo = max(lo, ms[i-1].end)
	}
	return lo, hi
}

// span is a mapping that stands for a plain address range (a stub's present set): its
// offset is its address, so neighbours merge.
func span(start, end uint64) mapping {
	return mapping{start: start, end: end, off: int64(start)}
}
