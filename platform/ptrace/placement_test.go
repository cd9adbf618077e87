package ptrace

import (
	"testing"
	"time"

	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// The placement policy's decisions, fed events by hand on a clock of its own: no threads,
// no timing.

const ms = int64(time.Millisecond)

// placed returns a policy over CPUs 0 and 1 and n contexts joined to it.
func placed(t *testing.T, n int) (*policy, []*placeState) {
	t.Helper()
	pl := newPolicy([]int{0, 1})
	sts := make([]*placeState, n)
	for i := range sts {
		sts[i] = &placeState{}
		pl.join(sts[i], 0)
	}
	return pl, sts
}

func wake(pl *policy, now int64, waker, wakee *placeState) (int, bool) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.wakeLocked(now, waker, wakee)
}

func window(pl *policy, now int64, st *placeState, util, starve, slept float64) (int, bool) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.windowLocked(now, st, util, starve, slept)
}

func measure(pl *policy, st *placeState, util float64) {
	pl.mu.Lock()
	st.util, st.measured = util, true
	pl.mu.Unlock()
}

func TestPlacementJoinSpreads(t *testing.T) {
	pl, sts := placed(t, 2)
	if a, b := sts[0].cpu.Load(), sts[1].cpu.Load(); a == b {
		t.Fatalf("two new awake contexts both joined CPU %d", a)
	}
	// A third joins the CPU whose context sleeps.
	sts[1].asleep.Store(true)
	c := &placeState{}
	if got := pl.join(c, 0); got != int(sts[1].cpu.Load()) {
		t.Errorf("joined CPU %d, want the one of the sleeping context (%d)", got, sts[1].cpu.Load())
	}
}

// Two contexts taking turns end on one CPU: the sleeping one is pulled to its waker.
func TestPlacementPullsSleepingWakee(t *testing.T) {
	pl, sts := placed(t, 2)
	a, b := sts[0], sts[1]
	measure(pl, a, 0.2)
	measure(pl, b, 0.2)
	// Awake: never moved by a wake-up (it is not sleeping in the kernel).
	if _, move := wake(pl, 10*ms, a, b); move {
		t.Fatal("an awake wakee was moved")
	}
	b.asleep.Store(true)
	cpu, move := wake(pl, 10*ms, a, b)
	if !move || cpu != int(a.cpu.Load()) || b.cpu.Load() != a.cpu.Load() {
		t.Fatalf("sleeping wakee not pulled to its waker's CPU: move %v to %d (waker on %d)", move, cpu, a.cpu.Load())
	}
	if pl.pulls.Load() != 1 {
		t.Errorf("pulls = %d, want 1", pl.pulls.Load())
	}
	// On one CPU: the next wake-ups move nothing.
	if _, move := wake(pl, 20*ms, a, b); move {
		t.Error("a wakee already on its waker's CPU was moved")
	}
}

func TestPlacementRateLimits(t *testing.T) {
	pl, sts := placed(t, 3)
	a, b, c := sts[0], sts[1], sts[2]
	for _, st := range sts {
		measure(pl, st, 0.1)
	}
	// c shares a CPU with a or b; make the wakers sit on different CPUs.
	b.cpu.Store(1 - a.cpu.Load())
	c.asleep.Store(true)
	c.cpu.Store(b.cpu.Load())
	if _, move := wake(pl, 10*ms, a, c); !move {
		t.Fatal("first pull refused")
	}
	// b wakes it back within moveGap: refused.
	if _, move := wake(pl, 10*ms+int64(moveGap)/2, b, c); move {
		t.Error("moved twice within moveGap")
	}
	if _, move := wake(pl, 10*ms+int64(moveGap), b, c); !move {
		t.Error("pull after moveGap refused")
	}
}

// Contexts that compute are not pulled together: they do not fit on one CPU.
func TestPlacementBusyDoNotFit(t *testing.T) {
	pl, sts := placed(t, 2)
	a, b := sts[0], sts[1]
	measure(pl, a, 0.9)
	measure(pl, b, 0.8)
	b.asleep.Store(true)
	if _, move := wake(pl, 10*ms, a, b); move {
		t.Error("a busy wakee was pulled next to a busy waker")
	}
	// A waker that mostly waits (a shell) pulls a busy wakee.
	measure(pl, a, 0.1)
	if _, move := wake(pl, 10*ms, a, b); !move {
		t.Error("a wakee that fits was not pulled")
	}
}

// New contexts are assumed to use utilPrior: two of them do not fit on one CPU, so a
// thread pool's second thread goes elsewhere even when its prestarted context joined the
// first's CPU.
func TestPlacementNewContextsSpreadAtWake(t *testing.T) {
	pl := newPolicy([]int{0, 1})
	creator, first, second := &placeState{}, &placeState{}, &placeState{}
	for _, st := range []*placeState{creator, first, second} {
		pl.join(st, 0)
	}
	measure(pl, creator, 0.3)
	creator.cpu.Store(0)
	first.cpu.Store(0)
	second.cpu.Store(0)
	first.asleep.Store(true)
	second.asleep.Store(true)
	if _, move := wake(pl, 10*ms, creator, first); move {
		t.Fatal("the first new context, already on its creator's CPU, moved")
	}
	first.asleep.Store(false) // it runs now
	cpu, move := wake(pl, 10*ms, creator, second)
	if !move || cpu != 1 {
		t.Errorf("the second new context stayed next to the first (move %v to %d)", move, cpu)
	}
}

