package syscalls

import (
	"sync"
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"golang.org/x/sys/unix"
)

// itimerState holds a kernel's ITIMER_REAL of each process (alarm(2), setitimer(2)); a
// process's timer is stopped and dropped when it exits.
type itimerState struct {
	mu sync.Mutex
	m  map[*kernel.ThreadGroup]*itimer // protected by mu
}

func itimersOf(k *kernel.Kernel) *itimerState {
	return kernel.StateOf(k, func(k *kernel.Kernel) *itimerState {
		s := &itimerState{m: make(map[*kernel.ThreadGroup]*itimer)}
		k.OnProcessExit(func(tg *kernel.ThreadGroup) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if it := s.m[tg]; it != nil {
				it.timer.Stop()
				delete(s.m, tg)
			}
		})
		return s
	})
}

type itimer struct {
	next     time.Time
	interval time.Duration
	timer    *time.Timer
}

// setRealTimer arms (value > 0) or disarms the caller's ITIMER_REAL and returns the old
// remaining time and interval.
func setRealTimer(t *kernel.Task, value, interval time.Duration) (time.Duration, time.Duration) {
	tg, k := t.Group(), t.Kernel()
	itimers := itimersOf(k)
	itimers.mu.Lock()
	defer itimers.mu.Unlock()
	it := itimers.m[tg]
	var oldV, oldI time.Duration
	if it != nil {
		if it.timer.Stop() {
			oldV = max(time.Until(it.next), time.Microsecond)
		}
		oldI = it.interval
		delete(itimers.m, tg)
	}
	if value <= 0 {
		return oldV, oldI
	}
	it = &itimer{next: time.Now().Add(value), interval: interval}
	var fire func()
	fire = func() {
		itimers.mu.Lock()
		live := itimers.m[tg] == it && !tg.Zombie()
		if live && it.interval > 0 {
			it.next = it.next.Add(it.interval)
			it.timer = time.AfterFunc(time.Until(it.next), fire)
		} else if itimers.m[tg] == it {
			delete(itimers.m, tg)
		}
		itimers.mu.Unlock()
		if live {
			k.SignalGroup(tg, unix.SIGALRM)
		}
	}
	it.timer = time.AfterFunc(value, fire)
	itimers.m[tg] = it
	return oldV, oldI
}

func getRealTimer(t *kernel.Task) (time.Duration, time.Duration) {
	itimers := itimersOf(t.Kernel())
	itimers.mu.Lock()
	defer itimers.mu.Unlock()
	if it := itimers.m[t.Group()]; it != nil {
		return max(time.Until(it.next), time.Microsecond), it.interval
	}
	return 0, 0
}

// Alarm implements alarm(2): it returns the seconds left on the previous alarm, rounded.
func Alarm(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	old, _ := setRealTimer(t, time.Duration(uint32(a[0]))*time.Second, 0)
	secs := uint64((old + time.Second/2) / time.Second)
	if old > 0 && secs == 0 {
		secs = 1
	}
	return secs, nil
}

// timeval is d as a struct timeval.
func timeval(d time.Duration) abi.Timeval {
	return abi.Timeval{Sec: int64(d / time.Second), Usec: int64(d % time.Second / time.Microsecond)}
}

func putItimerval(t *kernel.Task, addr uint64, value, interval time.Duration) error {
	var b [abi.SizeofItimerval]byte
	abi.Itimerval{Interval: timeval(interval), Value: timeval(value)}.Encode(b[:])
	if _, err := t.CopyOut(addr, b[:]); err != nil {
		return unix.EFAULT
	}
	return nil
}

// Getitimer implements getitimer(2).
func Getitimer(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	var v, i time.Duration
	switch a[0] {
	case unix.ITIMER_REAL:
		v, i = getRealTimer(t)
	case unix.ITIMER_VIRTUAL, unix.ITIMER_PROF:
		v, i = getCPUTimer(t, a[0])
	default:
		return 0, unix.EINVAL
	}
	return 0, putItimerval(t, a[1], v, i)
}

// Setitimer implements setitimer(2): ITIMER_REAL runs on the wall clock, ITIMER_VIRTUAL
// and ITIMER_PROF on the process's CPU time (itimer_cpu.go).
func Setitimer(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	var v, i time.Duration
	if a[1] != 0 {
		var b [abi.SizeofItimerval]byte
		if _, err := t.CopyIn(a[1], b[:]); err != nil {
			return 0, unix.EFAULT
		}
		it := abi.DecodeItimerval(b[:])
		is, iu, vs, vu := it.Interval.Sec, it.Interval.Usec, it.Value.Sec, it.Value.Usec
		if is < 0 || iu < 0 || iu >= 1e6 || vs < 0 || vu < 0 || vu >= 1e6 {
			return 0, unix.EINVAL
		}
		i = time.Duration(is)*time.Second + time.Duration(iu)*time.Microsecond
		v = time.Duration(vs)*time.Second + time.Duration(vu)*time.Microsecond
	}
	var oldV, oldI time.Duration
	switch a[0] {
	case unix.ITIMER_REAL:
		oldV, oldI = setRealTimer(t, v, i)
	case unix.ITIMER_VIRTUAL, unix.ITIMER_PROF:
		oldV, oldI = setCPUTimer(t, a[0], v, i)
	default:
		return 0, unix.EINVAL
	}
	if a[2] != 0 {
		return 0, putItimerval(t, a[2], oldV, oldI)
	}
	return 0, nil
}
