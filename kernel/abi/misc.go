package abi

import "encoding/binary"

// InotifyEvent is the fixed head of struct inotify_event (include/uapi/linux/inotify.h);
// Len bytes of NUL-padded name follow it.
type InotifyEvent struct {
	Wd     int32  `c:"wd"`
	Mask   uint32 `c:"mask"`
	Cookie uint32 `c:"cookie"`
	Len    uint32 `c:"len"`
}

// SizeofInotifyEvent is sizeof(struct inotify_event), the head before the name.
const SizeofInotifyEvent = 16

// Encode writes e to b[:SizeofInotifyEvent].
func (e *InotifyEvent) Encode(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], uint32(e.Wd))
	binary.LittleEndian.PutUint32(b[4:], e.Mask)
	binary.LittleEndian.PutUint32(b[8:], e.Cookie)
	binary.LittleEndian.PutUint32(b[12:], e.Len)
}

// Decode reads e from b[:SizeofInotifyEvent].
func (e *InotifyEvent) Decode(b []byte) {
	e.Wd, e.Mask = int32(binary.LittleEndian.Uint32(b[0:])), binary.LittleEndian.Uint32(b[4:])
	e.Cookie, e.Len = binary.LittleEndian.Uint32(b[8:]), binary.LittleEndian.Uint32(b[12:])
}

// FutexWaitv is struct futex_waitv of futex_waitv(2) (include/uapi/linux/futex.h).
type FutexWaitv struct {
	Val      uint64 `c:"val"`
	Uaddr    uint64 `c:"uaddr"`
	Flags    uint32 `c:"flags"`
	Reserved uint32 `c:"__reserved"`
}

// SizeofFutexWaitv is sizeof(struct futex_waitv).
const SizeofFutexWaitv = 24

// Encode writes w to b[:SizeofFutexWaitv].
func (w *FutexWaitv) Encode(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], w.Val)
	binary.LittleEndian.PutUint64(b[8:], w.Uaddr)
	binary.LittleEndian.PutUint32(b[16:], w.Flags)
	binary.LittleEndian.PutUint32(b[20:], w.Reserved)
}

// Decode reads w from b[:SizeofFutexWaitv].
func (w *FutexWaitv) Decode(b []byte) {
	w.Val, w.Uaddr = binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:])
	w.Flags, w.Reserved = binary.LittleEndian.Uint32(b[16:]), binary.LittleEndian.Uint32(b[20:])
}

// RobustListHead is struct robust_list_head of set_robust_list(2)
// (include/uapi/linux/futex.h): the list (its first entry's address), the offset from an
// entry to its futex word, and the entry being taken or released.
type RobustListHead struct {
	List          uint64 `c:"list"`
	FutexOffset   int64  `c:"futex_offset"`
	ListOpPending uint64 `c:"list_op_pending"`
}

// SizeofRobustListHead is sizeof(struct robust_list_head).
const SizeofRobustListHead = 24

// Encode writes h to b[:SizeofRobustListHead].
func (h *RobustListHead) Encode(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], h.List)
	binary.LittleEndian.PutUint64(b[8:], uint64(h.FutexOffset))
	binary.LittleEndian.PutUint64(b[16:], h.ListOpPending)
}

// Decode reads h from b[:SizeofRobustListHead].
func (h *RobustListHead) Decode(b []byte) {
	h.List, h.FutexOffset, h.ListOpPending = binary.LittleEndian.Uint64(b[0:]), int64(binary.LittleEndian.Uint64(b[8:])), binary.LittleEndian.Uint64(b[16:])
}

// Iovec is struct iovec of readv(2), writev(2) and msghdr (include/uapi/linux/uio.h).
type Iovec struct {
	Base uint64 `c:"iov_base"`
	Len  uint64 `c:"iov_len"`
}

// SizeofIovec is sizeof(struct iovec).
const SizeofIovec = 16

// Encode writes v to b[:SizeofIovec].
func (v *Iovec) Encode(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], v.Base)
	binary.LittleEndian.PutUint64(b[8:], v.Len)
}

// Decode reads v from b[:SizeofIovec].
func (v *Iovec) Decode(b []byte) {
	v.Base, v.Len = binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:])
}

// CloneArgs is struct clone_args of clone3(2) (include/uapi/linux/sched.h), as of
// CLONE_ARGS_SIZE_VER2; a caller may pass only the first CLONE_ARGS_SIZE_VER0 bytes.
type CloneArgs struct {
	Flags      uint64 `c:"flags"`
	Pidfd      uint64 `c:"pidfd"`
	ChildTID   uint64 `c:"child_tid"`
	ParentTID  uint64 `c:"parent_tid"`
	ExitSignal uint64 `c:"exit_signal"`
	Stack      uint64 `c:"stack"`
	StackSize  uint64 `c:"stack_size"`
	TLS        uint64 `c:"tls"`
	SetTID     uint64 `c:"set_tid"`
	SetTIDSize uint64 `c:"set_tid_size"`
	Cgroup     uint64 `c:"cgroup"`
}

// SizeofCloneArgs is sizeof(struct clone_args); CLONE_ARGS_SIZE_VER0 the smallest size
// clone3 accepts.
const (
	SizeofCloneArgs      = 88
	CLONE_ARGS_SIZE_VER0 = 64
)

// Encode writes c to b[:SizeofCloneArgs].
func (c *CloneArgs) Encode(b []byte) {
	for i, v := range [...]uint64{c.Flags, c.Pidfd, c.ChildTID, c.ParentTID, c.ExitSignal, c.Stack, c.StackSize, c.TLS, c.SetTID, c.SetTIDSize, c.Cgroup} {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
}

// Decode reads c from b, which holds at least CLONE_ARGS_SIZE_VER0 bytes: the fields past
// its end are zero.
func (c *CloneArgs) Decode(b []byte) {
	for i, p := range [...]*uint64{&c.Flags, &c.Pidfd, &c.ChildTID, &c.ParentTID, &c.ExitSignal, &c.Stack, &c.StackSize, &c.TLS, &c.SetTID, &c.SetTIDSize, &c.Cgroup} {
		*p = 0
		if 8*i+8 <= len(b) {
			*p = binary.LittleEndian.Uint64(b[8*i:])
		}
	}
}
