package kernel

import (
	"fmt"
	"time"

	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// Blocking model: every task owns an event FD. Anything that may end a wait (a pipe getting
// data, a futex wake, a child exiting, a signal) writes to it. A blocked task sits in a
// host poll(2) on that event FD plus any host FDs it waits on, so one mechanism serves
// in-kernel objects and broker-donated host FDs alike, and a signal always interrupts it.

func (t *Task) wakeUp() {
	if t.sleeping.Load() {
		// The platform may move the sleeper next to its waker first (platform.Placer).
		if pl, ok := t.cpuCtx.Load().(platform.Placer); ok {
			pl.Waking()
		}
	}
	var one = [8]byte{1}
	unix.Write(t.wake, one[:])
}

// sleep waits for a wake-up, a ready host FD, or the deadline (zero: none). It returns
// EINTR if the task was interrupted, ETIMEDOUT at the deadline, nil otherwise.
func (t *Task) sleep(host []unix.PollFd, deadline time.Time) error {
	if c := t.call.Load(); c != nil && c.waitOn.Load() == nil {
		t.noteWait(func() string { return "a wake-up (a signal, a child, a lock, a message)" })
	}
	fds := make([]unix.PollFd, 0, len(host)+1)
	fds = append(fds, unix.PollFd{Fd: int32(t.wake), Events: unix.POLLIN})
	fds = append(fds, host...)
	for {
		if t.interrupted.Load() {
			return unix.EINTR
		}
		timeout := -1
		if !deadline.IsZero() {
			d := time.Until(deadline)
			if d <= 0 {
				return unix.ETIMEDOUT
			}
			timeout = int((d + time.Millisecond - 1) / time.Millisecond)
		}
		pl, _ := t.ctx.(platform.Placer)
		if pl != nil {
			pl.Sleep()
		}
		t.sleeping.Store(true)
		n, err := unix.Poll(fds, timeout)
		t.sleeping.Store(false)
		if pl != nil {
			pl.Awake()
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			continue // re-check the deadline
		}
		if fds[0].Revents != 0 {
			var buf [8]byte
			unix.Read(t.wake, buf[:])
		}
		if t.interrupted.Load() {
			return unix.EINTR
		}
		for i := 1; i < len(fds); i++ {
			host[i-1].Revents = fds[i].Revents
		}
		return nil
	}
}

// Interrupted reports (and the syscall layer uses) whether the task must stop waiting.
func (t *Task) Interrupted() bool { return t.interrupted.Load() }

// Killed reports whether the task is exiting.
func (t *Task) Killed() bool { return t.killed.Load() }

// WaitFile blocks until fd is ready for mask, the deadline passes (ETIMEDOUT), or the task
// is interrupted (EINTR).
func (t *Task) WaitFile(fd *vfs.FileDescription, mask uint32, deadline time.Time) error {
	t.noteWait(fileWaitName(fd))
	impl := fd.Impl()
	if hfd, ok := vfs.HostPollFD(impl); ok {
		pfd := []unix.PollFd{{Fd: int32(hfd), Events: int16(mask)}}
		return t.sleep(pfd, deadline)
	}
	p, ok := impl.(vfs.Pollable)
	if !ok {
		return nil // always ready
	}
	e := &waiter.Entry{Mask: mask | waiter.EventHUp | waiter.EventErr, Callback: func(uint32) { t.wakeUp() }}
	p.EventRegister(e)
	defer p.EventUnregister(e)
	if p.Readiness(mask) != 0 {
		return nil
	}
	return t.sleep(nil, deadline)
}

// WaitAny blocks until the kernel file fd is ready for mask or one of the host FDs has an
// event, the deadline passes (ETIMEDOUT), or the task is interrupted (EINTR). epoll waits
// this way on its own queue plus the host files it watches.
func (t *Task) WaitAny(fd *vfs.FileDescription, mask uint32, host []unix.PollFd, deadline time.Time) error {
	t.noteWait(fileWaitName(fd))
	p, ok := fd.Impl().(vfs.Pollable)
	if !ok {
		return nil
	}
	e := &waiter.Entry{Mask: mask | waiter.EventHUp | waiter.EventErr, Callback: func(uint32) { t.wakeUp() }}
	p.EventRegister(e)
	defer p.EventUnregister(e)
	if p.Readiness(mask) != 0 {
		return nil
	}
	return t.sleep(host, deadline)
}

// PollItem is one file in a poll set.
type PollItem struct {
	FD      *vfs.FileDescription // nil: skipped (negative fd)
	Events  uint32
	Revents uint32
}

// Poll implements the waiting part of poll/ppoll/select: it fills Revents and returns how
// many items are ready, waiting until one is, the deadline passes, or a signal arrives.
func (t *Task) Poll(items []PollItem, deadline time.Time, noWait bool) (int, error) {
	t.noteWait(func() string {
		var names []string
		for _, it := range items {
			if it.FD != nil {
				names = append(names, fileWaitName(it.FD)())
			}
		}
		return fmt.Sprintf("poll of %v", names)
	})
	var host []unix.PollFd
	var hostIdx []int
	var entries []*waiter.Entry
	var pollables []vfs.Pollable
	defer func() {
		for i, p := range pollables {
			p.EventUnregister(entries[i])
		}
	}()
	always := waiter.EventHUp | waiter.EventErr | waiter.EventNVal
	registered := false
	for {
		ready := 0
		host, hostIdx = host[:0], hostIdx[:0]
		for i := range items {
			it := &items[i]
			it.Revents = 0
			if it.FD == nil {
				continue
			}
			impl := it.FD.Impl()
			if hfd, ok := vfs.HostPollFD(impl); ok {
				host = append(host, unix.PollFd{Fd: int32(hfd), Events: int16(it.Events)})
				hostIdx = append(hostIdx, i)
				continue
			}
			switch f := impl.(type) {
			case vfs.Pollable:
				it.Revents = f.Readiness(it.Events|always) & (it.Events | always)
				if !registered {
					e := &waiter.Entry{Mask: it.Events | always, Callback: func(uint32) { t.wakeUp() }}
					f.EventRegister(e)
					entries = append(entries, e)
					pollables = append(pollables, f)
				}
			default:
				it.Revents = it.Events & (waiter.EventIn | waiter.EventOut | waiter.EventRdNorm | 0x100 /*WRNORM*/)
			}
			if it.Revents != 0 {
				ready++
			}
		}
		registered = true
		if len(host) > 0 {
			if _, err := unix.Poll(host, 0); err != nil && err != unix.EINTR {
				return 0, err
			}
			for j, h := range host {
				if h.Revents != 0 {
					items[hostIdx[j]].Revents = vfs.HostEvents(items[hostIdx[j]].FD.Impl(), uint32(uint16(h.Revents)))
					ready++
				}
			}
		}
		if ready > 0 || noWait {
			return ready, nil
		}
		for j := range host {
			host[j].Revents = 0
		}
		if err := t.sleep(host, deadline); err != nil {
			if err == unix.ETIMEDOUT {
				return 0, nil
			}
			return 0, err
		}
	}
}

// Sleep blocks until the deadline or an interruption (nanosleep).
func (t *Task) Sleep(deadline time.Time) error {
	t.noteWait(func() string { return "the clock until " + deadline.Format(time.TimeOnly) })
	err := t.sleep(nil, deadline)
	if err == unix.ETIMEDOUT {
		return nil
	}
	if err == nil {
		// A spurious wake-up: keep sleeping.
		for err == nil {
			err = t.sleep(nil, deadline)
		}
		if err == unix.ETIMEDOUT {
			return nil
		}
	}
	return err
}

// Wake ends the task's current (or next) Block.
func (t *Task) Wake() { t.wakeUp() }

// Block waits for a Wake, the deadline (zero: none; ETIMEDOUT), or an interruption
// (EINTR). Wake-ups may be spurious: callers re-check what they wait for.
func (t *Task) Block(deadline time.Time) error { return t.sleep(nil, deadline) }
