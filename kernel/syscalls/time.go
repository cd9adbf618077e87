package syscalls

import (
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"golang.org/x/sys/unix"
)

func putTimespec(t *kernel.Task, addr uint64, ts unix.Timespec) error {
	b := make([]byte, abi.SizeofTimespec)
	abi.Timespec{Sec: ts.Sec, Nsec: ts.Nsec}.Encode(b)
	if _, err := t.CopyOut(addr, b); err != nil {
		return unix.EFAULT
	}
	return nil
}

func getTimespec(t *kernel.Task, addr uint64) (unix.Timespec, error) {
	b := make([]byte, abi.SizeofTimespec)
	if _, err := t.CopyIn(addr, b); err != nil {
		return unix.Timespec{}, unix.EFAULT
	}
	ts := abi.DecodeTimespec(b)
	return unix.Timespec{Sec: ts.Sec, Nsec: ts.Nsec}, nil
}

func validClock(id int32) bool {
	switch id {
	case unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_PROCESS_CPUTIME_ID, unix.CLOCK_THREAD_CPUTIME_ID,
		unix.CLOCK_MONOTONIC_RAW, unix.CLOCK_REALTIME_COARSE, unix.CLOCK_MONOTONIC_COARSE, unix.CLOCK_BOOTTIME,
		unix.CLOCK_REALTIME_ALARM, unix.CLOCK_BOOTTIME_ALARM, unix.CLOCK_TAI:
		return true
	}
	return false
}