// Two contexts that compute on one CPU: one moves away (and is not pulled back soon); a
// context that starves but sleeps a lot (a ping-pong partner) or uses little CPU stays.
func TestPlacementSpreadsStarved(t *testing.T) {
	pl, sts := placed(t, 2)
	a, b := sts[0], sts[1]
	a.cpu.Store(0)
	b.cpu.Store(0)
	measure(pl, a, 0.5)
	measure(pl, b, 0.5)
	// Taking turns: each waits for the other's turn a third of the time but sleeps too.
	if _, move := window(pl, 100*ms, a, 0.45, 0.35, 0.2); move {
		t.Error("a ping-pong partner was moved away")
	}
	// Starving beside a neighbour that does not: its waits are elsewhere (a gofer reply
	// counts as runnable), and moving would not help.
	if _, move := window(pl, 100*ms, a, 0.5, 0.5, 0); move {
		t.Error("a context starving beside a neighbour that does not starve was moved")
	}
	measure(pl, a, 0.5)
	// Little CPU use: waits for something else.
	measure(pl, b, 0.02)
	if _, move := window(pl, 100*ms, b, 0.02, 0.9, 0); move {
		t.Error("a context using no CPU was moved for CPU time")
	}
	measure(pl, b, 0.5)
	pl.mu.Lock()
	b.starve = 0.5 // both compute
	pl.mu.Unlock()
	cpu, move := window(pl, 100*ms, a, 0.5, 0.5, 0)
	if !move || cpu != 1 {
		t.Fatalf("a starved busy context did not move to the idle CPU (move %v to %d)", move, cpu)
	}
	if pl.spreads.Load() != 1 {
		t.Errorf("spreads = %d, want 1", pl.spreads.Load())
	}
	// Not pulled back within spreadHold, even by a waker it would fit next to.
	measure(pl, b, 0.1)
	a.asleep.Store(true)
	if _, move := wake(pl, 100*ms+int64(spreadHold)/2, b, a); move {
		t.Error("a context that moved for CPU time was pulled back within spreadHold")
	}
	// The other one, alone on its CPU now, stays: no CPU is less loaded.
	if _, move := window(pl, 200*ms, b, 1, 0.5, 0); move {
		t.Error("a context alone on its CPU moved (host load is no reason)")
	}
}

func TestPlacementLeave(t *testing.T) {
	pl, sts := placed(t, 2)
	a, b := sts[0], sts[1]
	measure(pl, a, 0.1)
	measure(pl, b, 0.1)
	b.asleep.Store(true)
	pl.leave(b)
	if _, move := wake(pl, 10*ms, a, b); move {
		t.Error("a released context was moved")
	}
	if _, move := window(pl, 100*ms, b, 1, 1, 0); move {
		t.Error("a released context was moved")
	}
}

// onlyCPU reports the one CPU thread tid may run on, or -1.
func onlyCPU(t *testing.T, tid int) int {
	t.Helper()
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(tid, &set); err != nil {
		t.Fatalf("sched_getaffinity(%d): %v", tid, err)
	}
	if set.Count() != 1 {
		return -1
	}
	for c := 0; ; c++ {
		if set.IsSet(c) {
			return c
		}
	}
}

// A context woken while it sleeps moves to its waker's CPU, kernel thread first (by the
// waker) and its stub's threads before it next runs app code (by itself).
func TestPlacementPullMovesThreads(t *testing.T) {
	forModes(t, func(t *testing.T, h *harness) {
		if len(h.p.policy.cpus) < 2 {
			t.Skip("one CPU: nothing to place")
		}
		as, _ := h.p.NewAddressSpace()
		defer as.Release()
		h.load(as, cat(movRaxImm(unix.SYS_GETPID), syscallInsn, movRaxImm(unix.SYS_GETPID), syscallInsn))
		aReady, bAsleep, wake, done := make(chan *context), make(chan *context), make(chan struct{}), make(chan struct{})
		go withContext(t, h.p, func(pc platform.Context) { // A, the waker
			a := pc.(*context)
			aReady <- a
			b := <-bAsleep
			if a.cpu == b.cpu {
				t.Errorf("two awake contexts joined one CPU (%d)", a.cpu)
			}
			measure(h.p.policy, &a.pl.st, 0.1) // a waker that mostly waits
			b.Waking()
			if got := onlyCPU(t, b.tid); got != a.cpu {
				t.Errorf("woken context's thread is on CPU %d; want its waker's, %d", got, a.cpu)
			}
			close(wake)
			<-done
		})
		a := <-aReady
		withContext(t, h.p, func(pc platform.Context) { // B, the sleeper
			defer close(done)
			b := pc.(*context)
			regs := regsAt(codeAddr)
			if ev, err := b.Switch(as, regs); err != nil || ev.Kind != platform.EventSyscall {
				t.Fatalf("Switch = %+v, %v", ev, err)
			}
			b.Sleep()
			bAsleep <- b
			<-wake
			b.Awake()
			if ev, err := b.Switch(as, regs); err != nil || ev.Kind != platform.EventSyscall {
				t.Fatalf("Switch = %+v, %v", ev, err)
			}
			s := b.stubs[as.(*addressSpace)]
			tids := []int{b.tid}
			if s.thread == nil {
				// A shared stub's main thread serves every thread of the address space
				// and is not the context's to move.
				tids = append(tids, s.pid)
			}
			if s.trap != nil {
				tids = append(tids, s.trap.appTid)
			}
			for _, tid := range tids {
				if got := onlyCPU(t, tid); got != a.cpu {
					t.Errorf("thread %d of the woken context is on CPU %d; want %d", tid, got, a.cpu)
				}
			}
			if h.p.policy.pulls.Load() != 1 {
				t.Errorf("pulls = %d, want 1", h.p.policy.pulls.Load())
			}
		})
	})
}
