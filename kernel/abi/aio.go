package abi

import "encoding/binary"

// IOCB is struct iocb of io_submit(2) (include/uapi/linux/aio_abi.h), as x86-64 (little
// endian) orders aio_key and aio_rw_flags.
type IOCB struct {
	Data      uint64 `c:"aio_data"`
	Key       uint32 `c:"aio_key"`
	RwFlags   int32  `c:"aio_rw_flags"`
	Opcode    uint16 `c:"aio_lio_opcode"`
	Reqprio   int16  `c:"aio_reqprio"`
	Fildes    uint32 `c:"aio_fildes"`
	Buf       uint64 `c:"aio_buf"`
	Nbytes    uint64 `c:"aio_nbytes"`
	Offset    int64  `c:"aio_offset"`
	Reserved2 uint64 `c:"aio_reserved2"`
	Flags     uint32 `c:"aio_flags"`
	Resfd     uint32 `c:"aio_resfd"`
}

// SizeofIOCB is sizeof(struct iocb).
const SizeofIOCB = 64

// OffsetofIOCBKey is offsetof(struct iocb, aio_key), which io_cancel(2) reads alone.
const OffsetofIOCBKey = 8

// Encode writes c to b[:SizeofIOCB].
func (c *IOCB) Encode(b []byte) {
	le := binary.LittleEndian
	le.PutUint64(b[0:], c.Data)
	le.PutUint32(b[8:], c.Key)
	le.PutUint32(b[12:], uint32(c.RwFlags))
	le.PutUint16(b[16:], c.Opcode)
	le.PutUint16(b[18:], uint16(c.Reqprio))
	le.PutUint32(b[20:], c.Fildes)
	le.PutUint64(b[24:], c.Buf)
	le.PutUint64(b[32:], c.Nbytes)
	le.PutUint64(b[40:], uint64(c.Offset))
	le.PutUint64(b[48:], c.Reserved2)
	le.PutUint32(b[56:], c.Flags)
	le.PutUint32(b[60:], c.Resfd)
}

// Decode reads c from b[:SizeofIOCB].
func (c *IOCB) Decode(b []byte) {
	le := binary.LittleEndian
	c.Data, c.Key, c.RwFlags = le.Uint64(b[0:]), le.Uint32(b[8:]), int32(le.Uint32(b[12:]))
	c.Opcode, c.Reqprio, c.Fildes = le.Uint16(b[16:]), int16(le.Uint16(b[18:])), le.Uint32(b[20:])
	c.Buf, c.Nbytes, c.Offset, c.Reserved2 = le.Uint64(b[24:]), le.Uint64(b[32:]), int64(le.Uint64(b[40:])), le.Uint64(b[48:])
	c.Flags, c.Resfd = le.Uint32(b[56:]), le.Uint32(b[60:])
}

// IOEvent is struct io_event of io_getevents(2) (include/uapi/linux/aio_abi.h).
type IOEvent struct {
	Data uint64 `c:"data"`
	Obj  uint64 `c:"obj"`
	Res  int64  `c:"res"`
	Res2 int64  `c:"res2"`
}

// SizeofIOEvent is sizeof(struct io_event).
const SizeofIOEvent = 32

// Encode writes e to b[:SizeofIOEvent].
func (e *IOEvent) Encode(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], e.Data)
	binary.LittleEndian.PutUint64(b[8:], e.Obj)
	binary.LittleEndian.PutUint64(b[16:], uint64(e.Res))
	binary.LittleEndian.PutUint64(b[24:], uint64(e.Res2))
}

// Decode reads e from b[:SizeofIOEvent].
func (e *IOEvent) Decode(b []byte) {
	e.Data, e.Obj = binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:])
	e.Res, e.Res2 = int64(binary.LittleEndian.Uint64(b[16:])), int64(binary.LittleEndian.Uint64(b[24:]))
}

// AioSigset is struct __aio_sigset, the last argument of io_pgetevents(2) (fs/aio.c:
// the mask's address and sigsetsize).
type AioSigset struct {
	Sigmask    uint64 `c:"sigmask"`
	Sigsetsize uint64 `c:"sigsetsize"`
}

// SizeofAioSigset is sizeof(struct __aio_sigset).
const SizeofAioSigset = 16

// Decode reads s from b[:SizeofAioSigset].
func (s *AioSigset) Decode(b []byte) {
	le := binary.LittleEndian
	s.Sigmask, s.Sigsetsize = le.Uint64(b[0:]), le.Uint64(b[8:])
}
