package mm

import (
	"sort"

	"github.com/sbx-dev/sbx/platform"
)

// Which app ranges the platform address space maps.
//
// A VMA's memory-file range gets physical space only where it was touched (memfile.go), so
// the platform can map only those parts; the rest of the VMA is left unmapped there and its
// first access faults into the kernel (HandleFault), which touches the chunk and maps it.
// MM.mapped records what the platform maps, so that a fault outside it is told apart from a
// real access violation, and so that protection changes go only to mapped parts (the
// platforms' Protect wants mapped memory).

// span is an app address range [lo, hi).
type span struct{ lo, hi uint64 }

// spans is a sorted set of disjoint, non-adjacent spans.
type spans []span

// add inserts [lo, hi).
func (s *spans) add(lo, hi uint64) {
	if lo >= hi {
		return
	}
	old := *s
	i := sort.Search(len(old), func(i int) bool { return old[i].hi >= lo })
	j := i
	for j < len(old) && old[j].lo <= hi {
		lo, hi = min(lo, old[j].lo), max(hi, old[j].hi)
		j++
	}
	if i == j {
		old = append(old, span{})
		copy(old[i+1:], old[i:])
		old[i] = span{lo, hi}
		*s = old
		return
	}
	old[i] = span{lo, hi}
	*s = append(old[:i+1], old[j:]...)
}

// remove deletes [lo, hi).
func (s *spans) remove(lo, hi uint64) {
	if lo >= hi {
		return
	}
	old := *s
	i := sort.Search(len(old), func(i int) bool { return old[i].hi > lo })
	var keep []span
	j := i
	for ; j < len(old) && old[j].lo < hi; j++ {
		if old[j].lo < lo {
			keep = append(keep, span{old[j].lo, lo})
		}
		if old[j].hi > hi {
			keep = append(keep, span{hi, old[j].hi})
		}
	}
	if i == j {
		return
	}
	out := make(spans, 0, len(old)-(j-i)+len(keep))
	out = append(out, old[:i]...)
	out = append(out, keep...)
	out = append(out, old[j:]...)
	*s = out
}

// contains reports whether addr is in the set.
func (s spans) contains(addr uint64) bool {
	i := sort.Search(len(s), func(i int) bool { return s[i].hi > addr })
	return i < len(s) && s[i].lo <= addr
}

// within returns the parts of [lo, hi) in the set (in), or not in it (!in).
func (s spans) within(lo, hi uint64, in bool) []span {
	var out []span
	i := sort.Search(len(s), func(i int) bool { return s[i].hi > lo })
	pos := lo
	for ; i < len(s) && s[i].lo < hi && pos < hi; i++ {
		a, b := max(s[i].lo, lo), min(s[i].hi, hi)
		if !in && a > pos {
			out = append(out, span{pos, a})
		}
		if in {
			out = append(out, span{a, b})
		}
		pos = b
	}
	if !in && pos < hi {
		out = append(out, span{pos, hi})
	}
	return out
}

// mapRangeLocked maps the touched parts of [lo, hi) of v in the platform (replacing what
// was there) and records them. A lazy VMA's parts are mapped inaccessible but for pages
// already filled and mapped in this address space, or filled in the page cache: those get
// the VMA's protection. Nothing is mapped for a PROT_NONE VMA. Preconditions: m.mu held.
func (m *MM) mapRangeLocked(v *VMA, lo, hi uint64) error { return m.mapRange(v, lo, hi, true) }

// mapRange is mapRangeLocked; without prefill, page-cache pages another process filled are
// left to fault in unless the whole run is filled (fork: a child that execs at once would
// pay for protecting them, and every protected run is one more mapping its new stub
// builds). Preconditions: m.mu held.
func (m *MM) mapRange(v *VMA, lo, hi uint64, prefill bool) error {
	if v.Prot == 0 {
		return nil
	}
	if v.directMapped() {
		// A host file mapped straight (direct.go): mapped whole, never writable.
		if err := m.as.MapHostFile(lo, hi-lo, v.direct.fd, v.FileOff+int64(lo-v.Start), v.platformProt()); err != nil {
			return err
		}
		m.mapped.add(lo, hi)
		return nil
	}
	if v.host != nil {
		// A host file: mapped whole, its own pages.
		if err := m.as.MapHostFile(lo, hi-lo, v.hostFD, v.FileOff+int64(lo-v.Start), v.platformProt()); err != nil {
			return err
		}
		m.mapped.add(lo, hi)
		return nil
	}
	for _, r := range m.mf.runs(v.memOff+int64(lo-v.Start), int64(hi-lo)) {
		if r.phys < 0 {
			continue
		}
		a := v.Start + uint64(r.off-v.memOff)
		b := a + uint64(r.len)
		prot := v.platformProt()
		restore := false
		if l := v.lazy; l != nil {
			i, j := v.lazyPages(a, b)
			if l.entry != nil && l.allFilled(i, j) {
				l.mapped.setRange(i, j)
			} else {
				prot, restore = 0, true
			}
		}
		if err := m.as.MapFile(a, b-a, r.phys, prot); err != nil {
			return err
		}
		m.mapped.add(a, b)
		if restore {
			if err := m.protectRunsLocked(v, a, b, v.platformProt()); err != nil {
				return err
			}
			if v.lazy.entry != nil && prefill {
				if err := m.mapFilledLocked(v, a, b); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// ensureMappedLocked touches [lo, hi) of v and maps what the platform does not map yet.
// Preconditions: m.mu held.
func (m *MM) ensureMappedLocked(v *VMA, lo, hi uint64) error {
	if v.host != nil || v.directMapped() {
		lo, hi = v.Start, v.End
	} else if err := m.mf.touch(v.memOff+int64(lo-v.Start), int64(hi-lo)); err != nil {
		return err
	}
	for _, g := range m.mapped.within(lo, hi, false) {
		if err := m.mapRangeLocked(v, g.lo, g.hi); err != nil {
			return err
		}
	}
	return nil
}

// unmapRangeLocked removes [lo, hi) from the platform. Preconditions: m.mu held.
func (m *MM) unmapRangeLocked(lo, hi uint64) error {
	m.mapped.remove(lo, hi)
	return m.as.Unmap(lo, hi-lo)
}

// protectLocked gives the mapped parts of [lo, hi) prot in the platform. Preconditions: m.mu held.
func (m *MM) protectLocked(lo, hi uint64, prot platform.Prot) error {
	for _, s := range m.mapped.within(lo, hi, true) {
		if err := m.as.Protect(s.lo, s.hi-s.lo, prot); err != nil {
			return err
		}
	}
	return nil
}

// chunkAround returns the part of v in the same memory-file chunk as addr.
func (v *VMA) chunkAround(addr uint64) (uint64, uint64) {
	off := v.memOff + int64(addr-v.Start)
	c := off &^ (chunkSize - 1)
	lo, hi := v.Start, v.End
	if c > v.memOff {
		lo = v.Start + uint64(c-v.memOff)
	}
	if e := c + chunkSize - v.memOff; e < int64(v.End-v.Start) {
		hi = v.Start + uint64(e)
	}
	return lo, hi
}
