package seccomp

import (
	"sync"

	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// User notification (SECCOMP_RET_USER_NOTIF): a filter made with
// SECCOMP_FILTER_FLAG_NEW_LISTENER has a Listener, whose file descriptor a supervisor
// reads notifications from (SECCOMP_IOCTL_NOTIF_RECV) and answers (SECCOMP_IOCTL_NOTIF_SEND)
// while the notifying task waits.
//
//	task                          Listener                     supervisor
//	 Notify ──────────────────▶ pending (init) ──── Recv ────▶ (sent)
//	 waits on Notif.done                                        AddFD*, Send
//	 ◀──────────── done closed ◀── replied ◀──────────────────────┘
//
// Lock order: Listener.mu only; waker callbacks run without it.

// Notification states.
const (
	notifInit = iota
	notifSent
	notifReplied
)

// POLLRDNORM and POLLWRNORM (include/uapi/asm-generic/poll.h).
const (
	pollRdNorm = 0x40
	pollWrNorm = 0x100
)

// FlagContinue is SECCOMP_USER_NOTIF_FLAG_CONTINUE: the syscall runs as if allowed.
const FlagContinue = 1

// Notif is one system call waiting for its supervisor.
type Notif struct {
	ID   uint64
	TID  int32
	Data Data

	// state, Val, Error, Flags are protected by the listener's mu.
	state int
	// Val, Error and Flags are the supervisor's answer.
	Val   int64
	Error int32
	Flags uint32
	// Target is the notifying task's (for ADDFD); opaque here.
	Target any
	// wake is called when the notification is answered or the listener goes.
	wake func()
}

// Listener is the supervisor's side of a filter's notifications.
type Listener struct {
	// Queue is notified when a notification arrives (EventIn) or is received (EventOut).
	Queue waiter.Queue

	mu sync.Mutex
	// next is the next notification ID; pending the unanswered notifications in arrival
	// order; closed is set when the listener's file is gone. protected by mu
	next    uint64
	pending []*Notif
	closed  bool
	// users counts the tasks whose filter chain holds this listener's filter; once it
	// falls back to zero the listener reports POLLHUP (no one can notify any more).
	// protected by mu
	users int
}

// AddUser records one more task filtered by the listener's filter.
func (l *Listener) AddUser() {
	l.mu.Lock()
	l.users++
	l.mu.Unlock()
}

// DropUser records a task that no longer runs the filter (it exited); the last one hangs
// the listener up.
func (l *Listener) DropUser() {
	l.mu.Lock()
	l.users--
	gone := l.users == 0
	l.mu.Unlock()
	if gone {
		l.Queue.Notify(waiter.EventHUp)
	}
}

// NewListener returns a listener with no notifications.
func NewListener() *Listener { return &Listener{next: 1} }

// Notify queues a notification for (task, data); wake is called when it is answered or the
// listener closes. It returns nil when the listener is closed (the syscall fails ENOSYS).
func (l *Listener) Notify(tid int32, d Data, target any, wake func()) *Notif {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	n := &Notif{ID: l.next, TID: tid, Data: d, Target: target, wake: wake}
	l.next++
	l.pending = append(l.pending, n)
	l.mu.Unlock()
	l.Queue.Notify(waiter.EventIn)
	return n
}

// Result reports whether n was answered, and whether the listener went away first.
func (l *Listener) Result(n *Notif) (replied, closed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return n.state == notifReplied, l.closed && n.state != notifReplied
}

// Cancel withdraws an unanswered notification (its task was interrupted).
func (l *Listener) Cancel(n *Notif) {
	l.mu.Lock()
	l.removeLocked(n)
	l.mu.Unlock()
}

func (l *Listener) removeLocked(n *Notif) {
	for i, p := range l.pending {
		if p == n {
			l.pending = append(l.pending[:i], l.pending[i+1:]...)
			return
		}
	}
}

// Recv takes the oldest notification not yet received, or returns nil (EAGAIN to wait).
// Unrecv puts it back when it could not be copied to the supervisor.
func (l *Listener) Recv() *Notif {
	l.mu.Lock()
	var got *Notif
	for _, n := range l.pending {
		if n.state == notifInit {
			n.state = notifSent
			got = n
			break
		}
	}
	l.mu.Unlock()
	if got != nil {
		l.Queue.Notify(waiter.EventOut)
	}
	return got
}

// Unrecv undoes Recv.
func (l *Listener) Unrecv(n *Notif) {
	l.mu.Lock()
	if n.state == notifSent {
		n.state = notifInit
	}
	l.mu.Unlock()
}

// Sent returns the received, unanswered notification with id: ENOENT if there is none,
// EINPROGRESS if it was not received yet.
func (l *Listener) Sent(id uint64) (*Notif, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range l.pending {
		if n.ID == id {
			if n.state != notifSent {
				return nil, unix.EINPROGRESS
			}
			return n, nil
		}
	}
	return nil, unix.ENOENT
}

// Reply answers notification id (SECCOMP_IOCTL_NOTIF_SEND).
func (l *Listener) Reply(id uint64, val int64, errno int32, flags uint32) error {
	l.mu.Lock()
	var n *Notif
	for _, p := range l.pending {
		if p.ID == id {
			n = p
		}
	}
	if n == nil {
		l.mu.Unlock()
		return unix.ENOENT
	}
	if n.state != notifSent {
		l.mu.Unlock()
		return unix.EINPROGRESS
	}
	n.state, n.Val, n.Error, n.Flags = notifReplied, val, errno, flags
	l.removeLocked(n)
	wake := n.wake
	l.mu.Unlock()
	wake()
	return nil
}

// Readiness is the listener file's poll state.
func (l *Listener) Readiness(mask uint32) uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var r uint32
	for _, n := range l.pending {
		switch n.state {
		case notifInit:
			r |= waiter.EventIn | pollRdNorm
		case notifSent:
			r |= waiter.EventOut | pollWrNorm
		}
	}
	if l.users == 0 {
		r |= waiter.EventHUp // seccomp_notify_poll: the filter has no users left
	}
	return r & mask
}

// Close ends the listener (its file was released): waiting tasks fail with ENOSYS, and so
// will later notifications.
func (l *Listener) Close() {
	l.mu.Lock()
	l.closed = true
	pending := l.pending
	l.pending = nil
	l.mu.Unlock()
	for _, n := range pending {
		n.wake()
	}
}
