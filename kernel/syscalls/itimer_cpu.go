package syscalls

import (
	"sync"
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"golang.org/x/sys/unix"
)

// The CPU-time interval timers: ITIMER_VIRTUAL counts the process's user time and sends
// SIGVTALRM, ITIMER_PROF counts user and system time and sends SIGPROF. The platform
// measures CPU time but calls nothing when it passes a mark, so a watcher goroutine per
// armed timer sleeps for the CPU time left (divided among the process's threads, which
// can use that much wall time at most) and looks again, until the mark is passed.

// cpuTimerPoll bounds how rarely a watcher looks: a timer fires at most this late.
const (
	cpuTimerMinPoll = time.Millisecond
	cpuTimerMaxPoll = 100 * time.Millisecond
)

type cpuTimerKey struct {
	tg    *kernel.ThreadGroup
	which uint64 // ITIMER_VIRTUAL or ITIMER_PROF
}

// cpuTimer is one armed timer: it expires when the process's clock reaches at.
type cpuTimer struct {
	at       time.Duration
	interval time.Duration
	stop     chan struct{}
}

type cpuTimerState struct {
	mu sync.Mutex
	m  map[cpuTimerKey]*cpuTimer // protected by mu
	// idle holds the interval of a disarmed timer, which Linux keeps and getitimer shows.
	// protected by mu
	idle map[cpuTimerKey]time.Duration
}

// cpuTimerTick is the tick Linux adds to a CPU-time timer's first expiry (TICK_NSEC with
// HZ=250, as Debian's kernels have it), so that it never fires early.
const cpuTimerTick = 4 * time.Millisecond

func cpuTimersOf(k *kernel.Kernel) *cpuTimerState {
	return kernel.StateOf(k, func(k *kernel.Kernel) *cpuTimerState {
		s := &cpuTimerState{m: make(map[cpuTimerKey]*cpuTimer), idle: make(map[cpuTimerKey]time.Duration)}
		k.OnProcessExit(func(tg *kernel.ThreadGroup) {
			s.mu.Lock()
			defer s.mu.Unlock()
			for _, which := range []uint64{unix.ITIMER_VIRTUAL, unix.ITIMER_PROF} {
				key := cpuTimerKey{tg, which}
				delete(s.idle, key)
				if ct := s.m[key]; ct != nil {
					close(ct.stop)
					delete(s.m, key)
				}
			}
		})
		return s
	})
}

// cpuClock is the clock a CPU-time timer counts.
func cpuClock(tg *kernel.ThreadGroup, which uint64) time.Duration {
	u, s := tg.CPUTimes()
	if which == unix.ITIMER_VIRTUAL {
		return u
	}
	return u + s
}

// cpuTimerSignal is what a CPU-time timer sends.
func cpuTimerSignal(which uint64) unix.Signal {
	if which == unix.ITIMER_VIRTUAL {
		return unix.SIGVTALRM
	}
	return unix.SIGPROF
}

// setCPUTimer arms (value > 0) or disarms the caller's CPU-time timer which and returns
// the old value and interval.
func setCPUTimer(t *kernel.Task, which uint64, value, interval time.Duration) (time.Duration, time.Duration) {
	tg, k := t.Group(), t.Kernel()
	s := cpuTimersOf(k)
	key := cpuTimerKey{tg, which}
	now := cpuClock(tg, which)
	s.mu.Lock()
	defer s.mu.Unlock()
	oldV, oldI := time.Duration(0), s.idle[key]
	delete(s.idle, key)
	if ct := s.m[key]; ct != nil {
		oldV, oldI = max(ct.at-now, time.Microsecond), ct.interval
		close(ct.stop)
		delete(s.m, key)
	}
	if value <= 0 || tg.Zombie() {
		if interval > 0 && !tg.Zombie() {
			s.idle[key] = interval
		}
		return oldV, oldI
	}
	ct := &cpuTimer{at: now + value + cpuTimerTick, interval: interval, stop: make(chan struct{})}
	s.m[key] = ct
	go s.watch(k, key, ct)
	return oldV, oldI
}

// watch sends the timer's signal each time the process's clock passes its mark.
func (s *cpuTimerState) watch(k *kernel.Kernel, key cpuTimerKey, ct *cpuTimer) {
	tick := time.NewTimer(0)
	defer tick.Stop()
	for {
		select {
		case <-ct.stop:
			return
		case <-tick.C:
		}
		now := cpuClock(key.tg, key.which)
		s.mu.Lock()
		if s.m[key] != ct {
			s.mu.Unlock()
			return
		}
		fire := now >= ct.at
		if fire {
			if ct.interval <= 0 {
				delete(s.m, key)
			} else {
				// One signal however many intervals passed (Linux accounts the
				// overrun the same way: a CPU timer's signal does not queue).
				ct.at += (1 + (now-ct.at)/ct.interval) * ct.interval
			}
		}
		left, done := ct.at-now, fire && ct.interval <= 0
		s.mu.Unlock()
		if fire {
			k.SignalGroup(key.tg, cpuTimerSignal(key.which))
		}
		if done {
			return
		}
		threads := max(len(key.tg.Tasks()), 1)
		tick.Reset(min(max(left/time.Duration(threads), cpuTimerMinPoll), cpuTimerMaxPoll))
	}
}

// getCPUTimer returns the caller's CPU-time timer which: what is left and the interval.
func getCPUTimer(t *kernel.Task, which uint64) (time.Duration, time.Duration) {
	tg := t.Group()
	s := cpuTimersOf(t.Kernel())
	now := cpuClock(tg, which)
	s.mu.Lock()
	defer s.mu.Unlock()
	key := cpuTimerKey{tg, which}
	if ct := s.m[key]; ct != nil {
		return max(ct.at-now, time.Microsecond), ct.interval
	}
	return 0, s.idle[key]
}
