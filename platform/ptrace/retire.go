package ptrace

// Retired memory (platform.Retirer). A stub catches up with its address space's changes
// only when it next stops, so a page the kernel replaced under running threads (a patched
// code page) may still be mapped, and run, by other stubs for a while: its release waits
// until every live stub has applied the operations made before it was retired.

// retiredMem is a release waiting for every stub to reach seq.
type retiredMem struct {
	seq     uint64
	release func()
}

// Retire implements platform.Retirer.
func (as *addressSpace) Retire(release func()) {
	as.mu.Lock()
	defer as.mu.Unlock()
	if as.released {
		release() // its stubs are gone
		return
	}
	as.retired = append(as.retired, retiredMem{as.seq, release})
	as.releaseRetiredLocked()
}

// releaseRetiredLocked runs the releases every live stub has caught up with.
// Preconditions: as.mu held.
func (as *addressSpace) releaseRetiredLocked() {
	if len(as.retired) == 0 {
		return
	}
	low := as.seq
	for s := range as.stubs {
		if !s.dead && s.applied < low {
			low = s.applied
		}
	}
	n := 0
	for _, r := range as.retired {
		if r.seq <= low {
			r.release()
		} else {
			as.retired[n] = r
			n++
		}
	}
	clear(as.retired[n:])
	as.retired = as.retired[:n]
}

// releaseAllRetired runs every pending release (the address space's stubs are gone).
func (as *addressSpace) releaseAllRetired() {
	as.mu.Lock()
	retired := as.retired
	as.retired = nil
	as.mu.Unlock()
	for _, r := range retired {
		r.release()
	}
}
