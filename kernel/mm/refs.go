package mm

import "sort"

// Reference counts of memory-file pages shared copy-on-write.
//
// A range handed out by Allocate has one owner. fork gives the child the parent's private
// ranges as they are (IncRef) instead of copies; the first write by either side to a shared
// page copies it (MM.breakCOWLocked) and drops that side's reference (DecRef); the last
// reference frees the page. Only ranges with more than one owner are recorded, as a sorted
// list of disjoint segments, so memory nobody shares costs nothing here.

// sref is a run of pages with refs (≥ 2) owners.
type sref struct {
	off, end int64
	refs     int32
}

// editRefsLocked applies f to the owner count of every page of [off, end) (1 where no
// segment says otherwise) and returns the parts whose new count is 0. Preconditions: m.mu held.
func (m *MemoryFile) editRefsLocked(off, end int64, f func(int32) int32) (freed []frange) {
	i := sort.Search(len(m.shared), func(i int) bool { return m.shared[i].end > off })
	out := make([]sref, 0, len(m.shared)+2)
	out = append(out, m.shared[:i]...)
	put := func(lo, hi int64, refs int32) {
		n := f(refs)
		switch {
		case n == 0:
			if k := len(freed) - 1; k >= 0 && freed[k].off+freed[k].len == lo {
				freed[k].len += hi - lo
			} else {
				freed = append(freed, frange{lo, hi - lo})
			}
		case n >= 2:
			out = append(out, sref{lo, hi, n})
		}
	}
	pos := off
	for ; i < len(m.shared) && m.shared[i].off < end; i++ {
		s := m.shared[i]
		if s.off < off {
			out = append(out, sref{s.off, off, s.refs})
		} else if s.off > pos {
			put(pos, s.off, 1)
		}
		lo, hi := max(s.off, off), min(s.end, end)
		put(lo, hi, s.refs)
		if s.end > end {
			out = append(out, sref{end, s.end, s.refs})
		}
		pos = hi
	}
	if pos < end {
		put(pos, end, 1)
	}
	out = append(out, m.shared[i:]...)
	// Join neighbours with equal counts.
	j := 0
	for _, s := range out {
		if j > 0 && out[j-1].end == s.off && out[j-1].refs == s.refs {
			out[j-1].end = s.end
			continue
		}
		out[j] = s
		j++
	}
	m.shared = out[:j]
	return freed
}

// IncRef adds an owner to every page of [off, off+length) (fork sharing a private range).
func (m *MemoryFile) IncRef(off, length int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.editRefsLocked(off, off+length, func(r int32) int32 { return r + 1 })
}

// DecRef drops an owner from every page of [off, off+length); pages left with none are freed.
func (m *MemoryFile) DecRef(off, length int64) {
	m.mu.Lock()
	freed := m.editRefsLocked(off, off+length, func(r int32) int32 { return r - 1 })
	m.mu.Unlock()
	for _, r := range freed {
		m.Free(r.off, r.len)
	}
}

// Exclusive reports whether every page of [off, off+length) has a single owner.
func (m *MemoryFile) Exclusive(off, length int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := sort.Search(len(m.shared), func(i int) bool { return m.shared[i].end > off })
	return i == len(m.shared) || m.shared[i].off >= off+length
}
