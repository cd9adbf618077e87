package abi

import "encoding/binary"

// Msghdr is struct user_msghdr of sendmsg(2) and recvmsg(2) on x86-64
// (include/linux/socket.h).
type Msghdr struct {
	Name       uint64 `c:"msg_name"`
	Namelen    uint32 `c:"msg_namelen"`
	_          uint32 // alignment of msg_iov
	Iov        uint64 `c:"msg_iov"`
	Iovlen     uint64 `c:"msg_iovlen"`
	Control    uint64 `c:"msg_control"`
	Controllen uint64 `c:"msg_controllen"`
	Flags      int32  `c:"msg_flags"`
	_          int32  // the structure's alignment
}

// SizeofMsghdr is sizeof(struct msghdr).
const SizeofMsghdr = 56

// Encode writes m to b[:SizeofMsghdr] (padding zeroed).
func (m *Msghdr) Encode(b []byte) {
	le := binary.LittleEndian
	le.PutUint64(b[0:], m.Name)
	le.PutUint32(b[8:], m.Namelen)
	le.PutUint32(b[12:], 0)
	le.PutUint64(b[16:], m.Iov)
	le.PutUint64(b[24:], m.Iovlen)
	le.PutUint64(b[32:], m.Control)
	le.PutUint64(b[40:], m.Controllen)
	le.PutUint32(b[48:], uint32(m.Flags))
	le.PutUint32(b[52:], 0)
}

// Decode reads m from b[:SizeofMsghdr].
func (m *Msghdr) Decode(b []byte) {
	le := binary.LittleEndian
	m.Name, m.Namelen, m.Iov, m.Iovlen = le.Uint64(b[0:]), le.Uint32(b[8:]), le.Uint64(b[16:]), le.Uint64(b[24:])
	m.Control, m.Controllen, m.Flags = le.Uint64(b[32:]), le.Uint64(b[40:]), int32(le.Uint32(b[48:]))
}

// Cmsghdr is struct cmsghdr, the header of each control message (include/linux/socket.h);
// its data follows at SizeofCmsghdr, and the next message at CmsgAlign(Len).
type Cmsghdr struct {
	Len   uint64 `c:"cmsg_len"`
	Level int32  `c:"cmsg_level"`
	Type  int32  `c:"cmsg_type"`
}

// SizeofCmsghdr is sizeof(struct cmsghdr).
const SizeofCmsghdr = 16

// Encode writes c to b[:SizeofCmsghdr].
func (c *Cmsghdr) Encode(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], c.Len)
	binary.LittleEndian.PutUint32(b[8:], uint32(c.Level))
	binary.LittleEndian.PutUint32(b[12:], uint32(c.Type))
}

// Decode reads c from b[:SizeofCmsghdr].
func (c *Cmsghdr) Decode(b []byte) {
	c.Len = binary.LittleEndian.Uint64(b[0:])
	c.Level = int32(binary.LittleEndian.Uint32(b[8:]))
	c.Type = int32(binary.LittleEndian.Uint32(b[12:]))
}

// CmsgLen is CMSG_LEN(n): a control message of n data bytes, without trailing padding.
func CmsgLen(n int) int { return SizeofCmsghdr + n }

// CmsgSpace is CMSG_SPACE(n): the room a control message of n data bytes takes.
func CmsgSpace(n int) int { return SizeofCmsghdr + CmsgAlign(n) }

// CmsgAlign rounds n up to the alignment of control messages (sizeof(long)).
func CmsgAlign(n int) int { return (n + 7) &^ 7 }

// Ucred is struct ucred of SCM_CREDENTIALS and SO_PEERCRED (include/linux/socket.h).
type Ucred struct {
	PID int32  `c:"pid"`
	UID uint32 `c:"uid"`
	GID uint32 `c:"gid"`
}

// SizeofUcred is sizeof(struct ucred).
const SizeofUcred = 12

// Encode writes u to b[:SizeofUcred].
func (u *Ucred) Encode(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], uint32(u.PID))
	binary.LittleEndian.PutUint32(b[4:], u.UID)
	binary.LittleEndian.PutUint32(b[8:], u.GID)
}

// Decode reads u from b[:SizeofUcred].
func (u *Ucred) Decode(b []byte) {
	u.PID = int32(binary.LittleEndian.Uint32(b[0:]))
	u.UID, u.GID = binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[8:])
}

// SockaddrIn is struct sockaddr_in (include/uapi/linux/in.h). Port is the port number;
// it travels in network byte order.
type SockaddrIn struct {
	Family uint16  `c:"sin_family"`
	Port   uint16  `c:"sin_port,be"`
	Addr   [4]byte `c:"sin_addr"`
	_      [8]byte // sin_zero
}

// SizeofSockaddrIn is sizeof(struct sockaddr_in).
const SizeofSockaddrIn = 16

// Encode writes s to b[:SizeofSockaddrIn] (sin_zero zeroed).
func (s *SockaddrIn) Encode(b []byte) {
	binary.LittleEndian.PutUint16(b[0:], s.Family)
	binary.BigEndian.PutUint16(b[2:], s.Port)
	copy(b[4:8], s.Addr[:])
	clear(b[8:SizeofSockaddrIn])
}

