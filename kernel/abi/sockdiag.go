package abi

import "encoding/binary"

// The sock_diag structures (NETLINK_SOCK_DIAG): <linux/sock_diag.h>, <linux/inet_diag.h>,
// <linux/unix_diag.h>. Addresses are the raw bytes of __be32 idiag_src[4] and idiag_dst[4]
// (an IPv4 address in the first four).

// SockDiagReq is struct sock_diag_req: the head of every SOCK_DIAG_BY_FAMILY request.
type SockDiagReq struct {
	Family   uint8 `c:"sdiag_family"`
	Protocol uint8 `c:"sdiag_protocol"`
}

// SizeofSockDiagReq is sizeof(struct sock_diag_req).
const SizeofSockDiagReq = 2

// Encode writes r to b[:SizeofSockDiagReq].
func (r *SockDiagReq) Encode(b []byte) { b[0], b[1] = r.Family, r.Protocol }

// Decode reads r from b[:SizeofSockDiagReq].
func (r *SockDiagReq) Decode(b []byte) { r.Family, r.Protocol = b[0], b[1] }

// InetDiagSockID is struct inet_diag_sockid: a socket's addresses, interface and cookie.
// Ports travel in network byte order.
type InetDiagSockID struct {
	Sport  uint16    `c:"idiag_sport,be"`
	Dport  uint16    `c:"idiag_dport,be"`
	Src    [16]byte  `c:"idiag_src"`
	Dst    [16]byte  `c:"idiag_dst"`
	If     uint32    `c:"idiag_if"`
	Cookie [2]uint32 `c:"idiag_cookie"`
}

// SizeofInetDiagSockID is sizeof(struct inet_diag_sockid).
const SizeofInetDiagSockID = 48

// Encode writes id to b[:SizeofInetDiagSockID].
func (id *InetDiagSockID) Encode(b []byte) {
	binary.BigEndian.PutUint16(b[0:], id.Sport)
	binary.BigEndian.PutUint16(b[2:], id.Dport)
	copy(b[4:20], id.Src[:])
	copy(b[20:36], id.Dst[:])
	binary.LittleEndian.PutUint32(b[36:], id.If)
	binary.LittleEndian.PutUint32(b[40:], id.Cookie[0])
	binary.LittleEndian.PutUint32(b[44:], id.Cookie[1])
}

// Decode reads id from b[:SizeofInetDiagSockID].
func (id *InetDiagSockID) Decode(b []byte) {
	id.Sport, id.Dport = binary.BigEndian.Uint16(b[0:]), binary.BigEndian.Uint16(b[2:])
	copy(id.Src[:], b[4:20])
	copy(id.Dst[:], b[20:36])
	id.If = binary.LittleEndian.Uint32(b[36:])
	id.Cookie = [2]uint32{binary.LittleEndian.Uint32(b[40:]), binary.LittleEndian.Uint32(b[44:])}
}

// InetDiagReqV2 is struct inet_diag_req_v2: which Internet sockets to report (a protocol,
// a set of states, the extensions wanted; id for a single socket).
type InetDiagReqV2 struct {
	Family   uint8          `c:"sdiag_family"`
	Protocol uint8          `c:"sdiag_protocol"`
	Ext      uint8          `c:"idiag_ext"`
	Pad      uint8          `c:"pad"`
	States   uint32         `c:"idiag_states"`
	ID       InetDiagSockID `c:"id"`
}

// SizeofInetDiagReqV2 is sizeof(struct inet_diag_req_v2).
const SizeofInetDiagReqV2 = 56

// Encode writes r to b[:SizeofInetDiagReqV2].
func (r *InetDiagReqV2) Encode(b []byte) {
	b[0], b[1], b[2], b[3] = r.Family, r.Protocol, r.Ext, r.Pad
	binary.LittleEndian.PutUint32(b[4:], r.States)
	r.ID.Encode(b[8:])
}

