package abi

import "encoding/binary"

// MqAttr is struct mq_attr of mq_open(3), mq_getsetattr(2) (include/uapi/linux/mqueue.h).
type MqAttr struct {
	Flags   int64    `c:"mq_flags"`
	Maxmsg  int64    `c:"mq_maxmsg"`
	Msgsize int64    `c:"mq_msgsize"`
	Curmsgs int64    `c:"mq_curmsgs"`
	_       [4]int64 // __reserved
}

// SizeofMqAttr is sizeof(struct mq_attr).
const SizeofMqAttr = 64

// Encode writes a to b[:SizeofMqAttr] (the reserved words zeroed).
func (a *MqAttr) Encode(b []byte) {
	le := binary.LittleEndian
	le.PutUint64(b[0:], uint64(a.Flags))
	le.PutUint64(b[8:], uint64(a.Maxmsg))
	le.PutUint64(b[16:], uint64(a.Msgsize))
	le.PutUint64(b[24:], uint64(a.Curmsgs))
	clear(b[32:SizeofMqAttr])
}

// Decode reads a from b[:SizeofMqAttr].
func (a *MqAttr) Decode(b []byte) {
	le := binary.LittleEndian
	a.Flags, a.Maxmsg, a.Msgsize, a.Curmsgs = int64(le.Uint64(b[0:])), int64(le.Uint64(b[8:])), int64(le.Uint64(b[16:])), int64(le.Uint64(b[24:]))
}

// Sigevent is struct sigevent of timer_create(2) and mq_notify(3)
// (include/uapi/asm-generic/siginfo.h): the value, the signal, how to notify, and for
// SIGEV_THREAD_ID the thread (the union's _tid; SIGEV_THREAD's function and attributes
// share its place and are the C library's business).
type Sigevent struct {
	Value  uint64   `c:"sigev_value"`
	Signo  int32    `c:"sigev_signo"`
	Notify int32    `c:"sigev_notify"`
	TID    int32    `c:"_sigev_un._tid"`
	_      [44]byte // the rest of the union
}

// SizeofSigevent is sizeof(struct sigevent); the fields above sit in its first
// SizeofSigeventHead bytes.
const (
	SizeofSigevent     = 64
	SizeofSigeventHead = 20
)

// Encode writes s to b[:SizeofSigevent] (the rest of the union zeroed).
func (s *Sigevent) Encode(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], s.Value)
	binary.LittleEndian.PutUint32(b[8:], uint32(s.Signo))
	binary.LittleEndian.PutUint32(b[12:], uint32(s.Notify))
	binary.LittleEndian.PutUint32(b[16:], uint32(s.TID))
	clear(b[20:SizeofSigevent])
}

// Decode reads s from b[:SizeofSigeventHead].
func (s *Sigevent) Decode(b []byte) {
	s.Value = binary.LittleEndian.Uint64(b[0:])
	s.Signo, s.Notify = int32(binary.LittleEndian.Uint32(b[8:])), int32(binary.LittleEndian.Uint32(b[12:]))
	s.TID = int32(binary.LittleEndian.Uint32(b[16:]))
}
