package syscalls

import (
	"math"
	"sync"
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"golang.org/x/sys/unix"
)

// POSIX timers (timer_create(2) and friends). Each process has its own table; a timer
// created before an execve is gone after it (the table is tied to the address space).

// sigev_notify values.
const (
	sigevSignal   = 0
	sigevNone     = 1
	sigevThread   = 2
	sigevThreadID = 4
)

type posixTimer struct {
	id       int32
	clock    int32
	notify   int32
	signo    unix.Signal
	value    uint64
	tid      int32 // SIGEV_THREAD_ID: the thread the signal goes to
	mm       any   // the address space the timer belongs to
	next     time.Time
	interval time.Duration
	timer    *time.Timer
	// A timer on a CPU-time clock (cpu set) expires when the clock reaches cpuAt (0:
	// disarmed); a watcher goroutine looks at the clock until cpuStop is closed.
	cpu     *cpuClockRef
	cpuAt   time.Duration
	cpuStop chan struct{}
}

// timerState holds a kernel's POSIX timers by process; a process's timers are stopped
// and dropped when it exits.
type timerState struct {
	mu sync.Mutex
	m  map[*kernel.ThreadGroup]map[int32]*posixTimer // protected by mu
}

func timersOf(k *kernel.Kernel) *timerState {
	return kernel.StateOf(k, func(k *kernel.Kernel) *timerState {
		s := &timerState{m: make(map[*kernel.ThreadGroup]map[int32]*posixTimer)}
		k.OnProcessExit(func(tg *kernel.ThreadGroup) {
			s.mu.Lock()
			defer s.mu.Unlock()
			for _, pt := range s.m[tg] {
				pt.stop()
			}
			delete(s.m, tg)
		})
		return s
	})
}

// maxTimers bounds a process's timers (RLIMIT_SIGPENDING-like protection).
const maxTimers = 4096

// lookupTimer returns the caller's timer id (nil if none). Locks: timersOf(k).mu held.
func lookupTimer(t *kernel.Task, id int32) *posixTimer {
	posixTimers := timersOf(t.Kernel())
	pt := posixTimers.m[t.Group()][id]
	if pt == nil || pt.mm != any(t.MM()) {
		return nil
	}
	return pt
}

// TimerCreate implements timer_create(2) for CLOCK_REALTIME, CLOCK_MONOTONIC,
// CLOCK_BOOTTIME, CLOCK_TAI and the CPU-time clocks (cpuclock.go).
func TimerCreate(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	posixTimers := timersOf(t.Kernel())
	clock := int32(a[0])
	var cpu *cpuClockRef
	switch clock {
	case unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_BOOTTIME, unix.CLOCK_TAI:
	case unix.CLOCK_REALTIME_ALARM, unix.CLOCK_BOOTTIME_ALARM:
		return 0, unix.EPERM
	case unix.CLOCK_MONOTONIC_RAW, unix.CLOCK_REALTIME_COARSE, unix.CLOCK_MONOTONIC_COARSE:
		return 0, unix.EOPNOTSUPP // clocks without timers (Linux: no timer_create method)
	default:
		if clock < 0 && clock&3 == cpuclockFD {
			return 0, unix.EOPNOTSUPP // a clock of a file descriptor: no timers (as Linux's)
		}
		if !isCPUClock(clock) {
			return 0, unix.EINVAL
		}
		c, err := cpuClockOf(t, clock, false)
		if err != nil {
			return 0, err
		}
		cpu = &c
	}
	pt := &posixTimer{clock: clock, notify: sigevSignal, signo: unix.SIGALRM, mm: t.MM(), cpu: cpu}
	explicitValue := false
	if a[1] != 0 {
		b := make([]byte, abi.SizeofSigeventHead)
		if _, err := t.CopyIn(a[1], b); err != nil {
			return 0, unix.EFAULT
		}
		var ev abi.Sigevent
		ev.Decode(b)
		pt.value, pt.signo, pt.notify = ev.Value, unix.Signal(ev.Signo), ev.Notify
		explicitValue = true
		switch pt.notify {
		case sigevNone:
		case sigevSignal, sigevThread, sigevSignal | sigevThreadID:
			if pt.signo <= 0 || pt.signo > 64 {
				return 0, unix.EINVAL
			}
			if pt.notify&sigevThreadID != 0 {
				pt.tid = ev.TID
				if target := t.TaskByTID(pt.tid); target == nil || target.Group() != t.Group() {
					return 0, unix.EINVAL
				}
			}
		default:
			return 0, unix.EINVAL
		}
	}
	posixTimers.mu.Lock()
	defer posixTimers.mu.Unlock()
	tg := t.Group()
	table := posixTimers.m[tg]
	if table == nil {
		table = make(map[int32]*posixTimer)
		posixTimers.m[tg] = table
	}
	for id, old := range table {
		if old.mm != any(t.MM()) {
			old.stop()
			delete(table, id) // left over from before an execve
		}
	}
	if len(table) >= maxTimers {
		return 0, unix.EAGAIN
	}
	id := int32(0)
	for table[id] != nil {
		id++
	}
	pt.id = id
	if !explicitValue {
		pt.value = uint64(id)
	}
	if err := putU32(t, a[2], uint32(id)); err != nil {
		return 0, err
	}
	table[id] = pt
	return 0, nil
}

