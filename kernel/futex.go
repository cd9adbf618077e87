package kernel

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sbx-dev/sbx/kernel/abi"
	"golang.org/x/sys/unix"
)

// Futexes (futex(2), futex_waitv(2)). The table is sharded: a futex word's key hashes to
// one of futexBuckets buckets, each with its own lock, so unrelated futexes never contend.
//
// No bucket lock is held across a read of app memory (which can fault, and which Linux
// does under the hash-bucket lock only with page faults disabled). A wait is therefore:
//
//  1. enqueue the waiter on its key's bucket (lock, append, unlock);
//  2. read the word, with no lock held;
//  3. if it is not the expected value (or cannot be read), dequeue and fail with EAGAIN
//     (EFAULT) - unless a wake already took the waiter, which then returns woken;
//  4. else sleep until woken, interrupted or timed out, then dequeue.
//
// No wake-up is lost: a waker changes the word before it calls FUTEX_WAKE, which takes
// the bucket lock. If it takes the lock after step 1, it finds the waiter; if before, its
// change of the word happened before step 1's lock, so step 2 reads the new value and the
// waiter does not sleep. A waiter woken between steps 1 and 3 returns success (a wake-up
// a caller must allow for anyway) so the wake it consumed is not lost for another waiter.
//
// A wake takes woken waiters off the queue under the bucket lock. A requeue moves waiters
// to another key, possibly another bucket, holding both bucket locks (lower index first);
// a waiter that dequeues itself reads its current key, locks that bucket and checks the
// key again (it may have been requeued in between), as Linux's futex_q lock_ptr does.
//
// FUTEX_CMP_REQUEUE must compare the word and requeue as one step: Linux reads the word
// under both bucket locks (with page faults disabled). Reading it first and locking after
// would let this happen: the requeuer reads the expected value v; another thread changes
// the word to v+1 and wakes the key; a waiter enqueues expecting v+1, reads it and sleeps;
// the requeuer now moves that waiter to the second word, where the wake meant for it never
// comes (a lost wake-up, under e.g. an old glibc condvar broadcast). We cannot read under
// the lock, so the requeue only touches waiters whose own check was done before the word
// was read:
//
//  1. lock the key's bucket and note the waiters marked checked (a waiter marks itself,
//     with an atomic store, after its read of the word matched); unlock;
//  2. read the word, with no lock held: a mismatch is EAGAIN (a fault EFAULT);
//  3. lock both buckets and wake or move only noted waiters still on the key, in order.
//
// This is linearizable at the read in step 2. A noted waiter read its matching value before
// step 1, so it was queued and checked before the word held v: Linux would requeue it too.
// A waiter not noted may have read the word after step 2 (seeing a later value): it is left
// on the key, as if its wait began just after the requeue, which is also what it saw (the
// word held v or later when it read it). Waiters that left the queue between the steps are
// simply gone, as if they left before it. So no waiter is moved by a comparison with a
// value it never waited on, and none that Linux would leave is moved.
//
// Lock order: futexBucket.mu (lower index first) → nothing else.

// futexBuckets is the number of buckets (a power of two).
const futexBuckets = 128

// futexKey names a futex word: the address space and the address.
type futexKey struct {
	mm   any
	addr uint64
}

// bucket returns the index of k's bucket: the word's address mixed by a Fibonacci hash
// (shared words are keyed by their memory-file offset, which hashes the same way).
func (k futexKey) bucket() int {
	return int((k.addr >> 2) * 0x9e3779b97f4a7c15 >> (64 - 7))
}

// futexTable holds the tasks waiting on futex words, by bucket.
type futexTable struct {
	buckets [futexBuckets]futexBucket
}

type futexBucket struct {
	mu sync.Mutex
	// waiters holds the waiters of each key in this bucket, in arrival order.
	// protected by mu
	waiters map[futexKey][]*futexWaiter
	// Pad each bucket to its own cache line, so neighbouring locks do not share one.
	_ [48]byte
}

type futexWaiter struct {
	// key is the word waited on; it changes (under both buckets' locks) on a requeue.
	key atomic.Pointer[futexKey]
	t   *Task
	// bitset is FUTEX_WAIT_BITSET's mask (all ones for FUTEX_WAIT).
	bitset uint32
	// woken is set, under the bucket lock, by the wake that took the waiter off its queue.
	woken atomic.Bool
	// checked is set by the waiter once its read of the word matched: only such waiters
	// are moved or woken by FUTEX_CMP_REQUEUE (see the comment at the top).
	checked atomic.Bool
}

