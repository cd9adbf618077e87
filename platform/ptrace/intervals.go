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

// mappings is the current state of an address space, sorted and non-overlapping.
type mappings []mapping

func (ms mappings) find(addr uint64) int {
	return sort.Search(len(ms), func(i int) bool { return ms[i].end > addr })
}

// remove cuts [start, end) out, splitting mappings at the edges.
func (ms mappings) remove(start, end uint64) mappings {
	i := ms.find(start)
	var out mappings
	out = append(out, ms[:i]...)
	for ; i < len(ms); i++ {
		m := ms[i]
		if m.start >= end {
			break
		}
		if m.start < start {
			out = append(out, mapping{m.start, start, m.off, m.prot, m.host})
		}
		if m.end > end {
			out = append(out, mapping{end, m.end, m.off + int64(end-m.start), m.prot, m.host})
		}
	}
	return append(out, ms[i:]...)
}

// insert adds m, replacing whatever overlapped it.
func (ms mappings) insert(m mapping) mappings {
	ms = ms.remove(m.start, m.end)
	i := ms.find(m.start)
	ms = append(ms, mapping{})
	copy(ms[i+1:], ms[i:])
	ms[i] = m
	return ms
}

// protect changes the protection of the mapped parts of [start, end).
func (ms mappings) protect(start, end uint64, prot platform.Prot) mappings {
	var pieces mappings
	for _, m := range ms {
		if m.end <= start || m.start >= end {
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
