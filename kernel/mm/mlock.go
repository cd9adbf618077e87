package mm

import (
	"golang.org/x/sys/unix"
)

// Locked memory (mlock(2), mlockall(2)). The kernel never swaps app memory out itself, so
// locking is what the app can see of it: a locked mapping (VM_LOCKED) shows in VmLck, in
// smaps' Locked and "lo", counts against RLIMIT_MEMLOCK, is populated when locked (unless
// on fault), refuses msync(MS_INVALIDATE) with EBUSY, and is not locked in a fork's child.

// LockLimit is what bounds locking: RLIMIT_MEMLOCK's soft limit in bytes, and whether the
// caller holds CAP_IPC_LOCK (no bound).
type LockLimit struct {
	Bytes   uint64
	Capable bool
}

// canLock is Linux's can_do_mlock: EPERM for a caller with a zero limit and no capability.
func (l LockLimit) canLock() error {
	if l.Bytes == 0 && !l.Capable {
		return unix.EPERM
	}
	return nil
}

// lockedLocked returns the bytes of locked mappings. Preconditions: m.mu held.
func (m *MM) lockedLocked(lo, hi uint64) uint64 {
	var n uint64
	for _, v := range m.vmas {
		if v.locked && v.End > lo && v.Start < hi {
			n += min(hi, v.End) - max(lo, v.Start)
		}
	}
	return n
}

// Locked returns the bytes of locked mappings (VmLck).
func (m *MM) Locked() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lockedLocked(0, ^uint64(0))
}

// Lock implements mlock(2) and mlock2(2) (lock, onFault: MLOCK_ONFAULT) and munlock(2)
// on the pages of [addr, addr+length).
func (m *MM) Lock(addr, length uint64, lock, onFault bool, l LockLimit) error {
	if lock {
		if err := l.canLock(); err != nil {
			return err
		}
	}
	start := addr &^ (PageSize - 1)
	end := pageUp(addr + length)
	if end < start || addr+length < addr {
		return unix.EINVAL
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if lock && !l.Capable {
		if m.lockedLocked(0, ^uint64(0))+(end-start)-m.lockedLocked(start, end) > l.Bytes {
			return unix.ENOMEM
		}
	}
	if end == start {
		return nil
	}
	return m.setLockLocked(start, end, lock, onFault)
}

// setLockLocked locks or unlocks the mappings of [start, end), up to the first hole
// (ENOMEM, as Linux's apply_vma_lock_flags), and populates what it locked unless onFault.
// Preconditions: m.mu held.
func (m *MM) setLockLocked(start, end uint64, lock, onFault bool) error {
	var err error
	for a := start; a < end; {
		v := m.vmaAtLocked(a)
		if v == nil {
			if a == start {
				return unix.ENOMEM
			}
			end, err = a, unix.ENOMEM
			break
		}
		a = v.End
	}
	m.splitLocked(start)
	m.splitLocked(end)
	for i := m.findLocked(start); i < len(m.vmas) && m.vmas[i].Start < end; i++ {
		v := m.vmas[i]
		v.locked, v.lockOnFault = lock, lock && onFault
		if lock && !onFault {
			m.populateLocked(v)
		}
	}
	m.mergeLocked()
	return err
}

// populateLocked brings v's pages in (Linux's populate_vma_page_range): memory of its own
// is allocated, a file mapping filled. Mappings without access are left alone.
// Preconditions: m.mu held.
func (m *MM) populateLocked(v *VMA) {
	if v.Prot == 0 || v.host != nil || v.directMapped() {
		return
	}
	if v.lazy != nil {
		_ = m.fillLocked(v, v.Start, v.End)
		return
	}
	bufs, err := m.mf.Slices(v.memOff, int64(v.End-v.Start))
	if err != nil {
		return
	}
	for _, b := range bufs {
		// A read fault on the memfd gives the page memory (shmem keeps no zero page).
		_ = unix.Madvise(b, unix.MADV_POPULATE_READ)
	}
}

// LockAll implements mlockall(2): current locks every mapping now, future every mapping
// made later, onFault (MCL_ONFAULT) without populating them.
func (m *MM) LockAll(current, future, onFault bool, l LockLimit) error {
	if err := l.canLock(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if current && !l.Capable {
		var total uint64
		for _, v := range m.vmas {
			total += v.End - v.Start
		}
		if total > l.Bytes {
			return unix.ENOMEM
		}
	}
	m.lockFuture, m.lockFutureOnFault = future, future && onFault
	if !current || len(m.vmas) == 0 {
		return nil
	}
	return m.setLockLocked(m.vmas[0].Start, m.vmas[len(m.vmas)-1].End, true, onFault)
}

// UnlockAll implements munlockall(2).
func (m *MM) UnlockAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lockFuture, m.lockFutureOnFault = false, false
	for _, v := range m.vmas {
		v.locked, v.lockOnFault = false, false
	}
	m.mergeLocked()
}
