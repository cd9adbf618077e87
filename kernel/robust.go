package kernel

import (
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/mm"
)

// Robust futexes (set_robust_list(2), Documentation/locking/robust-futexes.rst): when a
// thread exits or execs, every futex on its robust list that it still owns gets
// FUTEX_OWNER_DIED, and one waiter is woken, so the next locker of a pthread robust mutex
// sees EOWNERDEAD instead of waiting forever.

const (
	futexWaiters    = 0x80000000
	futexOwnerDied  = 0x40000000
	futexTIDMask    = 0x3fffffff
	robustListLimit = 2048 // ROBUST_LIST_LIMIT: a cyclic list cannot keep the thread here
)

// exitRobustList walks the thread's robust list in m (struct robust_list_head: the list's
// next pointer, futex_offset, list_op_pending; bit 0 of a pointer marks a PI futex).
func (t *Task) exitRobustList(m *mm.MM) {
	head := t.robustList
	t.robustList = 0
	if head == 0 || m == nil {
		return
	}
	var b [abi.SizeofRobustListHead]byte
	if _, err := m.CopyIn(head, b[:]); err != nil {
		return
	}
	var h abi.RobustListHead
	h.Decode(b[:])
	entry, offset, pending := h.List, h.FutexOffset, h.ListOpPending
	pi, pendingPI := entry&1 != 0, pending&1 != 0
	entry, pending = entry&^1, pending&^1
	for limit := robustListLimit; entry != head && limit > 0; limit-- {
		var nb [8]byte
		_, err := m.CopyIn(entry, nb[:])
		next := abi.U64(nb[:]) // struct robust_list's only field, next
		if entry != pending {
			t.futexDied(m, entry+uint64(offset), pi, false)
		}
		if err != nil {
			return
		}
		entry, pi = next&^1, next&1 != 0
	}
	if pending != 0 {
		t.futexDied(m, pending+uint64(offset), pendingPI, true)
	}
}

// futexDied marks the futex word at addr as its owner's death requires (handle_futex_death).
func (t *Task) futexDied(m *mm.MM, addr uint64, pi, pendingOp bool) {
	if addr%4 != 0 {
		return
	}
	for range 64 { // the word may change under us: retry the compare-and-swap
		bufs, err := m.Ranges(addr, 4, true)
		if err != nil || len(bufs) != 1 || len(bufs[0]) != 4 {
			return
		}
		val := loadUint32(bufs[0])
		if pendingOp && !pi && val == 0 {
			// The thread died between taking the lock and adding it to the list, or
			// after unlocking: a waiter may sleep without an owner to wake it.
			t.k.FutexWake(t, addr, 1, ^uint32(0))
			return
		}
		if int32(val&futexTIDMask) != t.TID {
			return
		}
		nv := val&futexWaiters | futexOwnerDied
		if !casUint32(bufs[0], val, nv) {
			continue
		}
		if !pi && val&futexWaiters != 0 {
			t.k.FutexWake(t, addr, 1, ^uint32(0))
		}
		if pi && val&futexWaiters != 0 {
			t.futexPIOwnerDied(addr, bufs[0])
		}
		return
	}
}
