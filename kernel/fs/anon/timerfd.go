package anon

import (
	"sync"
	"time"

	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// TimerFD is a timerfd: a timer whose expirations are read as an 8-byte count. Times are
// kept on Go's monotonic clock; CLOCK_REALTIME absolute settings are converted when set.
type TimerFD struct {
	queue waiter.Queue
	clock int32

	mu sync.Mutex
	// next is the next expiry (zero: disarmed); interval the period (zero: one-shot);
	// expired counts expirations not read yet; timer wakes the queue at next. protected by mu
	next     time.Time
	interval time.Duration
	expired  uint64
	timer    *time.Timer
}

var (
	_ vfs.Stream   = (*TimerFD)(nil)
	_ vfs.Pollable = (*TimerFD)(nil)
)

// NewTimerFD returns a disarmed timer on clock.
func NewTimerFD(clock int32) *TimerFD { return &TimerFD{clock: clock} }

// IsStream implements vfs.Stream.
func (*TimerFD) IsStream() bool { return true }

// NoopSeek implements vfs.NoopSeeker: lseek succeeds and changes nothing.
func (*TimerFD) NoopSeek() {}

// updateLocked moves expirations that have passed into expired.
func (f *TimerFD) updateLocked(now time.Time) {
	if f.next.IsZero() || now.Before(f.next) {
		return
	}
	if f.interval == 0 {
		f.expired++
		f.next = time.Time{}
		return
	}
	n := uint64(now.Sub(f.next)/f.interval) + 1
	f.expired += n
	f.next = f.next.Add(time.Duration(n) * f.interval)
}

// armLocked schedules the wake-up for the next expiry.
func (f *TimerFD) armLocked(now time.Time) {
	if f.timer != nil {
		f.timer.Stop()
		f.timer = nil
	}
	if f.next.IsZero() {
		return
	}
	f.timer = time.AfterFunc(f.next.Sub(now), func() {
		f.mu.Lock()
		now := time.Now()
		f.updateLocked(now)
		f.armLocked(now)
		f.mu.Unlock()
		f.queue.Notify(waiter.EventIn | waiter.EventRdNorm)
	})
}

// Set arms (value > 0) or disarms the timer and returns the previous setting, as
// timerfd_settime(2). abs says value is an absolute time on the timer's clock.
func (f *TimerFD) Set(value, interval time.Duration, abs bool) (oldValue, oldInterval time.Duration) {
	f.mu.Lock()
	now := time.Now()
	f.updateLocked(now)
	oldValue, oldInterval = f.remainingLocked(now), f.interval
	f.expired = 0
	f.interval = interval
	switch {
	case value == 0:
		f.next = time.Time{}
	case abs:
		f.next = now.Add(value - clockNow(f.clock))
	default:
		f.next = now.Add(value)
	}
	f.updateLocked(now)
	f.armLocked(now)
	fired := f.expired > 0
	f.mu.Unlock()
	if fired {
		f.queue.Notify(waiter.EventIn | waiter.EventRdNorm)
	}
	return oldValue, oldInterval
}

// Get returns the time to the next expiry (zero: disarmed) and the interval.
func (f *TimerFD) Get() (value, interval time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	f.updateLocked(now)
	return f.remainingLocked(now), f.interval
}

func (f *TimerFD) remainingLocked(now time.Time) time.Duration {
	if f.next.IsZero() {
		return 0
	}
	// An armed timer never reports zero, which would read as disarmed.
	return max(f.next.Sub(now), time.Nanosecond)
}

// clockNow returns the current time of clock as a duration since its epoch.
func clockNow(clock int32) time.Duration {
	var ts unix.Timespec
	unix.ClockGettime(clock, &ts)
	return time.Duration(ts.Nano())
}

// Read returns the number of expirations since the last read.
func (f *TimerFD) Read(_ *vfs.FileDescription, dst [][]byte, _ int64) (int64, error) {
	if total(dst) < 8 {
		return 0, unix.EINVAL
	}
	f.mu.Lock()
	f.updateLocked(time.Now())
	n := f.expired
	f.expired = 0
	f.mu.Unlock()
	if n == 0 {
		return 0, unix.EAGAIN
	}
	var b [8]byte
	abi.PutU64(b[:], n)
	scatter(dst, b[:])
	return 8, nil
}

// Write implements vfs.File: timerfds are not writable.
func (f *TimerFD) Write(*vfs.FileDescription, [][]byte, int64) (int64, error) { return 0, unix.EINVAL }

// Readiness implements vfs.Pollable.
func (f *TimerFD) Readiness(mask uint32) uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updateLocked(time.Now())
	if f.expired > 0 {
		return (waiter.EventIn | waiter.EventRdNorm) & mask
	}
	return 0
}

// EventRegister implements vfs.Pollable.
func (f *TimerFD) EventRegister(e *waiter.Entry) { f.queue.EventRegister(e) }

// EventUnregister implements vfs.Pollable.
func (f *TimerFD) EventUnregister(e *waiter.Entry) { f.queue.EventUnregister(e) }

// Release stops the timer.
func (f *TimerFD) Release() {
	f.mu.Lock()
	if f.timer != nil {
		f.timer.Stop()
	}
	f.next = time.Time{}
	f.mu.Unlock()
}
