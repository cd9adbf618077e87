package ptrace

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// Placement: which CPU each context runs on. A context is a pair of threads that hand off
// to each other (its kernel thread, locked to the task's goroutine, and the thread of the
// stub running its app code) and both are pinned to one CPU, where a hand-off costs a
// same-CPU switch (~1 µs here). Tasks also wake each other (pipes, futexes, wait4,
// signals): the waker writes the wakee's event FD and the host wakes the wakee's kernel
// thread on that thread's CPU. Measured on this 2-vCPU PVM guest, a wake-up of a thread
// pinned to the other CPU costs 30-80 µs (an IPI to a halted vCPU goes through the
// hypervisor), against ~1 µs on the waker's own CPU: two contexts ping-ponging take 52 µs a
// round on one CPU and 220-400 µs on two. But one CPU for a whole sandbox takes the second
// CPU from apps that compute in parallel (make -j, worker pools, browsers).
//
// So the policy follows Linux's wake-affine idea, with the numbers the kernel gives it:
//
//   - pull: when a context wakes another that sleeps in the kernel on another CPU, the
//     wakee moves to the waker's CPU (before the wake-up, so that the wake-up itself is a
//     local one) if the two fit there: the CPU use of the contexts awake on the waker's CPU
//     plus the wakee's own stays within one CPU. A context that computes does not fit
//     next to another that computes, so busy contexts are not pulled together;
//   - spread: every context measures, over windows of at least placeWindow, the share of
//     the wall time it used the CPU (util) and the share it wanted the CPU and did not get
//     it (starve: awake, not sleeping in the kernel, not running). A context that starved
//     while busy, beside a busy neighbour that starved too, moves to the CPU with the
//     least load, if that evens the load out, and is not pulled back for spreadHold;
//   - a new context starts on the least-loaded CPU; the first wake-up of a prestarted one
//     (the kernel handing it a new task) is a wake like the others, so a fork from a
//     shell starts next to the shell.
//
// Every move is rate-limited (moveGap a context) and costs a sched_setaffinity of the
// sleeping kernel thread (by the waker) and one of each stub thread (by the context itself
// before it next runs app code). Loads count only this sandbox's contexts: the host's
// other load is invisible here, and a CPU busy with it cannot be told from an idle one
// (a context that starves there finds no better CPU among its own and stays).
const (
	placeWindow = 10 * time.Millisecond
	moveGap     = 2 * time.Millisecond
	spreadHold  = 50 * time.Millisecond
	// starveMin is the share of a window a context spent runnable but off the CPU that
	// says its CPU is contended (if a neighbour there starves too); busyMin the CPU use
	// that makes a context worth moving for it.
	starveMin = 0.25
	busyMin   = 0.1
	// sleptMax is the most a context may have slept in a window to be moved for CPU time.
	// Two contexts that take turns (a pipe or futex ping-pong) each wait for the CPU while
	// the other finishes its turn, a third of the time (measured), as two that compute do;
	// but they sleep a fifth of it too, which the computing ones do not, and apart they
	// lose far more to wake-ups across CPUs than they gain.
	sleptMax = 0.1
	// utilPrior is the CPU use assumed for a context not measured yet: more than half a
	// CPU, so that two new tasks (a thread pool starting) do not fit on one CPU together,
	// but a new task fits next to a creator that mostly waits (a shell, make).
	utilPrior = 0.6
	// fitMax is how much CPU use one CPU takes.
	fitMax = 1.0
	// placeEvery: a running context looks at its window every placeEvery switches.
	placeEvery = 16
)

// placeState is the policy's view of one context. cpu and asleep are atomics (the context
// reads cpu, and sets asleep, without the lock); the rest is guarded by policy.mu.
type placeState struct {
	cpu    atomic.Int32
	asleep atomic.Bool
	// util is the context's CPU use per wall time (smoothed); measured says it is known;
	// starve is the share of its last window it was runnable but not running.
	util, starve float64
	measured     bool
	// lastMove is when it last moved; holdUntil, until when it may not be pulled (ns on
	// the policy's clock).
	lastMove, holdUntil int64
}

// policy places the contexts of one platform. It makes decisions only; its callers move
// threads. Times are nanoseconds on any monotonic clock.
type policy struct {
	mu sync.Mutex
	// cpus are the CPUs the platform may use. protected by mu
	cpus []int
	// members are the placed contexts. protected by mu
	members map[*placeState]struct{}
	next    int // round-robin start among equally loaded CPUs. protected by mu
	// pulls and spreads count the moves made (for tests and debugging).
	pulls, spreads atomic.Int64
}

func newPolicy(cpus []int) *policy {
	return &policy{cpus: cpus, members: map[*placeState]struct{}{}}
}

func (st *placeState) use() float64 {
	if !st.measured {
		return utilPrior
	}
	return st.util
}

// loadLocked is the CPU use of the awake contexts on cpu but except. Preconditions: mu held.
func (pl *policy) loadLocked(cpu int, except *placeState) float64 {
	l := 0.0
	for st := range pl.members {
		if st != except && int(st.cpu.Load()) == cpu && !st.asleep.Load() {
			l += st.use()
		}
	}
	return l
}

