package sandbox

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// The kernel's garbage collector. Its live heap is small (a few MiB for a shell or a
// compiler; more with many processes and files), and its syscall paths allocate (buffers,
// path strings, file descriptions): with Go's default goal (twice the live heap) it
// collected every few MiB, several times a second under tar or a build, and each cycle
// scans every root, the memory file's and donated files' finalizers among them. gcFloor keeps
// the heap goal at least gcHeapFloor: small heaps are collected once per gcHeapFloor
// bytes allocated, and heaps above it keep the default (twice the live heap).
const gcHeapFloor = 32 << 20

// gcFloor sets the collector's percentage after every cycle from the heap it found live.
func gcFloor() {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	tune := func() {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return
		}
		percent := 100
		if live := sample[0].Value.Uint64(); live < gcHeapFloor/2 {
			percent = int(gcHeapFloor*100/max(live, gcHeapFloor/10)) - 100
		}
		debug.SetGCPercent(percent)
	}
	tune()
	// A sentinel's finalizer runs after each cycle that found it unreachable: it tunes and
	// makes the next sentinel.
	var arm func()
	arm = func() {
		s := new([32]byte)
		runtime.SetFinalizer(s, func(*[32]byte) {
			tune()
			arm()
		})
	}
	arm()
}
