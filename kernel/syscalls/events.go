package syscalls

import (
	"sync/atomic"
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/fs/anon"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// installAnon installs a new anonymous file and returns its FD number.
func installAnon(t *kernel.Task, f vfs.File, name string, flags int, cloexec bool) (uint64, error) {
	fd := vfs.NewAnonFileDescription(f, name, flags)
	defer fd.DecRef()
	n, err := t.FDs().Install(fd, 0, cloexec, nofile(t))
	return uint64(n), err
}

// Eventfd implements eventfd(2).
func Eventfd(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return eventfd(t, a[0], 0)
}

// Eventfd2 implements eventfd2(2).
func Eventfd2(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return eventfd(t, a[0], a[1])
}

func eventfd(t *kernel.Task, initval, flags uint64) (uint64, error) {
	if flags&^(unix.EFD_CLOEXEC|unix.EFD_NONBLOCK|unix.EFD_SEMAPHORE) != 0 {
		return 0, unix.EINVAL
	}
	f := anon.NewEventFD(uint64(uint32(initval)), flags&unix.EFD_SEMAPHORE != 0, eventfdIDsOf(t.Kernel()).Add(1)-1)
	return installAnon(t, f, "anon_inode:[eventfd]", unix.O_RDWR|int(flags&unix.EFD_NONBLOCK), flags&unix.EFD_CLOEXEC != 0)
}

// TimerfdCreate implements timerfd_create(2).
func TimerfdCreate(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	clock, flags := int32(a[0]), a[1]
	switch clock {
	case unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_BOOTTIME:
	case unix.CLOCK_REALTIME_ALARM, unix.CLOCK_BOOTTIME_ALARM:
		return 0, unix.EPERM // needs CAP_WAKE_ALARM
	default:
		return 0, unix.EINVAL
	}
	if flags&^(unix.TFD_CLOEXEC|unix.TFD_NONBLOCK) != 0 {
		return 0, unix.EINVAL
	}
	return installAnon(t, anon.NewTimerFD(clock), "anon_inode:[timerfd]", unix.O_RDWR|int(flags&unix.TFD_NONBLOCK),
		flags&unix.TFD_CLOEXEC != 0)
}

func getTimerFD(t *kernel.Task, fdn uint64) (*vfs.FileDescription, *anon.TimerFD, error) {
	fd, err := getFD(t, fdn)
	if err != nil {
		return nil, nil, err
	}
	tf, ok := fd.Impl().(*anon.TimerFD)
	if !ok {
		fd.DecRef()
		return nil, nil, unix.EINVAL
	}
	return fd, tf, nil
}

// putItimerspec writes a struct itimerspec (interval first, then value).
func putItimerspec(t *kernel.Task, addr uint64, value, interval time.Duration) error {
	var b [abi.SizeofItimerspec]byte
	abi.Itimerspec{Interval: abiDuration(interval), Value: abiDuration(value)}.Encode(b[:])
	if _, err := t.CopyOut(addr, b[:]); err != nil {
		return unix.EFAULT
	}
	return nil
}

// TimerfdSettime implements timerfd_settime(2).
func TimerfdSettime(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, tf, err := getTimerFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	flags := a[1]
	if flags&^(unix.TFD_TIMER_ABSTIME|unix.TFD_TIMER_CANCEL_ON_SET) != 0 {
		return 0, unix.EINVAL
	}
	interval, err := getTimespec(t, a[2])
	if err != nil {
		return 0, err
	}
	value, err := getTimespec(t, a[2]+16)
	if err != nil {
		return 0, err
	}
	for _, ts := range []unix.Timespec{interval, value} {
		if ts.Sec < 0 || ts.Nsec < 0 || ts.Nsec >= 1e9 {
			return 0, unix.EINVAL
		}
	}
	oldV, oldI := tf.Set(time.Duration(value.Nano()), time.Duration(interval.Nano()), flags&unix.TFD_TIMER_ABSTIME != 0)
	if a[3] != 0 {
		return 0, putItimerspec(t, a[3], oldV, oldI)
	}
	return 0, nil
}

// TimerfdGettime implements timerfd_gettime(2).
func TimerfdGettime(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, tf, err := getTimerFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	v, i := tf.Get()
	return 0, putItimerspec(t, a[1], v, i)
}

// EpollCreate implements epoll_create(2): size only has to be positive.
func EpollCreate(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if int32(a[0]) <= 0 {
		return 0, unix.EINVAL
	}
	return installAnon(t, anon.NewEpoll(), "anon_inode:[eventpoll]", unix.O_RDWR, false)
}

// EpollCreate1 implements epoll_create1(2).
func EpollCreate1(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if a[0]&^unix.EPOLL_CLOEXEC != 0 {
		return 0, unix.EINVAL
	}
	return installAnon(t, anon.NewEpoll(), "anon_inode:[eventpoll]", unix.O_RDWR, a[0]&unix.EPOLL_CLOEXEC != 0)
}

// EpollCtl implements epoll_ctl(2).
func EpollCtl(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	op := int(a[1])
	var events uint32
	var data uint64
	if op != unix.EPOLL_CTL_DEL {
		var b [abi.SizeofEpollEvent]byte
		if _, err := t.CopyIn(a[3], b[:]); err != nil {
			return 0, unix.EFAULT
		}
		var ev abi.EpollEvent
		ev.Decode(b[:])
		events, data = ev.Events, ev.Data
	}
	epfd, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer epfd.DecRef()
	fd, err := getFD(t, a[2])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if fd.IsPath() || epfd.IsPath() {
		return 0, unix.EBADF
	}
	if !anon.CanWatch(fd) {
		return 0, unix.EPERM
	}
	ep, ok := epfd.Impl().(*anon.Epoll)
	if !ok || fd == epfd {
		return 0, unix.EINVAL
	}
	if events&anon.EpollExclusive != 0 {
		if op == unix.EPOLL_CTL_MOD {
			return 0, unix.EINVAL
		}
		if events&(anon.EpollOneShot|unix.EPOLLPRI|anon.EpollWakeup|unix.EPOLLRDHUP) != 0 {
			return 0, unix.EINVAL
		}
		if _, nested := fd.Impl().(*anon.Epoll); nested {
			return 0, unix.EINVAL
		}
	}
	events &^= anon.EpollWakeup // needs CAP_BLOCK_SUSPEND; Linux drops it silently
	fdn := int32(a[2])
	switch op {
	case unix.EPOLL_CTL_ADD:
		if inner, ok := fd.Impl().(*anon.Epoll); ok && inner.Watches(ep) {
			return 0, unix.ELOOP
		}
		return 0, ep.Add(fdn, fd, events, data)
	case unix.EPOLL_CTL_MOD:
		return 0, ep.Modify(fdn, fd, events, data)
	case unix.EPOLL_CTL_DEL:
		return 0, ep.Delete(fdn, fd)
	}
	return 0, unix.EINVAL
}

// epollEventSize is sizeof(struct epoll_event) on x86-64 (packed).
const epollEventSize = abi.SizeofEpollEvent

// maxEpollEvents is Linux's EP_MAX_EVENTS.
const maxEpollEvents = (1<<31 - 1) / epollEventSize

func epollWait(t *kernel.Task, epfdn, evAddr uint64, maxEvents int32, deadline time.Time, noWait bool) (uint64, error) {
	if maxEvents <= 0 || maxEvents > maxEpollEvents {
		return 0, unix.EINVAL
	}
	epfd, err := getFD(t, epfdn)
	if err != nil {
		return 0, err
	}
	defer epfd.DecRef()
	ep, ok := epfd.Impl().(*anon.Epoll)
	if !ok {
		return 0, unix.EINVAL
	}
	// Linux checks only that the array lies in the user address space (access_ok): an
	// unmapped one is EFAULT when there are events to store, found before they are taken
	// so that none is lost.
	size := uint64(maxEvents) * epollEventSize
	if evAddr > taskSizeMax-size {
		return 0, unix.EFAULT
	}
	for {
		if ep.Readiness(waiter.EventIn) != 0 {
			if _, err := t.MM().Ranges(evAddr, int(size), true); err != nil {
				return 0, unix.EFAULT
			}
		}
		evs := ep.Collect(int(maxEvents))
		if len(evs) > 0 {
			b := make([]byte, len(evs)*epollEventSize)
			for i, e := range evs {
				(&abi.EpollEvent{Events: e.Events, Data: e.Data}).Encode(b[i*epollEventSize:])
			}
			if _, err := t.CopyOut(evAddr, b); err != nil {
				return 0, unix.EFAULT
			}
			return uint64(len(evs)), nil
		}
		if noWait {
			return 0, nil
		}
		// Wait for the instance's own queue (kernel files) and any host files in it.
		if err := t.WaitAny(epfd, waiter.EventIn, ep.HostWaits(), deadline); err != nil {
			if err == unix.ETIMEDOUT {
				return 0, nil
			}
			return 0, err
		}
	}
}

func epollTimeout(ms int32) (time.Time, bool) {
	switch {
	case ms == 0:
		return time.Time{}, true
	case ms < 0:
		return time.Time{}, false
	}
	return time.Now().Add(time.Duration(ms) * time.Millisecond), false
}

// EpollWait implements epoll_wait(2).
func EpollWait(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	deadline, noWait := epollTimeout(int32(a[3]))
	return epollWait(t, a[0], a[1], int32(a[2]), deadline, noWait)
}

// EpollPwait implements epoll_pwait(2): epoll_wait under the signal mask at a[4].
func EpollPwait(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	deadline, noWait := epollTimeout(int32(a[3]))
	return withWaitSigmask(t, a[4], a[5], func() (uint64, error) {
		return epollWait(t, a[0], a[1], int32(a[2]), deadline, noWait)
	})
}

// EpollPwait2 implements epoll_pwait2(2): the timeout is a timespec (NULL: forever).
func EpollPwait2(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	deadline, noWait, err := timespecTimeout(t, a[3])
	if err != nil {
		return 0, err
	}
	return withWaitSigmask(t, a[4], a[5], func() (uint64, error) {
		return epollWait(t, a[0], a[1], int32(a[2]), deadline, noWait)
	})
}

// eventfdIDs numbers a kernel's eventfds for fdinfo's eventfd-id (Linux takes the lowest
// free number of an IDA; these count up).
type eventfdIDs struct{ atomic.Int64 }

func eventfdIDsOf(k *kernel.Kernel) *eventfdIDs {
	return kernel.StateOf(k, func(*kernel.Kernel) *eventfdIDs { return &eventfdIDs{} })
}
