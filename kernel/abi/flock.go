package abi

import "encoding/binary"

// Flock is struct flock of fcntl(2)'s record locks on x86-64 (include/uapi/asm-generic/fcntl.h).
type Flock struct {
	Type   int16 `c:"l_type"`
	Whence int16 `c:"l_whence"`
	_      int32 // alignment of l_start
	Start  int64 `c:"l_start"`
	Len    int64 `c:"l_len"`
	PID    int32 `c:"l_pid"`
	_      int32 // the structure's alignment
}

// SizeofFlock is sizeof(struct flock).
const SizeofFlock = 32

// Encode writes f to b[:SizeofFlock] (padding zeroed).
func (f *Flock) Encode(b []byte) {
	le := binary.LittleEndian
	le.PutUint16(b[0:], uint16(f.Type))
	le.PutUint16(b[2:], uint16(f.Whence))
	le.PutUint32(b[4:], 0)
	le.PutUint64(b[8:], uint64(f.Start))
	le.PutUint64(b[16:], uint64(f.Len))
	le.PutUint32(b[24:], uint32(f.PID))
	le.PutUint32(b[28:], 0)
}

// Decode reads f from b[:SizeofFlock].
func (f *Flock) Decode(b []byte) {
	le := binary.LittleEndian
	f.Type, f.Whence = int16(le.Uint16(b[0:])), int16(le.Uint16(b[2:]))
	f.Start, f.Len, f.PID = int64(le.Uint64(b[8:])), int64(le.Uint64(b[16:])), int32(le.Uint32(b[24:]))
}
