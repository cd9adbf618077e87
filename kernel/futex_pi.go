package kernel

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Priority-inheritance futexes (FUTEX_LOCK_PI, FUTEX_TRYLOCK_PI, FUTEX_UNLOCK_PI). The word
// holds the owner's TID, FUTEX_WAITERS while someone sleeps on it and FUTEX_OWNER_DIED
// after a robust owner died. The sandbox has no priorities to lend, so what is kept of
// Linux's protocol is the ownership: lockers queue in order, and an unlock by the owner
// hands the lock straight to the first of them (the word becomes its TID) rather than
// letting a newcomer take it; the word then keeps FUTEX_WAITERS, as on Linux.
//
// Lock order: futexPI.mu → nothing else. Lockers change the word without the lock (as
// user space does); an unlock changes it with compare-and-swap under the lock, so it
// never misses a waiter that queued before setting FUTEX_WAITERS.

// futexPI is the kernel's table of PI waiters.
type futexPI struct {
	mu      sync.Mutex
	waiters map[futexKey][]*piWaiter // protected by mu
}

// piWaiter is a task sleeping in FUTEX_LOCK_PI.
type piWaiter struct {
	t *Task
	// granted is set, under futexPI.mu, by the unlock that made the waiter the owner.
	granted atomic.Bool
}

// piWord returns the futex word at addr for atomic access (EFAULT if unmapped, EINVAL
// when misaligned).
func (t *Task) piWord(addr uint64) ([]byte, error) {
	if addr%4 != 0 {
		return nil, unix.EINVAL
	}
	bufs, err := t.MM().Ranges(addr, 4, true)
	if err != nil || len(bufs) != 1 || len(bufs[0]) != 4 {
		return nil, unix.EFAULT
	}
	return bufs[0], nil
}

func (p *futexPI) remove(key futexKey, w *piWaiter) bool {
	ws := p.waiters[key]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i:i], ws[i+1:]...)
			if len(ws) == 0 {
				delete(p.waiters, key)
			} else {
				p.waiters[key] = ws
			}
			return true
		}
	}
	return false
}

// FutexLockPI takes the PI futex at addr (FUTEX_LOCK_PI; FUTEX_TRYLOCK_PI when try):
// EDEADLK if the caller owns it, ESRCH if the TID in the word names no thread, EAGAIN
// for a trylock of a held lock, ETIMEDOUT at deadline (zero: none). A signal restarts it.
func (t *Task) FutexLockPI(addr uint64, try bool, deadline time.Time) error {
	p := &t.k.futexPI
	key := t.futexKeyFor(addr)
	tid := uint32(t.VisibleTID())
	for {
		buf, err := t.piWord(addr)
		if err != nil {
			return err
		}
		val := loadUint32(buf)
		owner := val & futexTIDMask
		if owner == 0 {
			// Free (perhaps after its owner died): take it, keeping FUTEX_OWNER_DIED for
			// user space to see and FUTEX_WAITERS while others still wait.
			nv := tid | val&(futexOwnerDied|futexWaiters)
			if casUint32(buf, val, nv) {
				return nil
			}
			continue
		}
		if owner == tid {
			return unix.EDEADLK
		}
		if o := t.TaskByTID(int32(owner)); o == nil || o.tg.Zombie() {
			return unix.ESRCH
		}
		if try {
			return unix.EAGAIN
		}
		w := &piWaiter{t: t}
		p.mu.Lock()
		if p.waiters == nil {
			p.waiters = make(map[futexKey][]*piWaiter)
		}
		p.waiters[key] = append(p.waiters[key], w)
		p.mu.Unlock()
		if val&futexWaiters == 0 && !casUint32(buf, val, val|futexWaiters) {
			// The word changed (an unlock, another waiter): look again.
			p.mu.Lock()
			removed := p.remove(key, w)
			p.mu.Unlock()
			if !removed {
				return nil // granted meanwhile
			}
			continue
		}
		t.noteWait(func() string { return fmt.Sprintf("futex_lock_pi %#x", addr) })
		for !w.granted.Load() {
			if err := t.sleep(nil, deadline); err != nil {
				p.mu.Lock()
				removed := p.remove(key, w)
				p.mu.Unlock()
				if !removed {
					return nil
				}
				if err == unix.EINTR {
					return ErrRestart // Linux restarts LOCK_PI after a handler (ERESTARTNOINTR)
				}
				return err
			}
		}
		return nil
	}
}

// FutexUnlockPI releases the PI futex at addr (FUTEX_UNLOCK_PI): EPERM unless the caller
// owns it. The first waiter, if any, becomes the owner.
func (t *Task) FutexUnlockPI(addr uint64) error {
	p := &t.k.futexPI
	key := t.futexKeyFor(addr)
	tid := uint32(t.VisibleTID())
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		buf, err := t.piWord(addr)
		if err != nil {
			return err
		}
		val := loadUint32(buf)
		if val&futexTIDMask != tid {
			return unix.EPERM
		}
		ws := p.waiters[key]
		nv := uint32(0)
		if len(ws) > 0 {
			// Linux's hand-over always leaves FUTEX_WAITERS set: the new owner's unlock
			// comes to the kernel, which finds out then whether anyone still waits.
			nv = uint32(ws[0].t.VisibleTID()) | futexWaiters
		}
		if !casUint32(buf, val, nv) {
			continue // a locker set FUTEX_WAITERS meanwhile
		}
		if len(ws) > 0 {
			w := ws[0]
			p.remove(key, w)
			w.granted.Store(true)
			w.t.wakeUp()
		}
		return nil
	}
}

// futexPIOwnerDied hands the PI futex at addr, which a dying robust owner left ownerless
// (FUTEX_OWNER_DIED set, TID zero), to its first waiter, as Linux's exit path does: the
// waiter returns owning it and sees FUTEX_OWNER_DIED.
func (t *Task) futexPIOwnerDied(addr uint64, buf []byte) {
	p := &t.k.futexPI
	key := t.futexKeyFor(addr)
	p.mu.Lock()
	defer p.mu.Unlock()
	for range 64 {
		val := loadUint32(buf)
		ws := p.waiters[key]
		if val&futexTIDMask != 0 || len(ws) == 0 {
			return
		}
		nv := uint32(ws[0].t.VisibleTID()) | val&futexOwnerDied | futexWaiters
		if casUint32(buf, val, nv) {
			w := ws[0]
			p.remove(key, w)
			w.granted.Store(true)
			w.t.wakeUp()
			return
		}
	}
}