// Decode reads r from b[:SizeofInetDiagReqV2].
func (r *InetDiagReqV2) Decode(b []byte) {
	r.Family, r.Protocol, r.Ext, r.Pad = b[0], b[1], b[2], b[3]
	r.States = binary.LittleEndian.Uint32(b[4:])
	r.ID.Decode(b[8:])
}

// InetDiagMsg is struct inet_diag_msg: one Internet socket in a reply.
type InetDiagMsg struct {
	Family  uint8          `c:"idiag_family"`
	State   uint8          `c:"idiag_state"`
	Timer   uint8          `c:"idiag_timer"`
	Retrans uint8          `c:"idiag_retrans"`
	ID      InetDiagSockID `c:"id"`
	Expires uint32         `c:"idiag_expires"`
	Rqueue  uint32         `c:"idiag_rqueue"`
	Wqueue  uint32         `c:"idiag_wqueue"`
	UID     uint32         `c:"idiag_uid"`
	Inode   uint32         `c:"idiag_inode"`
}

// SizeofInetDiagMsg is sizeof(struct inet_diag_msg).
const SizeofInetDiagMsg = 72

// Encode writes m to b[:SizeofInetDiagMsg].
func (m *InetDiagMsg) Encode(b []byte) {
	b[0], b[1], b[2], b[3] = m.Family, m.State, m.Timer, m.Retrans
	m.ID.Encode(b[4:])
	binary.LittleEndian.PutUint32(b[52:], m.Expires)
	binary.LittleEndian.PutUint32(b[56:], m.Rqueue)
	binary.LittleEndian.PutUint32(b[60:], m.Wqueue)
	binary.LittleEndian.PutUint32(b[64:], m.UID)
	binary.LittleEndian.PutUint32(b[68:], m.Inode)
}

// Decode reads m from b[:SizeofInetDiagMsg].
func (m *InetDiagMsg) Decode(b []byte) {
	m.Family, m.State, m.Timer, m.Retrans = b[0], b[1], b[2], b[3]
	m.ID.Decode(b[4:])
	m.Expires, m.Rqueue, m.Wqueue = binary.LittleEndian.Uint32(b[52:]), binary.LittleEndian.Uint32(b[56:]), binary.LittleEndian.Uint32(b[60:])
	m.UID, m.Inode = binary.LittleEndian.Uint32(b[64:]), binary.LittleEndian.Uint32(b[68:])
}

// InetDiagMeminfo is struct inet_diag_meminfo (attribute INET_DIAG_MEMINFO).
type InetDiagMeminfo struct {
	Rmem uint32 `c:"idiag_rmem"`
	Wmem uint32 `c:"idiag_wmem"`
	Fmem uint32 `c:"idiag_fmem"`
	Tmem uint32 `c:"idiag_tmem"`
}

// SizeofInetDiagMeminfo is sizeof(struct inet_diag_meminfo).
const SizeofInetDiagMeminfo = 16

// Encode writes m to b[:SizeofInetDiagMeminfo].
func (m *InetDiagMeminfo) Encode(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], m.Rmem)
	binary.LittleEndian.PutUint32(b[4:], m.Wmem)
	binary.LittleEndian.PutUint32(b[8:], m.Fmem)
	binary.LittleEndian.PutUint32(b[12:], m.Tmem)
}

// UnixDiagReq is struct unix_diag_req: which AF_UNIX sockets to report and what of them
// (udiag_show: UDIAG_SHOW_*).
type UnixDiagReq struct {
	Family   uint8     `c:"sdiag_family"`
	Protocol uint8     `c:"sdiag_protocol"`
	Pad      uint16    `c:"pad"`
	States   uint32    `c:"udiag_states"`
	Ino      uint32    `c:"udiag_ino"`
	Show     uint32    `c:"udiag_show"`
	Cookie   [2]uint32 `c:"udiag_cookie"`
}

// SizeofUnixDiagReq is sizeof(struct unix_diag_req).
const SizeofUnixDiagReq = 24

