package syscalls

import (
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"golang.org/x/sys/unix"
)

// futex commands and flags (include/uapi/linux/futex.h).
const (
	futexWait, futexWake, futexRequeue, futexCmpRequeue, futexWakeOp = 0, 1, 3, 4, 5
	futexLockPI, futexUnlockPI, futexTrylockPI, futexWaitBitset      = 6, 7, 8, 9
	futexWakeBitset, futexWaitRequeuePI, futexLockPI2                = 10, 11, 13
	futexPrivateFlag, futexClockRealtime                             = 128, 256
)

// Futex implements futex(2): WAIT, WAKE, REQUEUE, CMP_REQUEUE, WAKE_OP, WAIT_BITSET,
// WAKE_BITSET and the PI locks (LOCK_PI, LOCK_PI2, TRYLOCK_PI, UNLOCK_PI). The requeue-PI
// pair is not offered (ENOSYS).
func Futex(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	addr, op, val := a[0], a[1], uint32(a[2])
	cmd := op &^ (futexPrivateFlag | futexClockRealtime)
	realtime := op&futexClockRealtime != 0
	// The timeout is read and checked first, for the commands that take one.
	var ts *unix.Timespec
	switch cmd {
	case futexWait, futexWaitBitset, futexLockPI, futexLockPI2, futexWaitRequeuePI:
		if a[3] != 0 {
			v, err := getTimespec(t, a[3])
			if err != nil {
				return 0, err
			}
			if v.Sec < 0 || v.Nsec < 0 || v.Nsec >= 1e9 {
				return 0, unix.EINVAL
			}
			ts = &v
		}
	}
	if realtime && cmd != futexWaitBitset && cmd != futexWaitRequeuePI && cmd != futexLockPI2 {
		return 0, unix.ENOSYS
	}
	k := t.Kernel()
	// absDeadline turns an absolute timeout on clock into a deadline.
	absDeadline := func(clock int32) time.Time {
		if ts == nil {
			return time.Time{}
		}
		now, _ := clockNow(t, clock)
		return time.Now().Add(time.Duration(ts.Nano() - now.Nano()))
	}
	switch cmd {
	case futexWakeOp: // the second count is passed in the timeout argument
		if addr%4 != 0 {
			return 0, unix.EINVAL
		}
		n, err := k.FutexWakeOp(t, addr, a[4], int(int32(val)), int(int32(a[3])), uint32(a[5]))
		return uint64(n), err
	case futexLockPI, futexLockPI2, futexTrylockPI:
		if addr%4 != 0 {
			return 0, unix.EINVAL
		}
		clock := int32(unix.CLOCK_REALTIME) // LOCK_PI's timeout is on CLOCK_REALTIME
		if cmd == futexLockPI2 && !realtime {
			clock = unix.CLOCK_MONOTONIC
		}
		return 0, t.FutexLockPI(addr, cmd == futexTrylockPI, absDeadline(clock))
	case futexUnlockPI:
		if addr%4 != 0 {
			return 0, unix.EINVAL
		}
		return 0, t.FutexUnlockPI(addr)
	}
	if addr%4 != 0 {
		return 0, unix.EINVAL
	}
	switch cmd {
	case futexWait, futexWaitBitset:
		bitset := uint32(0xffffffff)
		if cmd == futexWaitBitset {
			bitset = uint32(a[5])
			if bitset == 0 {
				return 0, unix.EINVAL
			}
		}
		var deadline time.Time
		if ts != nil {
			if cmd == futexWaitBitset {
				clock := int32(unix.CLOCK_MONOTONIC)
				if realtime {
					clock = unix.CLOCK_REALTIME
				}
				deadline = absDeadline(clock)
			} else {
				deadline = time.Now().Add(time.Duration(ts.Nano()))
			}
		}
		err := t.FutexWait(addr, val, bitset, deadline)
		if err == unix.EINTR && ts != nil {
			// A timed wait goes on by Linux's restart block: after a handler it is EINTR
			// even with SA_RESTART; with no handler to run it resumes.
			err = kernel.ErrInterruptedNoRestart
		}
		return 0, err
	case futexWake, futexWakeBitset:
		bitset := uint32(0xffffffff)
		if cmd == futexWakeBitset {
			bitset = uint32(a[5])
			if bitset == 0 {
				return 0, unix.EINVAL
			}
		}
		return uint64(k.FutexWake(t, addr, int(val), bitset)), nil
	case futexRequeue, futexCmpRequeue:
		// Both counts are ints: negative ones are EINVAL.
		if int32(val) < 0 || int32(a[3]) < 0 {
			return 0, unix.EINVAL
		}
		if cmd == futexRequeue {
			return uint64(k.FutexRequeue(t, addr, a[4], int(val), int(int32(a[3])))), nil
		}
		n, err := k.FutexCmpRequeue(t, addr, a[4], int(val), int(int32(a[3])), uint32(a[5]))
		return uint64(n), err
	}
	return 0, unix.ENOSYS
}
