package abi

import "encoding/binary"

// Pollfd is struct pollfd of poll(2) and ppoll(2) (include/uapi/asm-generic/poll.h).
type Pollfd struct {
	FD      int32 `c:"fd"`
	Events  int16 `c:"events"`
	Revents int16 `c:"revents"`
}

// SizeofPollfd is sizeof(struct pollfd).
const SizeofPollfd = 8

// Encode writes p to b[:SizeofPollfd].
func (p *Pollfd) Encode(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], uint32(p.FD))
	binary.LittleEndian.PutUint16(b[4:], uint16(p.Events))
	binary.LittleEndian.PutUint16(b[6:], uint16(p.Revents))
}

// Decode reads p from b[:SizeofPollfd].
func (p *Pollfd) Decode(b []byte) {
	p.FD = int32(binary.LittleEndian.Uint32(b[0:]))
	p.Events = int16(binary.LittleEndian.Uint16(b[4:]))
	p.Revents = int16(binary.LittleEndian.Uint16(b[6:]))
}

// EpollEvent is struct epoll_event of epoll_ctl(2) and epoll_wait(2), which x86-64 packs
// (include/uapi/linux/eventpoll.h, __EPOLL_PACKED): the data follows the events with no
// padding.
type EpollEvent struct {
	Events uint32 `c:"events"`
	Data   uint64 `c:"data"`
}

// SizeofEpollEvent is sizeof(struct epoll_event).
const SizeofEpollEvent = 12

// Encode writes e to b[:SizeofEpollEvent].
func (e *EpollEvent) Encode(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], e.Events)
	binary.LittleEndian.PutUint64(b[4:], e.Data)
}

// Decode reads e from b[:SizeofEpollEvent].
func (e *EpollEvent) Decode(b []byte) {
	e.Events, e.Data = binary.LittleEndian.Uint32(b[0:]), binary.LittleEndian.Uint64(b[4:])
}
