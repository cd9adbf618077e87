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