// Decode reads s from b[:SizeofSockaddrIn].
func (s *SockaddrIn) Decode(b []byte) {
	s.Family, s.Port = binary.LittleEndian.Uint16(b[0:]), binary.BigEndian.Uint16(b[2:])
	copy(s.Addr[:], b[4:8])
}

// SockaddrIn6 is struct sockaddr_in6 (include/uapi/linux/in6.h). Port and Flowinfo travel
// in network byte order, ScopeID in the host's.
type SockaddrIn6 struct {
	Family   uint16   `c:"sin6_family"`
	Port     uint16   `c:"sin6_port,be"`
	Flowinfo uint32   `c:"sin6_flowinfo,be"`
	Addr     [16]byte `c:"sin6_addr"`
	ScopeID  uint32   `c:"sin6_scope_id"`
}

// SizeofSockaddrIn6 is sizeof(struct sockaddr_in6).
const SizeofSockaddrIn6 = 28

// Encode writes s to b[:SizeofSockaddrIn6].
func (s *SockaddrIn6) Encode(b []byte) {
	binary.LittleEndian.PutUint16(b[0:], s.Family)
	binary.BigEndian.PutUint16(b[2:], s.Port)
	binary.BigEndian.PutUint32(b[4:], s.Flowinfo)
	copy(b[8:24], s.Addr[:])
	binary.LittleEndian.PutUint32(b[24:], s.ScopeID)
}

// Decode reads s from b[:SizeofSockaddrIn6].
func (s *SockaddrIn6) Decode(b []byte) {
	s.Family, s.Port, s.Flowinfo = binary.LittleEndian.Uint16(b[0:]), binary.BigEndian.Uint16(b[2:]), binary.BigEndian.Uint32(b[4:])
	copy(s.Addr[:], b[8:24])
	s.ScopeID = binary.LittleEndian.Uint32(b[24:])
}

// Offsets of the struct msghdr fields recvmsg(2) writes back into the caller's header, and
// of struct mmsghdr's msg_len, which sendmmsg(2) and recvmmsg(2) write back.
const (
	OffsetofMmsghdrLen       = SizeofMsghdr
	OffsetofMsghdrNamelen    = 8
	OffsetofMsghdrControllen = 40
	OffsetofMsghdrFlags      = 48
)

// SockaddrFamily is the sa_family every struct sockaddr starts with, read from b[:2].
func SockaddrFamily(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }

// PutSockaddrFamily writes sa_family to b[:2].
func PutSockaddrFamily(b []byte, f uint16) { binary.LittleEndian.PutUint16(b, f) }

// Linger is struct linger of SO_LINGER (include/linux/socket.h).
type Linger struct {
	Onoff  int32 `c:"l_onoff"`
	Linger int32 `c:"l_linger"`
}

// SizeofLinger is sizeof(struct linger).
const SizeofLinger = 8

// Encode writes l to b[:SizeofLinger].
func (l *Linger) Encode(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], uint32(l.Onoff))
	binary.LittleEndian.PutUint32(b[4:], uint32(l.Linger))
}

// Decode reads l from b[:SizeofLinger].
func (l *Linger) Decode(b []byte) {
	l.Onoff, l.Linger = int32(binary.LittleEndian.Uint32(b[0:])), int32(binary.LittleEndian.Uint32(b[4:]))
}

// SockTxtime is struct sock_txtime of SO_TXTIME (include/uapi/linux/net_tstamp.h).
type SockTxtime struct {
	Clockid int32  `c:"clockid"`
	Flags   uint32 `c:"flags"`
}

// SizeofSockTxtime is sizeof(struct sock_txtime).
const SizeofSockTxtime = 8

// Encode writes s to b[:SizeofSockTxtime].
func (s *SockTxtime) Encode(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], uint32(s.Clockid))
	binary.LittleEndian.PutUint32(b[4:], s.Flags)
}

// Decode reads s from b[:SizeofSockTxtime].
func (s *SockTxtime) Decode(b []byte) {
	s.Clockid, s.Flags = int32(binary.LittleEndian.Uint32(b[0:])), binary.LittleEndian.Uint32(b[4:])
}

// SoTimestamping is struct so_timestamping of SO_TIMESTAMPING (include/uapi/linux/net_tstamp.h).
type SoTimestamping struct {
	Flags   int32 `c:"flags"`
	BindPhc int32 `c:"bind_phc"`
}

// SizeofSoTimestamping is sizeof(struct so_timestamping).
const SizeofSoTimestamping = 8

// Encode writes s to b[:SizeofSoTimestamping].
func (s *SoTimestamping) Encode(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], uint32(s.Flags))
	binary.LittleEndian.PutUint32(b[4:], uint32(s.BindPhc))
}

// Decode reads s from b[:SizeofSoTimestamping].
func (s *SoTimestamping) Decode(b []byte) {
	s.Flags, s.BindPhc = int32(binary.LittleEndian.Uint32(b[0:])), int32(binary.LittleEndian.Uint32(b[4:]))
}

// SO_MEMINFO's answer is an array of SK_MEMINFO_VARS u32 (include/uapi/linux/sock_diag.h).
const (
	SK_MEMINFO_RCVBUF = 1
	SK_MEMINFO_SNDBUF = 3
	SK_MEMINFO_VARS   = 9
)
