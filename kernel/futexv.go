package kernel

import (
	"encoding/binary"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// FutexWaitv blocks while every word addrs[i] holds vals[i] (futex_waitv(2)): EAGAIN at once
// if one differs, else the index of a futex woken by FUTEX_WAKE, ETIMEDOUT at the deadline
// (zero: none), or EINTR.
func (t *Task) FutexWaitv(addrs []uint64, vals []uint32, deadline time.Time) (int, error) {
	t.noteWait(func() string { return fmt.Sprintf("futex_waitv %#x...", addrs[0]) })
	futexes := &t.k.futexes
	ws := make([]*futexWaiter, len(addrs))
	futexes.mu.Lock()
	for i, addr := range addrs {
		var cur [4]byte
		if _, err := t.CopyIn(addr, cur[:]); err != nil {
			futexes.mu.Unlock()
			return 0, unix.EFAULT
		}
		if binary.LittleEndian.Uint32(cur[:]) != vals[i] {
			futexes.mu.Unlock()
			return 0, unix.EAGAIN
		}
		ws[i] = &futexWaiter{key: t.futexKeyFor(addr), t: t, bitset: ^uint32(0)}
	}
	for _, w := range ws {
		futexes.waiters[w.key] = append(futexes.waiters[w.key], w)
	}
	futexes.mu.Unlock()
	// woken returns the index of a woken waiter, or -1; it takes every waiter off its queue
	// when done is set. Locks: futexes.mu held.
	woken := func(done bool) int {
		idx := -1
		for i, w := range ws {
			if w.woken && idx < 0 {
				idx = i
			}
			if !done {
				continue
			}
			q := futexes.waiters[w.key]
			for j, o := range q {
				if o == w {
					futexes.waiters[w.key] = append(q[:j], q[j+1:]...)
					break
				}
			}
			if len(futexes.waiters[w.key]) == 0 {
				delete(futexes.waiters, w.key)
			}
		}
		return idx
	}
	for {
		futexes.mu.Lock()
		if i := woken(false); i >= 0 {
			woken(true)
			futexes.mu.Unlock()
			return i, nil
		}
		futexes.mu.Unlock()
		if err := t.sleep(nil, deadline); err != nil {
			futexes.mu.Lock()
			i := woken(true)
			futexes.mu.Unlock()
			if i >= 0 {
				return i, nil
			}
			return 0, err
		}
	}
}