func (pt *posixTimer) stop() {
	if pt.cpuStop != nil {
		close(pt.cpuStop)
		pt.cpuStop = nil
	}
	if pt.timer != nil {
		pt.timer.Stop()
		pt.timer = nil
	}
}

func (pt *posixTimer) remaining() time.Duration {
	if pt.cpu != nil {
		if pt.cpuAt == 0 {
			return 0
		}
		return max(pt.cpuAt-pt.cpu.now(), time.Nanosecond)
	}
	if pt.next.IsZero() {
		return 0
	}
	return max(time.Until(pt.next), time.Nanosecond)
}

// arm schedules the next expiry of pt for process tg. Locks: timersOf(k).mu held.
func (pt *posixTimer) arm(k *kernel.Kernel, tg *kernel.ThreadGroup) {
	posixTimers := timersOf(k)
	pt.stop()
	if pt.cpu != nil {
		if pt.cpuAt != 0 {
			pt.cpuStop = make(chan struct{})
			go pt.watchCPU(k, tg, pt.cpuStop)
		}
		return
	}
	if pt.next.IsZero() {
		return
	}
	var fire func()
	fire = func() {
		posixTimers.mu.Lock()
		if posixTimers.m[tg][pt.id] != pt || tg.Zombie() || pt.mm != any(tg.MM()) {
			posixTimers.mu.Unlock()
			return
		}
		send, thread, info := pt.expiry(k, tg, 0)
		if pt.interval > 0 {
			pt.next = pt.next.Add(pt.interval)
			pt.timer = time.AfterFunc(time.Until(pt.next), fire)
		} else {
			pt.next, pt.timer = time.Time{}, nil
		}
		signo := pt.signo
		posixTimers.mu.Unlock()
		notify(k, tg, send, thread, signo, info)
	}
	pt.timer = time.AfterFunc(time.Until(pt.next), fire)
}

// expiry works out how an expiry of pt, and missed more that passed unseen, is told: the
// signal to send (send), to which thread (nil: the process). While the last expiry's
// signal is pending, further ones only count as its overruns. Locks: timersOf(k).mu held.
func (pt *posixTimer) expiry(k *kernel.Kernel, tg *kernel.ThreadGroup, missed int32) (send bool, thread *kernel.Task, info kernel.SigInfo) {
	send = pt.notify != sigevNone
	if pt.tid != 0 {
		if thread = k.TaskByTID(pt.tid); thread == nil || thread.Group() != tg {
			send, thread = false, nil // the thread is gone
		}
	}
	if send && tg.TimerOverrunBy(thread, pt.signo, pt.id, missed+1) >= 0 {
		send = false
	}
	return send, thread, kernel.SigInfo{Code: kernel.SITimer, TimerID: pt.id, Value: pt.value, Overrun: missed}
}

// notify sends what expiry worked out (called without timersOf(k).mu).
func notify(k *kernel.Kernel, tg *kernel.ThreadGroup, send bool, thread *kernel.Task, signo unix.Signal, info kernel.SigInfo) {
	switch {
	case send && thread != nil:
		k.SignalThread(thread, signo, info)
	case send:
		k.SignalGroupInfo(tg, signo, info)
	}
}

// watchCPU tells each expiry of pt, a timer on a CPU-time clock, until stop is closed: the
// platform measures CPU time but calls nothing when it passes a mark, so the watcher
// sleeps for the CPU time left (divided among the threads the clock counts) and looks
// again. An interval timer found several intervals late counts the ones it missed as
// overruns, as Linux's does when it is rearmed.
func (pt *posixTimer) watchCPU(k *kernel.Kernel, tg *kernel.ThreadGroup, stop chan struct{}) {
	posixTimers := timersOf(k)
	tick := time.NewTimer(0)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		now := pt.cpu.now()
		posixTimers.mu.Lock()
		if pt.cpuStop != stop || posixTimers.m[tg][pt.id] != pt || tg.Zombie() || pt.mm != any(tg.MM()) || !pt.cpu.alive(k) {
			posixTimers.mu.Unlock()
			return
		}
		if now < pt.cpuAt {
			left := pt.cpuAt - now
			posixTimers.mu.Unlock()
			tick.Reset(pt.cpu.cpuPoll(left))
			continue
		}
		var missed int64
		if pt.interval > 0 {
			missed = int64((now - pt.cpuAt) / pt.interval)
			pt.cpuAt += time.Duration(missed+1) * pt.interval
		} else {
			pt.cpuAt, pt.cpuStop = 0, nil
		}
		send, thread, info := pt.expiry(k, tg, int32(min(missed, math.MaxInt32-1)))
		signo, left, oneShot := pt.signo, pt.cpuAt-now, pt.interval <= 0
		posixTimers.mu.Unlock()
		notify(k, tg, send, thread, signo, info)
		if oneShot {
			return
		}
		tick.Reset(pt.cpu.cpuPoll(left))
	}
}