// clockNow reads clock id. CPU-time clocks report the time the app's code ran (in its
// stubs) plus the kernel's work for it.
func clockNow(t *kernel.Task, id int32) (unix.Timespec, error) {
	if isCPUClock(id) {
		c, err := cpuClockOf(t, id, true)
		if err != nil {
			return unix.Timespec{}, err
		}
		return unix.NsecToTimespec(int64(c.now())), nil
	}
	if !validClock(id) {
		return unix.Timespec{}, unix.EINVAL
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(id, &ts); err != nil {
		return ts, err
	}
	return ts, nil
}

// ClockGettime implements clock_gettime(2).
func ClockGettime(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	ts, err := clockNow(t, int32(a[0]))
	if err != nil {
		return 0, err
	}
	return 0, putTimespec(t, a[1], ts)
}

// ClockGetres implements clock_getres(2).
func ClockGetres(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	id := int32(a[0])
	res := unix.Timespec{Nsec: 1}
	if isCPUClock(id) {
		c, err := cpuClockOf(t, id, false)
		if err != nil {
			return 0, err
		}
		if c.which != cpuclockSched {
			res.Nsec = int64(cpuTimerTick) // PROF and VIRT clocks count in ticks on Linux
		}
	} else if !validClock(id) {
		return 0, unix.EINVAL
	}
	if a[1] == 0 {
		return 0, nil
	}
	if id == unix.CLOCK_REALTIME_COARSE || id == unix.CLOCK_MONOTONIC_COARSE {
		res.Nsec = 4000000
	}
	return 0, putTimespec(t, a[1], res)
}

// Gettimeofday implements gettimeofday(2).
func Gettimeofday(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	now := time.Now()
	if a[0] != 0 {
		b := make([]byte, abi.SizeofTimeval)
		abi.Timeval{Sec: now.Unix(), Usec: int64(now.Nanosecond() / 1000)}.Encode(b)
		if _, err := t.CopyOut(a[0], b); err != nil {
			return 0, unix.EFAULT
		}
	}
	if a[1] != 0 {
		if _, err := t.CopyOut(a[1], make([]byte, 8)); err != nil {
			return 0, unix.EFAULT
		}
	}
	return 0, nil
}

// Time implements time(2).
func Time(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	now := uint64(time.Now().Unix())
	if a[0] != 0 {
		if err := putU64(t, a[0], now); err != nil {
			return 0, err
		}
	}
	return now, nil
}

// sleepUntil sleeps interruptibly; on interruption it reports the time left.
func sleepUntil(t *kernel.Task, deadline time.Time, remAddr uint64) error {
	err := t.Sleep(deadline)
	if err == unix.EINTR && remAddr != 0 {
		left := max(time.Until(deadline), 0)
		putTimespec(t, remAddr, unix.NsecToTimespec(int64(left)))
	}
	return err
}

// Nanosleep implements nanosleep(2).
func Nanosleep(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	ts, err := getTimespec(t, a[0])
	if err != nil {
		return 0, err
	}
	if ts.Sec < 0 || ts.Nsec < 0 || ts.Nsec >= 1e9 {
		return 0, unix.EINVAL
	}
	return 0, sleepUntil(t, time.Now().Add(time.Duration(ts.Nano())), a[1])
}

// ClockNanosleep implements clock_nanosleep(2).
func ClockNanosleep(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	id, flags := int32(a[0]), a[1]
	switch {
	case id == unix.CLOCK_REALTIME, id == unix.CLOCK_MONOTONIC, id == unix.CLOCK_BOOTTIME, id == unix.CLOCK_TAI:
	case isCPUClock(id):
	default:
		if !validClock(id) && (id >= 0 || id&3 != cpuclockFD) {
			return 0, unix.EINVAL
		}
		return 0, unix.EOPNOTSUPP
	}
	// Flags other than TIMER_ABSTIME are ignored, as on Linux.
	ts, err := getTimespec(t, a[2])
	if err != nil {
		return 0, err
	}
	if ts.Sec < 0 || ts.Nsec < 0 || ts.Nsec >= 1e9 {
		return 0, unix.EINVAL
	}
	if isCPUClock(id) {
		return 0, cpuNanosleep(t, id, flags&unix.TIMER_ABSTIME != 0, time.Duration(ts.Nano()), a[3])
	}
	var deadline time.Time
	if flags&unix.TIMER_ABSTIME != 0 {
		now, err := clockNow(t, id)
		if err != nil {
			return 0, err
		}
		deadline = time.Now().Add(time.Duration(ts.Nano() - now.Nano()))
		return 0, sleepUntil(t, deadline, 0)
	}
	return 0, sleepUntil(t, time.Now().Add(time.Duration(ts.Nano())), a[3])
}

// Times implements times(2).
func Times(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	ticks := func(d time.Duration) uint64 { return uint64(d / (10 * time.Millisecond)) }
	if a[0] != 0 {
		b := make([]byte, abi.SizeofTms)
		u, s := t.Group().CPUTimes()
		cu, cs := t.Group().ChildCPUTimes()
		tms := abi.Tms{Utime: int64(ticks(u)), Stime: int64(ticks(s)), Cutime: int64(ticks(cu)), Cstime: int64(ticks(cs))}
		tms.Encode(b)
		if _, err := t.CopyOut(a[0], b); err != nil {
			return 0, unix.EFAULT
		}
	}
	return ticks(t.Kernel().Uptime()) + 100, nil
}

// Getrusage implements getrusage(2).
func Getrusage(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	who := int32(a[0])
	switch who {
	case unix.RUSAGE_SELF, unix.RUSAGE_CHILDREN, unix.RUSAGE_THREAD:
	default:
		return 0, unix.EINVAL
	}
	var u, sys time.Duration
	switch who {
	case unix.RUSAGE_SELF:
		u, sys = t.Group().CPUTimes()
	case unix.RUSAGE_THREAD:
		u, sys = t.CPUTimes()
	default:
		u, sys = t.Group().ChildCPUTimes()
	}
	ru := abi.Rusage{Utime: abiTimeval(u), Stime: abiTimeval(sys)}
	if who != unix.RUSAGE_CHILDREN {
		_, rss := t.MM().Usage()
		ru.Maxrss = int64(rss / 1024)
	}
	b := make([]byte, abi.SizeofRusage)
	ru.Encode(b)
	if _, err := t.CopyOut(a[1], b); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// abiDuration is d as a struct timespec.
func abiDuration(d time.Duration) abi.Timespec {
	return abi.Timespec{Sec: int64(d / time.Second), Nsec: int64(d % time.Second)}
}

// abiTimeval is d as a struct timeval.
func abiTimeval(d time.Duration) abi.Timeval {
	return abi.Timeval{Sec: int64(d / time.Second), Usec: int64(d % time.Second / time.Microsecond)}
}