func newFutexWaiter(t *Task, key futexKey, bitset uint32) *futexWaiter {
	w := &futexWaiter{t: t, bitset: bitset}
	w.key.Store(&key)
	return w
}

func (ft *futexTable) bucketOf(k futexKey) *futexBucket { return &ft.buckets[k.bucket()] }

// enqueue puts w at the end of its key's queue.
func (ft *futexTable) enqueue(w *futexWaiter) {
	k := *w.key.Load()
	b := ft.bucketOf(k)
	b.mu.Lock()
	if b.waiters == nil {
		b.waiters = make(map[futexKey][]*futexWaiter)
	}
	b.waiters[k] = append(b.waiters[k], w)
	b.mu.Unlock()
}

// dequeue takes w off its queue unless a wake already did; it reports whether w was woken.
func (ft *futexTable) dequeue(w *futexWaiter) bool {
	for {
		kp := w.key.Load()
		b := ft.bucketOf(*kp)
		b.mu.Lock()
		if w.key.Load() != kp {
			// Requeued to another key while we locked the old one's bucket: try again.
			b.mu.Unlock()
			continue
		}
		woken := w.woken.Load()
		if !woken {
			b.removeLocked(*kp, w)
		}
		b.mu.Unlock()
		return woken
	}
}

// removeLocked takes w off k's queue. Preconditions: b.mu is held; k is in b.
func (b *futexBucket) removeLocked(k futexKey, w *futexWaiter) {
	ws := b.waiters[k]
	for i, o := range ws {
		if o == w {
			ws = append(ws[:i:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(b.waiters, k)
	} else {
		b.waiters[k] = ws
	}
}

// futexKeyFor names the futex word at addr: by its place in the memory file when the
// mapping is shared (so processes sharing the memory meet on it, as Linux's shared futexes
// do), else by address space and address.
func (t *Task) futexKeyFor(addr uint64) futexKey {
	m := t.MM()
	if off, ok := m.SharedOffset(addr); ok {
		return futexKey{m.MemoryFile(), uint64(off)}
	}
	return futexKey{m, addr}
}

// futexWord reads the 32-bit futex word at addr.
func (t *Task) futexWord(addr uint64) (uint32, error) {
	var cur [4]byte
	if _, err := t.CopyIn(addr, cur[:]); err != nil {
		return 0, unix.EFAULT
	}
	return abi.U32(cur[:]), nil
}

// FutexWait blocks while the word at addr holds val (FUTEX_WAIT).
func (t *Task) FutexWait(addr uint64, val uint32, bitset uint32, deadline time.Time) error {
	ft := &t.k.futexes
	t.noteWait(func() string { return fmt.Sprintf("futex %#x", addr) })
	w := newFutexWaiter(t, t.futexKeyFor(addr), bitset)
	ft.enqueue(w)
	cur, err := t.futexWord(addr)
	if err == nil && cur != val {
		err = unix.EAGAIN
	}
	if err != nil {
		if ft.dequeue(w) {
			return nil // a wake took us between the enqueue and the read
		}
		return err
	}
	w.checked.Store(true)
	for !w.woken.Load() {
		if err := t.sleep(nil, deadline); err != nil {
			if ft.dequeue(w) {
				return nil
			}
			return err
		}
	}
	return nil
}

// FutexWake wakes up to n waiters on addr whose bitset matches.
func (k *Kernel) FutexWake(t *Task, addr uint64, n int, bitset uint32) int {
	key := t.futexKeyFor(addr)
	b := k.futexes.bucketOf(key)
	var wake []*Task
	b.mu.Lock()
	ws := b.waiters[key]
	keep := ws[:0:0]
	for i, w := range ws {
		if len(wake) >= n {
			keep = append(keep, ws[i:]...)
			break
		}
		if w.bitset&bitset == 0 {
			keep = append(keep, w)
			continue
		}
		w.woken.Store(true)
		wake = append(wake, w.t)
	}
	if len(wake) > 0 {
		if len(keep) == 0 {
			delete(b.waiters, key)
		} else {
			b.waiters[key] = keep
		}
	}
	b.mu.Unlock()
	for _, t := range wake {
		t.wakeUp()
	}
	return len(wake)
}

func (k *Kernel) futexWake(t *Task, addr uint64, n int) { k.FutexWake(t, addr, n, ^uint32(0)) }

// FutexRequeue wakes n waiters on addr and moves up to requeue others to addr2
// (FUTEX_REQUEUE).
func (k *Kernel) FutexRequeue(t *Task, addr, addr2 uint64, n, requeue int) int {
	return k.futexRequeue(t.futexKeyFor(addr), t.futexKeyFor(addr2), n, requeue, nil)
}

// FutexCmpRequeue is FUTEX_CMP_REQUEUE: FutexRequeue if the word at addr holds val, else
// EAGAIN (EFAULT if it cannot be read). The comparison and the requeue act as one step
// without a lock held across the read (see the comment at the top).
func (k *Kernel) FutexCmpRequeue(t *Task, addr, addr2 uint64, n, requeue int, val uint32) (int, error) {
	key, key2 := t.futexKeyFor(addr), t.futexKeyFor(addr2)
	b := k.futexes.bucketOf(key)
	b.mu.Lock()
	var noted map[*futexWaiter]bool
	for _, w := range b.waiters[key] {
		if w.checked.Load() {
			if noted == nil {
				noted = make(map[*futexWaiter]bool)
			}
			noted[w] = true
		}
	}
	b.mu.Unlock()
	cur, err := t.futexWord(addr)
	if err != nil {
		return 0, err
	}
	if cur != val {
		return 0, unix.EAGAIN
	}
	if noted == nil {
		return 0, nil // no waiter had checked the word: none is Linux's to take
	}
	return k.futexRequeue(key, key2, n, requeue, noted), nil
}

// futexRequeue wakes n waiters on key and moves up to requeue others to key2, in queue
// order, considering only the waiters in only (all when only is nil); it returns how many
// it woke and moved.
func (k *Kernel) futexRequeue(key, key2 futexKey, n, requeue int, only map[*futexWaiter]bool) int {
	i, j := key.bucket(), key2.bucket()
	b, b2 := &k.futexes.buckets[i], &k.futexes.buckets[j]
	switch {
	case i < j:
		b.mu.Lock()
		b2.mu.Lock()
	case i > j:
		b2.mu.Lock()
		b.mu.Lock()
	default:
		b.mu.Lock()
	}
	var wake []*Task
	var keep, move []*futexWaiter
	stay := 0 // waiters requeued onto the same word
	for _, w := range b.waiters[key] {
		switch {
		case only != nil && !only[w]:
			keep = append(keep, w)
		case len(wake) < n:
			w.woken.Store(true)
			wake = append(wake, w.t)
		case key2 == key && stay < requeue:
			// Requeueing onto the same word leaves the waiter where it is.
			stay++
			keep = append(keep, w)
		case len(move) < requeue && key2 != key:
			move = append(move, w)
		default:
			keep = append(keep, w)
		}
	}
	if len(keep) == 0 {
		delete(b.waiters, key)
	} else {
		b.waiters[key] = keep
	}
	if len(move) > 0 {
		if b2.waiters == nil {
			b2.waiters = make(map[futexKey][]*futexWaiter)
		}
		kp := &key2
		for _, w := range move {
			w.key.Store(kp)
		}
		b2.waiters[key2] = append(b2.waiters[key2], move...)
	}
	b.mu.Unlock()
	if i != j {
		b2.mu.Unlock()
	}
	for _, t := range wake {
		t.wakeUp()
	}
	return len(wake) + len(move) + stay
}

// FutexWaitv blocks while every word addrs[i] holds vals[i] (futex_waitv(2)): EAGAIN at once
// if one differs, else the index of a futex woken by FUTEX_WAKE, ETIMEDOUT at the deadline
// (zero: none), or EINTR. The waiters are enqueued before the words are read, as FutexWait
// does; a wake that takes one in between is returned as its index, not lost.
func (t *Task) FutexWaitv(addrs []uint64, vals []uint32, deadline time.Time) (int, error) {
	t.noteWait(func() string { return fmt.Sprintf("futex_waitv %#x...", addrs[0]) })
	ft := &t.k.futexes
	ws := make([]*futexWaiter, len(addrs))
	for i, addr := range addrs {
		ws[i] = newFutexWaiter(t, t.futexKeyFor(addr), ^uint32(0))
		ft.enqueue(ws[i])
	}
	// finish dequeues every waiter and returns the index of the first woken one, or -1.
	finish := func() int {
		idx := -1
		for i, w := range ws {
			if ft.dequeue(w) && idx < 0 {
				idx = i
			}
		}
		return idx
	}
	for i, addr := range addrs {
		cur, err := t.futexWord(addr)
		if err == nil && cur != vals[i] {
			err = unix.EAGAIN
		}
		if err != nil {
			if idx := finish(); idx >= 0 {
				return idx, nil
			}
			return 0, err
		}
	}
	for _, w := range ws {
		w.checked.Store(true)
	}
	woken := func() bool {
		for _, w := range ws {
			if w.woken.Load() {
				return true
			}
		}
		return false
	}
	for !woken() {
		if err := t.sleep(nil, deadline); err != nil {
			if idx := finish(); idx >= 0 {
				return idx, nil
			}
			return 0, err
		}
	}
	return finish(), nil
}

// FUTEX_WAKE_OP's encoded operation (futex(2), linux/futex.h): op in bits 28-31 (bit 31 is
// FUTEX_OP_OPARG_SHIFT, "oparg is a shift count"), cmp in 24-27, oparg in 12-23 and cmparg
// in 0-11, both 12-bit signed.
const (
	futexOpSet  = 0 // *uaddr2 = oparg
	futexOpAdd  = 1 // *uaddr2 += oparg
	futexOpOr   = 2 // *uaddr2 |= oparg
	futexOpAndN = 3 // *uaddr2 &= ^oparg
	futexOpXor  = 4 // *uaddr2 ^= oparg

	futexOpOpargShift = 8
)

// FutexWakeOp is FUTEX_WAKE_OP: it applies the operation encoded in op to the word at
// addr2 atomically, wakes up to n waiters on addr and, when the word's old value passes
// the encoded comparison, up to n2 waiters on addr2; it returns how many it woke. As in
// Linux, a wake count below one still wakes one waiter, an unknown operation is ENOSYS
// before the word is touched and an unknown comparison ENOSYS after it; a word that is not
// mapped writable is EFAULT.
//
// The word changes before either queue is looked at, which is the order FUTEX_WAKE's
// argument at the top needs: a waiter on addr2 that enqueued before the wake is found, one
// that enqueued after it reads the new value.
func (k *Kernel) FutexWakeOp(t *Task, addr, addr2 uint64, n, n2 int, op uint32) (int, error) {
	if addr2%4 != 0 {
		return 0, unix.EINVAL
	}
	kind, cmp := (op>>28)&7, (op>>24)&15
	oparg := int32(op<<8) >> 20 // bits 12-23, sign-extended
	cmparg := int32(op<<20) >> 20
	if op&(futexOpOpargShift<<28) != 0 {
		// Linux masks a shift out of range (and logs that the program should be fixed).
		oparg = 1 << (uint32(oparg) & 31)
	}
	var apply func(uint32) uint32
	switch kind {
	case futexOpSet:
		apply = func(uint32) uint32 { return uint32(oparg) }
	case futexOpAdd:
		apply = func(v uint32) uint32 { return v + uint32(oparg) }
	case futexOpOr:
		apply = func(v uint32) uint32 { return v | uint32(oparg) }
	case futexOpAndN:
		apply = func(v uint32) uint32 { return v &^ uint32(oparg) }
	case futexOpXor:
		apply = func(v uint32) uint32 { return v ^ uint32(oparg) }
	default:
		return 0, unix.ENOSYS
	}
	bufs, err := t.MM().Ranges(addr2, 4, true)
	if err != nil || len(bufs) != 1 || len(bufs[0]) != 4 {
		return 0, unix.EFAULT
	}
	old := int32(rmwUint32(bufs[0], apply))
	var pass bool
	switch cmp {
	case 0: // FUTEX_OP_CMP_EQ
		pass = old == cmparg
	case 1: // FUTEX_OP_CMP_NE
		pass = old != cmparg
	case 2: // FUTEX_OP_CMP_LT
		pass = old < cmparg
	case 3: // FUTEX_OP_CMP_LE
		pass = old <= cmparg
	case 4: // FUTEX_OP_CMP_GT
		pass = old > cmparg
	case 5: // FUTEX_OP_CMP_GE
		pass = old >= cmparg
	default:
		return 0, unix.ENOSYS
	}
	woken := k.FutexWake(t, addr, max(n, 1), ^uint32(0))
	if pass {
		woken += k.FutexWake(t, addr2, max(n2, 1), ^uint32(0))
	}
	return woken, nil
}
