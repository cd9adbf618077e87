package syscalls

import (
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"golang.org/x/sys/unix"
)

// futex_waitv(2) limits and flags (include/uapi/linux/futex.h).
const (
	futexWaitvMax = 128
	futex2SizeU32 = 0x02
	futex2SizeMsk = 0x03
	futex2Private = 128
)

// FutexWaitv implements futex_waitv(2): wait on up to 128 32-bit futex words at once.
func FutexWaitv(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	addr, n, flags, tsAddr, clock := a[0], a[1], a[2], a[3], int32(a[4])
	if flags != 0 || n == 0 || n > futexWaitvMax || addr == 0 {
		return 0, unix.EINVAL
	}
	var deadline time.Time
	if tsAddr != 0 {
		if clock != unix.CLOCK_MONOTONIC && clock != unix.CLOCK_REALTIME {
			return 0, unix.EINVAL
		}
		ts, err := getTimespec(t, tsAddr)
		if err != nil {
			return 0, err
		}
		if ts.Sec < 0 || ts.Nsec < 0 || ts.Nsec >= 1e9 {
			return 0, unix.EINVAL
		}
		now, _ := clockNow(t, clock)
		deadline = time.Now().Add(time.Duration(ts.Nano() - now.Nano()))
	}
	raw := make([]byte, abi.SizeofFutexWaitv*n)
	if _, err := t.CopyIn(addr, raw); err != nil {
		return 0, unix.EFAULT
	}
	addrs, vals := make([]uint64, n), make([]uint32, n)
	for i := range addrs {
		var w abi.FutexWaitv
		w.Decode(raw[abi.SizeofFutexWaitv*i:])
		val, uaddr, wflags, reserved := w.Val, w.Uaddr, w.Flags, w.Reserved
		if wflags&^(futex2SizeMsk|futex2Private) != 0 || wflags&futex2SizeMsk != futex2SizeU32 || reserved != 0 ||
			val > 0xffffffff || uaddr%4 != 0 {
			return 0, unix.EINVAL
		}
		addrs[i], vals[i] = uaddr, uint32(val)
	}
	i, err := t.FutexWaitv(addrs, vals, deadline)
	return uint64(i), err
}
