package abi

import "encoding/binary"

// Timeval is struct __kernel_old_timeval (include/uapi/linux/time_types.h): the timeval
// of gettimeofday(2), setitimer(2) and utimes(2) on x86-64.
type Timeval struct {
	Sec  int64 `c:"tv_sec"`
	Usec int64 `c:"tv_usec"`
}

// SizeofTimeval is sizeof(struct __kernel_old_timeval).
const SizeofTimeval = 16

// Encode writes t in its Linux layout to b[:SizeofTimeval].
func (t Timeval) Encode(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], uint64(t.Sec))
	binary.LittleEndian.PutUint64(b[8:], uint64(t.Usec))
}

// DecodeTimeval reads a Timeval from b[:SizeofTimeval].
func DecodeTimeval(b []byte) Timeval {
	return Timeval{Sec: int64(binary.LittleEndian.Uint64(b[0:])), Usec: int64(binary.LittleEndian.Uint64(b[8:]))}
}

// Timespec is struct __kernel_timespec (include/uapi/linux/time_types.h).
type Timespec struct {
	Sec  int64 `c:"tv_sec"`
	Nsec int64 `c:"tv_nsec"`
}

// SizeofTimespec is sizeof(struct __kernel_timespec).
const SizeofTimespec = 16

// Encode writes t in its Linux layout to b[:SizeofTimespec].
func (t Timespec) Encode(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], uint64(t.Sec))
	binary.LittleEndian.PutUint64(b[8:], uint64(t.Nsec))
}

// DecodeTimespec reads a Timespec from b[:SizeofTimespec].
func DecodeTimespec(b []byte) Timespec {
	return Timespec{Sec: int64(binary.LittleEndian.Uint64(b[0:])), Nsec: int64(binary.LittleEndian.Uint64(b[8:]))}
}

// Itimerval is struct __kernel_old_itimerval (include/uapi/linux/time_types.h), of
// getitimer(2) and setitimer(2): the interval comes first.
type Itimerval struct {
	Interval Timeval `c:"it_interval"`
	Value    Timeval `c:"it_value"`
}

// SizeofItimerval is sizeof(struct __kernel_old_itimerval).
const SizeofItimerval = 32

// Encode writes v in its Linux layout to b[:SizeofItimerval].
func (v Itimerval) Encode(b []byte) {
	v.Interval.Encode(b[0:])
	v.Value.Encode(b[SizeofTimeval:])
}

// DecodeItimerval reads an Itimerval from b[:SizeofItimerval].
func DecodeItimerval(b []byte) Itimerval {
	return Itimerval{Interval: DecodeTimeval(b[0:]), Value: DecodeTimeval(b[SizeofTimeval:])}
}

// Itimerspec is struct __kernel_itimerspec (include/uapi/linux/time_types.h), of
// timer_settime(2) and timerfd_settime(2): the interval comes first.
type Itimerspec struct {
	Interval Timespec `c:"it_interval"`
	Value    Timespec `c:"it_value"`
}

// SizeofItimerspec is sizeof(struct __kernel_itimerspec).
const SizeofItimerspec = 32

// Encode writes v in its Linux layout to b[:SizeofItimerspec].
func (v Itimerspec) Encode(b []byte) {
	v.Interval.Encode(b[0:])
	v.Value.Encode(b[SizeofTimespec:])
}

// DecodeItimerspec reads an Itimerspec from b[:SizeofItimerspec].
func DecodeItimerspec(b []byte) Itimerspec {
	return Itimerspec{Interval: DecodeTimespec(b[0:]), Value: DecodeTimespec(b[SizeofTimespec:])}
}

// Tms is struct tms of times(2) (include/uapi/linux/times.h), in clock ticks.
type Tms struct {
	Utime  int64 `c:"tms_utime"`
	Stime  int64 `c:"tms_stime"`
	Cutime int64 `c:"tms_cutime"`
	Cstime int64 `c:"tms_cstime"`
}

// SizeofTms is sizeof(struct tms).
const SizeofTms = 32

// Encode writes t to b[:SizeofTms].
func (t *Tms) Encode(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], uint64(t.Utime))
	binary.LittleEndian.PutUint64(b[8:], uint64(t.Stime))
	binary.LittleEndian.PutUint64(b[16:], uint64(t.Cutime))
	binary.LittleEndian.PutUint64(b[24:], uint64(t.Cstime))
}

// Decode reads t from b[:SizeofTms].
func (t *Tms) Decode(b []byte) {
	t.Utime, t.Stime = int64(binary.LittleEndian.Uint64(b[0:])), int64(binary.LittleEndian.Uint64(b[8:]))
	t.Cutime, t.Cstime = int64(binary.LittleEndian.Uint64(b[16:])), int64(binary.LittleEndian.Uint64(b[24:]))
}