// join places a new context and returns its CPU: the least-loaded one, equal loads taken
// in turn.
func (pl *policy) join(st *placeState, now int64) int {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	best, bestLoad := -1, 0.0
	for i := range pl.cpus {
		c := pl.cpus[(pl.next+i)%len(pl.cpus)]
		if l := pl.loadLocked(c, nil); best < 0 || l < bestLoad {
			best, bestLoad = c, l
		}
	}
	pl.next++
	st.cpu.Store(int32(best))
	st.lastMove = now - int64(moveGap) // free to move at once
	pl.members[st] = struct{}{}
	return best
}

// leave forgets a context.
func (pl *policy) leave(st *placeState) {
	pl.mu.Lock()
	delete(pl.members, st)
	pl.mu.Unlock()
}

// wakeLocked decides, as waker is about to wake wakee, whether wakee moves: to waker's CPU
// if the two fit there, else off a CPU it does not fit on to the least-loaded one it fits
// on (a new task's context, handed over by Run, was placed when it was prestarted, on the
// loads of then). If so it records the move and returns the CPU. Preconditions: mu held.
func (pl *policy) wakeLocked(now int64, waker, wakee *placeState) (int, bool) {
	if _, ok := pl.members[wakee]; !ok || !wakee.asleep.Load() {
		return 0, false
	}
	if _, ok := pl.members[waker]; !ok || waker == wakee {
		return 0, false
	}
	if now-wakee.lastMove < int64(moveGap) || now < wakee.holdUntil {
		return 0, false
	}
	use, cur := wakee.use(), int(wakee.cpu.Load())
	fits := func(c int) bool { return pl.loadLocked(c, wakee)+use <= fitMax }
	cpu := int(waker.cpu.Load())
	if cpu == cur || !fits(cpu) {
		if fits(cur) {
			return 0, false
		}
		cpu = -1
		best := 0.0
		for _, c := range pl.cpus {
			if l := pl.loadLocked(c, wakee); c != cur && l+use <= fitMax && (cpu < 0 || l < best) {
				cpu, best = c, l
			}
		}
		if cpu < 0 {
			return 0, false
		}
	}
	wakee.cpu.Store(int32(cpu))
	wakee.lastMove = now
	pl.pulls.Add(1)
	return cpu, true
}

// windowLocked takes a context's measurement of its last window (util: CPU use per wall
// time; starve: share of the wall time it was runnable but not running; slept: share of
// it slept in the kernel) and decides
// whether it moves to another CPU for CPU time; if so it records the move and returns the
// CPU. Preconditions: mu held.
func (pl *policy) windowLocked(now int64, st *placeState, util, starve, slept float64) (int, bool) {
	if _, ok := pl.members[st]; !ok {
		return 0, false
	}
	if st.measured {
		st.util = (st.util + util) / 2
	} else {
		st.util, st.measured = util, true
	}
	st.starve = starve
	mine := int(st.cpu.Load())
	if starve < starveMin || slept > sleptMax || st.util < busyMin || now-st.lastMove < int64(moveGap) {
		return 0, false
	}
	// Contention needs a contender: an awake, busy neighbour on the CPU that starves too.
	// A context alone in starving waits for what the kernel does not sleep through (a
	// gofer reply, a lock) or for the host's other load, which no move among this
	// sandbox's CPUs fixes.
	contended := false
	for o := range pl.members {
		if o != st && int(o.cpu.Load()) == mine && !o.asleep.Load() && o.starve >= starveMin && o.use() >= busyMin {
			contended = true
			break
		}
	}
	if !contended {
		return 0, false
	}
	here := pl.loadLocked(mine, nil)
	best, bestLoad := -1, 0.0
	for _, c := range pl.cpus {
		if c == mine {
			continue
		}
		// Only a move that evens the load out: the context's use counts on its new CPU.
		if l := pl.loadLocked(c, nil); l+st.util < here && (best < 0 || l < bestLoad) {
			best, bestLoad = c, l
		}
	}
	if best < 0 {
		return 0, false
	}
	st.cpu.Store(int32(best))
	st.lastMove, st.holdUntil = now, now+int64(spreadHold)
	pl.spreads.Add(1)
	return best, true
}

// placement is a context's side of the policy; only its goroutine touches it but for st.
type placement struct {
	st placeState
	on bool // the context takes part (its thread could be pinned)
	// winStart is when the current window began, winCPU the context's CPU time then,
	// slept the time it slept in the kernel since, sleepAt when its current sleep began.
	winStart, sleepAt int64
	winCPU, slept     time.Duration
	switches          int
}

// placeClock is the policy's clock.
var placeEpoch = time.Now()

func placeNow() int64 { return int64(time.Since(placeEpoch)) }

// platformCPUs lists the CPUs of set.
func platformCPUs(set *unix.CPUSet) []int {
	var cpus []int
	for c := 0; c < len(set)*64; c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus
}

// pin binds thread tid (0: the caller) to cpu.
func pin(tid, cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	return unix.SchedSetaffinity(tid, &set)
}

