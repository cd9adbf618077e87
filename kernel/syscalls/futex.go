package syscalls

import (
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"golang.org/x/sys/unix"
)

// Futex implements futex(2): WAIT, WAKE, REQUEUE, CMP_REQUEUE, WAKE_OP, WAIT_BITSET,
// WAKE_BITSET. The priority-inheritance operations are ENOSYS, which glibc takes as "no PI
// mutexes" (pthread_mutexattr_setprotocol fails with ENOTSUP).
func Futex(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	addr, op, val := a[0], a[1], uint32(a[2])
	cmd := op & 0x7f // strip FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME
	realtime := op&256 != 0
	if addr%4 != 0 {
		return 0, unix.EINVAL
	}
	k := t.Kernel()
	switch cmd {
	case 0, 9: // FUTEX_WAIT, FUTEX_WAIT_BITSET
		bitset := uint32(0xffffffff)
		if cmd == 9 {
			bitset = uint32(a[5])
			if bitset == 0 {
				return 0, unix.EINVAL
			}
		}
		var deadline time.Time
		if a[3] != 0 {
			ts, err := getTimespec(t, a[3])
			if err != nil {
				return 0, err
			}
			if ts.Sec < 0 || ts.Nsec < 0 || ts.Nsec >= 1e9 {
				return 0, unix.EINVAL
			}
			if cmd == 9 {
				clock := int32(unix.CLOCK_MONOTONIC)
				if realtime {
					clock = unix.CLOCK_REALTIME
				}
				now, _ := clockNow(t, clock)
				deadline = time.Now().Add(time.Duration(ts.Nano() - now.Nano()))
			} else {
				deadline = time.Now().Add(time.Duration(ts.Nano()))
			}
		}
		err := t.FutexWait(addr, val, bitset, deadline)
		return 0, err
	case 1, 10: // FUTEX_WAKE, FUTEX_WAKE_BITSET
		bitset := uint32(0xffffffff)
		if cmd == 10 {
			bitset = uint32(a[5])
			if bitset == 0 {
				return 0, unix.EINVAL
			}
		}
		return uint64(k.FutexWake(t, addr, int(val), bitset)), nil
	case 3: // FUTEX_REQUEUE
		return uint64(k.FutexRequeue(t, addr, a[4], int(val), int(a[3]))), nil
	case 4: // FUTEX_CMP_REQUEUE
		n, err := k.FutexCmpRequeue(t, addr, a[4], int(val), int(a[3]), uint32(a[5]))
		return uint64(n), err
	case 5: // FUTEX_WAKE_OP: the second count is passed in the timeout argument
		n, err := k.FutexWakeOp(t, addr, a[4], int(int32(val)), int(int32(a[3])), uint32(a[5]))
		return uint64(n), err
	}
	return 0, unix.ENOSYS
}