// Encode writes r to b[:SizeofUnixDiagReq].
func (r *UnixDiagReq) Encode(b []byte) {
	b[0], b[1] = r.Family, r.Protocol
	binary.LittleEndian.PutUint16(b[2:], r.Pad)
	binary.LittleEndian.PutUint32(b[4:], r.States)
	binary.LittleEndian.PutUint32(b[8:], r.Ino)
	binary.LittleEndian.PutUint32(b[12:], r.Show)
	binary.LittleEndian.PutUint32(b[16:], r.Cookie[0])
	binary.LittleEndian.PutUint32(b[20:], r.Cookie[1])
}

// Decode reads r from b[:SizeofUnixDiagReq].
func (r *UnixDiagReq) Decode(b []byte) {
	r.Family, r.Protocol, r.Pad = b[0], b[1], binary.LittleEndian.Uint16(b[2:])
	r.States, r.Ino, r.Show = binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[8:]), binary.LittleEndian.Uint32(b[12:])
	r.Cookie = [2]uint32{binary.LittleEndian.Uint32(b[16:]), binary.LittleEndian.Uint32(b[20:])}
}

// UnixDiagMsg is struct unix_diag_msg: one AF_UNIX socket in a reply.
type UnixDiagMsg struct {
	Family uint8     `c:"udiag_family"`
	Type   uint8     `c:"udiag_type"`
	State  uint8     `c:"udiag_state"`
	Pad    uint8     `c:"pad"`
	Ino    uint32    `c:"udiag_ino"`
	Cookie [2]uint32 `c:"udiag_cookie"`
}

// SizeofUnixDiagMsg is sizeof(struct unix_diag_msg).
const SizeofUnixDiagMsg = 16

// Encode writes m to b[:SizeofUnixDiagMsg].
func (m *UnixDiagMsg) Encode(b []byte) {
	b[0], b[1], b[2], b[3] = m.Family, m.Type, m.State, m.Pad
	binary.LittleEndian.PutUint32(b[4:], m.Ino)
	binary.LittleEndian.PutUint32(b[8:], m.Cookie[0])
	binary.LittleEndian.PutUint32(b[12:], m.Cookie[1])
}

// Decode reads m from b[:SizeofUnixDiagMsg].
func (m *UnixDiagMsg) Decode(b []byte) {
	m.Family, m.Type, m.State, m.Pad = b[0], b[1], b[2], b[3]
	m.Ino = binary.LittleEndian.Uint32(b[4:])
	m.Cookie = [2]uint32{binary.LittleEndian.Uint32(b[8:]), binary.LittleEndian.Uint32(b[12:])}
}

// UnixDiagVFS is struct unix_diag_vfs (attribute UNIX_DIAG_VFS): the inode a socket is
// bound to in the filesystem and its device (the kernel's dev_t, MKDEV(major, minor)).
type UnixDiagVFS struct {
	Ino uint32 `c:"udiag_vfs_ino"`
	Dev uint32 `c:"udiag_vfs_dev"`
}

// SizeofUnixDiagVFS is sizeof(struct unix_diag_vfs).
const SizeofUnixDiagVFS = 8

// Encode writes v to b[:SizeofUnixDiagVFS].
func (v *UnixDiagVFS) Encode(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], v.Ino)
	binary.LittleEndian.PutUint32(b[4:], v.Dev)
}

// UnixDiagRQlen is struct unix_diag_rqlen (attribute UNIX_DIAG_RQLEN): a listener's
// pending connections and backlog, or a socket's bytes queued to read and to send.
type UnixDiagRQlen struct {
	Rqueue uint32 `c:"udiag_rqueue"`
	Wqueue uint32 `c:"udiag_wqueue"`
}

// SizeofUnixDiagRQlen is sizeof(struct unix_diag_rqlen).
const SizeofUnixDiagRQlen = 8

// Encode writes r to b[:SizeofUnixDiagRQlen].
func (r *UnixDiagRQlen) Encode(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], r.Rqueue)
	binary.LittleEndian.PutUint32(b[4:], r.Wqueue)
}