// placeNew places a new context and pins the calling thread (its own) there.
func (c *context) placeNew() {
	c.cpu = -1
	if len(c.p.policy.cpus) < 2 {
		// One CPU: nothing to choose; pinning still keeps the Go runtime from moving it.
		if len(c.p.policy.cpus) == 1 && pin(0, c.p.policy.cpus[0]) == nil {
			c.cpu = c.p.policy.cpus[0]
		}
		return
	}
	now := placeNow()
	cpu := c.p.policy.join(&c.pl.st, now)
	// Best effort: a restricted cpuset makes this fail, which only costs speed. Trap mode
	// pins too: its hand-offs are futex wake-ups and its address-space changes ptrace
	// injections, both cheapest on one CPU (measured: tar of /usr/share/doc 1.8-2.4 s
	// pinned, 2.5-7.4 s not, on this loaded 2-CPU machine).
	if pin(0, cpu) != nil {
		c.p.policy.leave(&c.pl.st)
		return
	}
	c.cpu = cpu
	c.pl.on = true
	c.pl.winStart = now
	c.p.byTid.Store(c.tid, c)
}

// unplace takes the context out of the policy (Release).
func (c *context) unplace() {
	if !c.pl.on {
		return
	}
	c.p.byTid.Delete(c.tid)
	pl := c.p.policy
	pl.mu.Lock()
	// Under the lock: no waker moves the thread after this.
	delete(pl.members, &c.pl.st)
	c.pl.on = false
	pl.mu.Unlock()
}

// Sleep implements platform.Placer.
func (c *context) Sleep() {
	if c.pl.on {
		c.pl.sleepAt = placeNow()
		c.pl.st.asleep.Store(true)
	}
}

// Awake implements platform.Placer.
func (c *context) Awake() {
	if !c.pl.on {
		return
	}
	c.pl.st.asleep.Store(false)
	now := placeNow()
	c.pl.slept += time.Duration(now - c.pl.sleepAt)
	c.placeWindow(now)
}

// Waking implements platform.Placer: on the waker's thread.
func (c *context) Waking() {
	if !c.pl.st.asleep.Load() {
		return
	}
	v, ok := c.p.byTid.Load(unix.Gettid())
	if !ok {
		return // not a context's thread: a timer, a host-file watcher
	}
	waker := v.(*context)
	pl := c.p.policy
	pl.mu.Lock()
	prev := c.pl.st.cpu.Load()
	if cpu, move := pl.wakeLocked(placeNow(), &waker.pl.st, &c.pl.st); move {
		// The thread sleeps in the kernel: setting its CPU now makes the wake-up that
		// follows a local one. Its stubs follow before it next runs app code.
		if pin(c.tid, cpu) != nil {
			c.pl.st.cpu.Store(prev)
			delete(pl.members, &c.pl.st)
		}
	}
	pl.mu.Unlock()
}

// placeSwitch runs before each switch into app code: it closes a window now and then and
// moves the context's stubs to where the policy put it.
func (c *context) placeSwitch() {
	if !c.pl.on {
		return
	}
	if c.pl.switches++; c.pl.switches%placeEvery == 0 {
		c.placeWindow(placeNow())
	}
	if cpu := int(c.pl.st.cpu.Load()); cpu != c.cpu {
		c.moveStubs(cpu)
	}
}

// placeWindow ends the current measurement window if it is long enough and lets the
// policy move the context for CPU time.
func (c *context) placeWindow(now int64) {
	wall := time.Duration(now - c.pl.winStart)
	if wall < placeWindow {
		return
	}
	u, s := c.CPUTime()
	used := u + s - c.pl.winCPU
	runnable := wall - c.pl.slept
	slept := float64(c.pl.slept) / float64(wall)
	c.pl.winStart, c.pl.winCPU, c.pl.slept = now, u+s, 0
	util := float64(used) / float64(wall)
	starve := float64(max(runnable-used, 0)) / float64(wall)
	pl := c.p.policy
	pl.mu.Lock()
	prev := c.pl.st.cpu.Load()
	cpu, move := pl.windowLocked(now, &c.pl.st, util, starve, slept)
	if move && pin(0, cpu) != nil {
		c.pl.st.cpu.Store(prev)
		delete(pl.members, &c.pl.st)
		move = false
	}
	pl.mu.Unlock()
	if move {
		c.moveStubs(cpu)
	}
}

// moveStubs moves the context's stub threads to cpu, the context's new CPU.
func (c *context) moveStubs(cpu int) {
	c.cpu = cpu
	for _, s := range c.stubs {
		s.moveTo(cpu)
	}
	if c.spare != nil {
		c.spare.moveTo(cpu)
	}
}

// moveTo pins the stub's threads to cpu (trap mode: its app thread leaves split mode).
func (s *stubProc) moveTo(cpu int) {
	if s.dead {
		return
	}
	// A thread of a shared stub moves only its own app thread: s.pid is the shared
	// stub's main thread, which serves every thread of the address space.
	if s.thread == nil {
		pin(s.pid, cpu)
	}
	if s.trap != nil {
		s.trap.ho.split = false
		pin(s.trap.appTid, cpu)
	}
}

var _ platform.Placer = (*context)(nil)
