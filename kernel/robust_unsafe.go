package kernel

import (
	"sync/atomic"
	"unsafe"
)

// loadUint32 and casUint32 access a futex word in app memory (a 4-byte, 4-aligned slice of
// the memory file) atomically, as app threads running at the same time do.
func loadUint32(b []byte) uint32 { return atomic.LoadUint32((*uint32)(unsafe.Pointer(&b[0]))) }

func casUint32(b []byte, old, new uint32) bool {
	return atomic.CompareAndSwapUint32((*uint32)(unsafe.Pointer(&b[0])), old, new)
}

// rmwUint32 applies f to the futex word in b atomically (a compare-and-swap loop, as app
// threads may change the word at the same time) and returns the value it replaced.
func rmwUint32(b []byte, f func(uint32) uint32) uint32 {
	p := (*uint32)(unsafe.Pointer(&b[0]))
	for {
		old := atomic.LoadUint32(p)
		if atomic.CompareAndSwapUint32(p, old, f(old)) {
			return old
		}
	}
}
