package sandbox

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// gcPercentAfterCycle runs a collection and returns the percentage gcFloor's tuner set
// after it (the tuner runs in the finalizer goroutine, after the cycle).
func gcPercentAfterCycle(t *testing.T, want func(int) bool) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		if want(p) || time.Now().After(deadline) {
			return p
		}
	}
}

// TestGCFloor: with a small live heap the collector's goal is raised to about gcHeapFloor;
// with a live heap beyond it, the default (100%) is back.
func TestGCFloor(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	gcFloor()
	if p := gcPercentAfterCycle(t, func(p int) bool { return p > 100 }); p <= 100 {
		t.Fatalf("small heap: GC percent %d; want above 100", p)
	}
	big := make([][]byte, 48)
	for i := range big {
		big[i] = make([]byte, 1<<20)
	}
	if p := gcPercentAfterCycle(t, func(p int) bool { return p == 100 }); p != 100 {
		t.Fatalf("48 MiB live: GC percent %d; want 100", p)
	}
	runtime.KeepAlive(big)
}
