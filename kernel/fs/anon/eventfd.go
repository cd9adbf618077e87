// Package anon implements files without a path (anonymous inodes): eventfd(2) files,
// timerfd_create(2) files and epoll instances.
//
// Like pipes, these files never block: an empty read or an overflowing write returns EAGAIN
// and the syscall layer waits on the file's queue when the description is blocking.
package anon

import (
	"fmt"
	"sync"

	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// maxValue is the largest value the counter may hold (2^64 - 2).
const maxValue = ^uint64(0) - 1

// EventFD is an eventfd: a 64-bit counter that writes add to and reads take (all of it, or
// one in semaphore mode).
type EventFD struct {
	queue     waiter.Queue
	semaphore bool
	id        int64 // eventfd-id of fdinfo

	mu sync.Mutex
	// count is the counter. protected by mu
	count uint64
}

var (
	_ vfs.Stream   = (*EventFD)(nil)
	_ vfs.Pollable = (*EventFD)(nil)
)

// NewEventFD returns an eventfd with the initial value and semaphore semantics if asked.
// id is what fdinfo's eventfd-id shows.
func NewEventFD(initial uint64, semaphore bool, id int64) *EventFD {
	return &EventFD{count: initial, semaphore: semaphore, id: id}
}

// Fdinfo implements vfs.FdinfoShower as eventfd_show_fdinfo.
func (e *EventFD) Fdinfo() string {
	e.mu.Lock()
	count := e.count
	e.mu.Unlock()
	sem := 0
	if e.semaphore {
		sem = 1
	}
	return fmt.Sprintf("eventfd-count: %16x\neventfd-id: %d\neventfd-semaphore: %d\n", count, e.id, sem)
}

// IsStream implements vfs.Stream.
func (*EventFD) IsStream() bool { return true }

// NoopSeek implements vfs.NoopSeeker: lseek succeeds and changes nothing.
func (*EventFD) NoopSeek() {}

// Read takes the counter (or one) as an 8-byte value.
func (f *EventFD) Read(_ *vfs.FileDescription, dst [][]byte, _ int64) (int64, error) {
	if total(dst) < 8 {
		return 0, unix.EINVAL
	}
	f.mu.Lock()
	if f.count == 0 {
		f.mu.Unlock()
		return 0, unix.EAGAIN
	}
	v := f.count
	if f.semaphore {
		v = 1
	}
	f.count -= v
	f.mu.Unlock()
	var b [8]byte
	abi.PutU64(b[:], v)
	scatter(dst, b[:])
	f.queue.Notify(waiter.EventOut)
	return 8, nil
}

// Write adds an 8-byte value to the counter: a write of any other size is EINVAL (as on
// Linux 6.x; a read takes any buffer of at least 8).
func (f *EventFD) Write(_ *vfs.FileDescription, src [][]byte, _ int64) (int64, error) {
	if total(src) != 8 {
		return 0, unix.EINVAL
	}
	var b [8]byte
	gather(b[:], src)
	v := abi.U64(b[:])
	if v == ^uint64(0) {
		return 0, unix.EINVAL
	}
	f.mu.Lock()
	if maxValue-f.count < v {
		f.mu.Unlock()
		return 0, unix.EAGAIN
	}
	f.count += v
	f.mu.Unlock()
	if v > 0 {
		f.queue.Notify(waiter.EventIn | waiter.EventRdNorm)
	}
	return 8, nil
}

// Readiness implements vfs.Pollable.
func (f *EventFD) Readiness(mask uint32) uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var r uint32
	if f.count > 0 {
		r |= waiter.EventIn | waiter.EventRdNorm
	}
	if f.count < maxValue {
		r |= waiter.EventOut | 0x100 // POLLWRNORM
	}
	return r & mask
}

// EventRegister implements vfs.Pollable.
func (f *EventFD) EventRegister(e *waiter.Entry) { f.queue.EventRegister(e) }

// EventUnregister implements vfs.Pollable.
func (f *EventFD) EventUnregister(e *waiter.Entry) { f.queue.EventUnregister(e) }

// Release implements vfs.File.
func (f *EventFD) Release() {}

// Value returns the counter, for /proc/PID/fdinfo.
func (f *EventFD) Value() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count
}

func total(bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
}

// scatter copies src over the start of dst.
func scatter(dst [][]byte, src []byte) {
	for _, d := range dst {
		if len(src) == 0 {
			return
		}
		src = src[copy(d, src):]
	}
}

// gather fills dst from the start of src.
func gather(dst []byte, src [][]byte) {
	for _, s := range src {
		if len(dst) == 0 {
			return
		}
		dst = dst[copy(dst, s):]
	}
}
