package ptrace

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The trap platform's hand-off policy: where a stub's app thread runs and how long each side
// polls for the other before it sleeps on the futex.
//
// Measured on this machine (2 vCPUs, PVM guest), one trapped getpid, median: delivering the
// SIGSYS 0.7 µs, handler to kernel 1.2 µs, kernel work 0.15 µs, kernel to handler 1.0 µs,
// rt_sigreturn 0.37 µs; 3.4 µs in all. The two hand-offs are futex wake-ups of a thread on
// the same CPU (a context switch each). Polling on one CPU only holds the CPU the other side
// needs; polling across CPUs costs ~0.13 µs a hand-off (the round trip drops to 2.1 µs) but a
// futex wake-up across CPUs costs 30-80 µs here. So:
//
//   - shared (the default): the app thread runs on its context's CPU (NewContext pins both)
//     and neither side polls beyond a few loads;
//   - split: while the app makes syscalls back to back (an event at least every
//     splitPeriod, sampled every sampleRounds round trips), its app thread moves to another
//     CPU and both sides poll for the other, for a budget learned from the recent period
//     (within spinMin..spinMax), before sleeping. Every poll that runs out is a miss (the
//     other side ran long, blocked, or was not running at all: the other CPU is busy), and
//     costs the poll plus a futex wake-up across CPUs, the saving of some 50 split round
//     trips. So more than maxMisses misses in missWindow round trips move the thread back
//     and keep it shared for a cool-down that doubles with every failed try (up to
//     coolMax; cleanWindows windows in a row without a miss halve it), so a busy machine,
//     a blocking app (pipes, futexes) or one computing between syscalls stays shared, and
//     tries that keep failing soon grow rare.
//
// Nothing here is trusted from the shared area but the hand-off word: the app may write
// C_SPIN (it only makes its own handler poll longer, burning its own time) and the sleep
// flags (which only cost a futex call or a missed poll).
const (
	splitPeriod  = 20 * time.Microsecond
	sampleRounds = 8
	spinMin      = 4 * time.Microsecond
	spinMax      = 50 * time.Microsecond
	missWindow   = 64
	maxMisses    = 2
	cleanWindows = 4
	coolMin      = 2 * time.Millisecond
	coolMax      = time.Second
	// kernelPolls is how often the kernel looks at the hand-off word before sleeping when
	// shared: a few loads, for an event already published.
	kernelPolls = 100
)

// Platform.autoSplit lets the policy split a stub on its own. It is off: on a quiet 2-vCPU machine
// splitting took a getpid loop from 27x to 14x native but left open+read+close, mmap, pipes,
// futexes, python3, sh and tar where they were, and made a TCP connect+close loop through
// the net broker 1.5x slower (65-70 µs to about 105 µs a connection: the stub's poll runs
// out while the kernel waits on the broker, and every try costs a CPU move and a futex
// wake-up across CPUs). Until the policy tells such waits apart, shared is the default;
// tests and benchmarks still set split directly.

// cpuRelax is one PAUSE instruction (trapstub_amd64.s).
func cpuRelax()

// pauseNanos is about how long one poll of the stub's loop (a PAUSE) takes here, so a budget
// in time can be given to the stub as a count.
var pauseNanos = sync.OnceValue(func() float64 {
	best := 1e9
	for range 5 {
		start := time.Now()
		for range 2000 {
			cpuRelax()
		}
		if d := float64(time.Since(start).Nanoseconds()) / 2000; d < best {
			best = d
		}
	}
	return min(max(best, 1), 200)
})

// handoff is a stub's hand-off state; only its context's goroutine touches it.
type handoff struct {
	split bool
	// never says the app thread cannot be moved (no second CPU, or affinity refused).
	never bool
	// period is the mean time between events over the last sample (ns).
	period int64
	// rounds counts round trips; lastSample is when the last sample ended.
	rounds     uint64
	lastSample time.Time
	// misses counts polls that ran out in the current window of missWindow rounds; clean
	// the windows in a row without one.
	misses, windowRounds, clean int
}

// splitCooling is the platform's cool-down of split mode: whether a second CPU is free
// enough is the machine's state, not one stub's, so a failed try holds every stub back
// (a shell starting a process per command would otherwise try once per process).
type splitCooling struct {
	cool  atomic.Int64 // the current cool-down (ns); 0 after a window with no trouble
	until atomic.Int64 // when stubs may split again (Unix ns)
}

// budget is how long each side polls when split.
func (h *handoff) budget() time.Duration {
	return min(max(2*time.Duration(h.period), spinMin), spinMax)
}

// beforeResume runs before each resume of the app thread: it samples the event rate, moves
// the app thread when the policy says so and tells the stub how long to poll.
func (s *stubProc) beforeResume() {
	ts := s.trap
	h := &ts.ho
	if h.rounds++; h.rounds%sampleRounds == 0 && !h.never {
		now := time.Now()
		if !h.lastSample.IsZero() {
			h.period = int64(now.Sub(h.lastSample)) / sampleRounds
		}
		h.lastSample = now
		switch {
		case s.ctx.p.autoSplit && !h.split && h.period > 0 && h.period < int64(splitPeriod) && now.UnixNano() >= s.ctx.p.cooling.until.Load():
			s.setSplit(true)
		case h.split && h.period > 2*int64(splitPeriod):
			// The app slowed down: no failure, no cool-down.
			s.setSplit(false)
		}
	}
	if h.split {
		if h.windowRounds++; h.windowRounds >= missWindow {
			if h.clean++; h.misses != 0 {
				h.clean = 0
			} else if h.clean >= cleanWindows {
				h.clean = 0
				pc := &s.ctx.p.cooling
				if cool := pc.cool.Load() / 2; cool < int64(coolMin) {
					pc.cool.Store(0)
				} else {
					pc.cool.Store(cool)
				}
			}
			h.windowRounds, h.misses = 0, 0
		}
		word(ts.shm, cSpin).Store(uint32(float64(h.budget()) / pauseNanos()))
	} else {
		word(ts.shm, cSpin).Store(0)
	}
}

// miss records a poll of either side that ran out while split.
func (s *stubProc) miss() {
	h := &s.trap.ho
	if !h.split {
		return
	}
	if h.misses++; h.misses > maxMisses {
		pc := &s.ctx.p.cooling
		cool := min(max(2*time.Duration(pc.cool.Load()), coolMin), coolMax)
		pc.cool.Store(int64(cool))
		pc.until.Store(time.Now().Add(cool).UnixNano())
		s.setSplit(false)
	}
}

// setSplit moves the app thread to another CPU than its context's (split) or back.
func (s *stubProc) setSplit(split bool) {
	h := &s.trap.ho
	cpu, n := s.ctx.cpu, s.ctx.p.ncpu
	if cpu < 0 || n < 2 {
		h.never, h.split = true, false
		return
	}
	if split {
		// The next CPU the platform may use after the context's.
		all := &s.ctx.p.cpus
		for i := 1; i < 1024; i++ {
			if c := (cpu + i) % 1024; all.IsSet(c) {
				cpu = c
				break
			}
		}
	}
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(s.trap.appTid, &set); err != nil {
		h.never, h.split = true, false
		return
	}
	h.split = split
	h.misses, h.windowRounds, h.clean = 0, 0, 0
}

// pollEvent polls the hand-off word for the app thread's next event for up to d.
func pollEvent(st *atomic.Uint32, d time.Duration) bool {
	start := time.Now()
	for i := 1; ; i++ {
		if v := st.Load(); v == stEvent || v == stFast {
			return true
		}
		cpuRelax()
		if i%64 == 0 && time.Since(start) > d {
			return false
		}
	}
}