// readItimerspec reads a struct itimerspec (interval, value).
func readItimerspec(t *kernel.Task, addr uint64) (value, interval time.Duration, err error) {
	var b [abi.SizeofItimerspec]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, 0, unix.EFAULT
	}
	it := abi.DecodeItimerspec(b[:])
	is, in, vs, vn := it.Interval.Sec, it.Interval.Nsec, it.Value.Sec, it.Value.Nsec
	if is < 0 || in < 0 || in >= 1e9 || vs < 0 || vn < 0 || vn >= 1e9 {
		return 0, 0, unix.EINVAL
	}
	return time.Duration(vs)*time.Second + time.Duration(vn), time.Duration(is)*time.Second + time.Duration(in), nil
}

// TimerSettime implements timer_settime(2).
func TimerSettime(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	posixTimers := timersOf(t.Kernel())
	// Flags other than TIMER_ABSTIME are ignored, as on Linux; a missing new value is
	// EINVAL before anything is read.
	if a[2] == 0 {
		return 0, unix.EINVAL
	}
	value, interval, err := readItimerspec(t, a[2])
	if err != nil {
		return 0, err
	}
	posixTimers.mu.Lock()
	pt := lookupTimer(t, int32(a[0]))
	if pt == nil {
		posixTimers.mu.Unlock()
		return 0, unix.EINVAL
	}
	oldV, oldI := pt.remaining(), pt.interval
	pt.interval = interval
	// A new setting starts afresh: no overrun count, and the old setting's expiry still
	// queued is not delivered.
	t.Group().ResetTimerOverrun(pt.id)
	if pt.notify != sigevNone {
		t.Group().DropTimerSignal(pt.signo, pt.id)
	}
	switch {
	case pt.cpu != nil && value == 0:
		pt.cpuAt = 0
	case pt.cpu != nil && a[1]&unix.TIMER_ABSTIME != 0:
		pt.cpuAt = value
	case pt.cpu != nil:
		pt.cpuAt = pt.cpu.now() + value
	case value == 0:
		pt.next = time.Time{}
	case a[1]&1 != 0:
		var now unix.Timespec
		unix.ClockGettime(pt.clock, &now)
		pt.next = time.Now().Add(value - time.Duration(now.Nano()))
	default:
		pt.next = time.Now().Add(value)
	}
	pt.arm(t.Kernel(), t.Group())
	posixTimers.mu.Unlock()
	if a[3] != 0 {
		return 0, putItimerspec(t, a[3], oldV, oldI)
	}
	return 0, nil
}

// TimerGettime implements timer_gettime(2).
func TimerGettime(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	posixTimers := timersOf(t.Kernel())
	posixTimers.mu.Lock()
	pt := lookupTimer(t, int32(a[0]))
	if pt == nil {
		posixTimers.mu.Unlock()
		return 0, unix.EINVAL
	}
	v, i := pt.remaining(), pt.interval
	posixTimers.mu.Unlock()
	return 0, putItimerspec(t, a[1], v, i)
}

// TimerGetoverrun implements timer_getoverrun(2).
func TimerGetoverrun(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	posixTimers := timersOf(t.Kernel())
	posixTimers.mu.Lock()
	defer posixTimers.mu.Unlock()
	pt := lookupTimer(t, int32(a[0]))
	if pt == nil {
		return 0, unix.EINVAL
	}
	return uint64(t.Group().TimerLastOverrun(pt.id)), nil
}

// TimerDelete implements timer_delete(2).
func TimerDelete(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	posixTimers := timersOf(t.Kernel())
	posixTimers.mu.Lock()
	defer posixTimers.mu.Unlock()
	pt := lookupTimer(t, int32(a[0]))
	if pt == nil {
		return 0, unix.EINVAL
	}
	pt.stop()
	delete(posixTimers.m[t.Group()], pt.id)
	t.Group().ResetTimerOverrun(pt.id)
	return 0, nil
}
