package syscalls

import (
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"golang.org/x/sys/unix"
)

// CPU-time clocks: CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID, and the clocks
// clock_getcpuclockid(3) and pthread_getcpuclockid(3) make, which Linux encodes as a
// negative id: the bitwise complement of the PID (0: the caller) shifted left by 3, bit 2
// for a thread's clock, and in the low two bits what is counted (PROF: user and system
// time, VIRT: user time, SCHED: all the time the thread ran; here PROF and SCHED count
// the same). Low bits 3 mark a clock of a file descriptor (dynamic clocks), not offered.
const (
	cpuclockProf      = 0
	cpuclockVirt      = 1
	cpuclockSched     = 2
	cpuclockFD        = 3
	cpuclockPerThread = 4
)

// cpuClockRef is a decoded CPU-time clock: a thread's (task) or a process's (tg).
type cpuClockRef struct {
	task  *kernel.Task
	tg    *kernel.ThreadGroup
	which int32
}

// isCPUClock reports whether id names a CPU-time clock (existing or not).
func isCPUClock(id int32) bool {
	return id == unix.CLOCK_PROCESS_CPUTIME_ID || id == unix.CLOCK_THREAD_CPUTIME_ID ||
		id < 0 && id&3 != cpuclockFD
}

// cpuClockOf decodes CPU-time clock id for t: EINVAL when the clock's thread or process
// does not exist, or is a thread of another process (as Linux's pid_for_clock: a process
// clock needs a process's PID, except that clock_gettime takes the caller's own TID).
func cpuClockOf(t *kernel.Task, id int32, gettime bool) (cpuClockRef, error) {
	switch id {
	case unix.CLOCK_PROCESS_CPUTIME_ID:
		return cpuClockRef{tg: t.Group(), which: cpuclockSched}, nil
	case unix.CLOCK_THREAD_CPUTIME_ID:
		return cpuClockRef{task: t, which: cpuclockSched}, nil
	}
	which := id & 3
	if id >= 0 || which == cpuclockFD {
		return cpuClockRef{}, unix.EINVAL
	}
	pid := ^(id >> 3)
	thread := id&cpuclockPerThread != 0
	switch {
	case pid == 0 && thread:
		return cpuClockRef{task: t, which: which}, nil
	case pid == 0:
		return cpuClockRef{tg: t.Group(), which: which}, nil
	case thread:
		o := t.TaskByTID(pid)
		if o == nil || o.Group() != t.Group() {
			return cpuClockRef{}, unix.EINVAL
		}
		return cpuClockRef{task: o, which: which}, nil
	}
	if tg := t.GroupByPID(pid); tg != nil {
		return cpuClockRef{tg: tg, which: which}, nil
	}
	if gettime && t.TaskByTID(pid) == t {
		return cpuClockRef{tg: t.Group(), which: which}, nil
	}
	return cpuClockRef{}, unix.EINVAL
}

// now reads the clock.
func (c cpuClockRef) now() time.Duration {
	var u, s time.Duration
	if c.task != nil {
		u, s = c.task.CPUTimes()
	} else {
		u, s = c.tg.CPUTimes()
	}
	if c.which == cpuclockVirt {
		return u
	}
	return u + s
}

// alive reports whether the clock's thread or process still runs (a timer on the clock
// of one that exited never fires again).
func (c cpuClockRef) alive(k *kernel.Kernel) bool {
	if c.task != nil {
		return k.TaskByTID(c.task.TID) == c.task
	}
	return !c.tg.Zombie()
}

// threads is how many threads the clock counts: it can advance that much faster than
// wall time at most.
func (c cpuClockRef) threads() int {
	if c.task != nil {
		return 1
	}
	return max(len(c.tg.Tasks()), 1)
}

// cpuPoll is how long a watcher of clock c waits before it looks again when left is the
// CPU time still to run: no longer than the clock can take to run it, within bounds.
func (c cpuClockRef) cpuPoll(left time.Duration) time.Duration {
	return min(max(left/time.Duration(c.threads()), cpuTimerMinPoll), cpuTimerMaxPoll)
}

// cpuNanosleep implements clock_nanosleep(2) on a CPU-time clock: the caller sleeps until
// the clock (made to run by other threads or processes) reaches the deadline. A thread
// clock of the caller itself could never advance: EINVAL, as on Linux.
func cpuNanosleep(t *kernel.Task, id int32, abs bool, d time.Duration, remAddr uint64) error {
	if id == unix.CLOCK_THREAD_CPUTIME_ID || id < 0 && id&cpuclockPerThread != 0 &&
		(^(id>>3) == 0 || t.TaskByTID(^(id>>3)) == t) {
		return unix.EINVAL
	}
	c, err := cpuClockOf(t, id, false)
	if err != nil {
		return err
	}
	at := d
	if !abs {
		at += c.now()
	}
	k := t.Kernel()
	for {
		now := c.now()
		if now >= at || !c.alive(k) {
			return nil
		}
		switch err := t.Sleep(time.Now().Add(c.cpuPoll(at - now))); err {
		case nil, unix.ETIMEDOUT:
		default:
			if err == unix.EINTR && !abs && remAddr != 0 {
				putTimespec(t, remAddr, unix.NsecToTimespec(int64(max(at-c.now(), 0))))
			}
			return err
		}
	}
}
