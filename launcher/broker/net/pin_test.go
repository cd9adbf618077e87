package net

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPinnerFollowsSteadyCPU: the serving thread moves to a CPU once requests name it
// pinStreak times in a row, stays put while requests alternate, ignores CPUs outside its
// affinity, and gets its affinity back.
func TestPinnerFollowsSteadyCPU(t *testing.T) {
	runtime.LockOSThread() // the affinity is this thread's
	defer runtime.UnlockOSThread()
	p := newPinner()
	if !p.ok {
		t.Skip("a single CPU: nothing to follow")
	}
	defer p.restore()
	var cpus []int
	for c := 0; c < len(p.allowed)*64 && len(cpus) < 2; c++ {
		if p.allowed.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	for range pinStreak - 1 {
		p.to(cpus[1])
	}
	if p.cur != -1 {
		t.Fatalf("moved to CPU %d after %d requests", p.cur, pinStreak-1)
	}
	p.to(cpus[1])
	if p.cur != cpus[1] {
		t.Fatalf("not on CPU %d after %d requests naming it (on %d)", cpus[1], pinStreak, p.cur)
	}
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set); set.Count() != 1 || !set.IsSet(cpus[1]) {
		t.Errorf("thread affinity %v; want only CPU %d", set, cpus[1])
	}
	for range 2 * pinStreak {
		p.to(cpus[0])
		p.to(cpus[1])
	}
	if p.cur != cpus[1] {
		t.Errorf("alternating requests moved the thread to %d", p.cur)
	}
	p.to(len(p.allowed) * 64)
	p.to(-1)
	if p.cur != cpus[1] {
		t.Errorf("an invalid CPU moved the thread to %d", p.cur)
	}
	p.restore()
	if unix.SchedGetaffinity(0, &set); set != p.allowed {
		t.Errorf("affinity after restore %v; want %v", set, p.allowed)
	}
}
