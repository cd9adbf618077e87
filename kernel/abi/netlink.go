package abi

import "encoding/binary"

// Netlink and rtnetlink structures (include/uapi/linux/netlink.h, rtnetlink.h,
// if_link.h, if_addr.h). A message is an Nlmsghdr, a family header (Ifinfomsg, Ifaddrmsg,
// Rtmsg, Nlmsgerr) and attributes, each an Rtattr and its data, every part aligned to
// NLMSG_ALIGNTO (4).

// NlmsgAlign rounds n up to NLMSG_ALIGNTO (also RTA_ALIGNTO).
func NlmsgAlign(n int) int { return (n + 3) &^ 3 }

// SockaddrNl is struct sockaddr_nl (include/uapi/linux/netlink.h).
type SockaddrNl struct {
	Family uint16 `c:"nl_family"`
	_      uint16 // nl_pad
	PID    uint32 `c:"nl_pid"`
	Groups uint32 `c:"nl_groups"`
}

// SizeofSockaddrNl is sizeof(struct sockaddr_nl).
const SizeofSockaddrNl = 12

// Encode writes s to b[:SizeofSockaddrNl] (nl_pad zeroed).
func (s *SockaddrNl) Encode(b []byte) {
	binary.LittleEndian.PutUint16(b[0:], s.Family)
	binary.LittleEndian.PutUint16(b[2:], 0)
	binary.LittleEndian.PutUint32(b[4:], s.PID)
	binary.LittleEndian.PutUint32(b[8:], s.Groups)
}

// Decode reads s from b[:SizeofSockaddrNl].
func (s *SockaddrNl) Decode(b []byte) {
	s.Family, s.PID, s.Groups = binary.LittleEndian.Uint16(b[0:]), binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[8:])
}

// Nlmsghdr is struct nlmsghdr, the head of every netlink message.
type Nlmsghdr struct {
	Len   uint32 `c:"nlmsg_len"`
	Type  uint16 `c:"nlmsg_type"`
	Flags uint16 `c:"nlmsg_flags"`
	Seq   uint32 `c:"nlmsg_seq"`
	PID   uint32 `c:"nlmsg_pid"`
}

// SizeofNlmsghdr is sizeof(struct nlmsghdr).
const SizeofNlmsghdr = 16

// Encode writes h to b[:SizeofNlmsghdr].
func (h *Nlmsghdr) Encode(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], h.Len)
	binary.LittleEndian.PutUint16(b[4:], h.Type)
	binary.LittleEndian.PutUint16(b[6:], h.Flags)
	binary.LittleEndian.PutUint32(b[8:], h.Seq)
	binary.LittleEndian.PutUint32(b[12:], h.PID)
}

// Decode reads h from b[:SizeofNlmsghdr].
func (h *Nlmsghdr) Decode(b []byte) {
	h.Len, h.Type, h.Flags = binary.LittleEndian.Uint32(b[0:]), binary.LittleEndian.Uint16(b[4:]), binary.LittleEndian.Uint16(b[6:])
	h.Seq, h.PID = binary.LittleEndian.Uint32(b[8:]), binary.LittleEndian.Uint32(b[12:])
}

// NlmsgLen is the nlmsg_len of the message starting at b (b holds at least 4 bytes).
func NlmsgLen(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

// SetNlmsgLen sets the nlmsg_len of the message starting at b.
func SetNlmsgLen(b []byte, n uint32) { binary.LittleEndian.PutUint32(b, n) }

// Nlmsgerr is struct nlmsgerr, the body of NLMSG_ERROR (an acknowledgement when Error is
// 0): a negative errno and the header of the request it answers.
type Nlmsgerr struct {
	Error int32    `c:"error"`
	Msg   Nlmsghdr `c:"msg"`
}

// SizeofNlmsgerr is sizeof(struct nlmsgerr).
const SizeofNlmsgerr = 20

// Encode writes e to b[:SizeofNlmsgerr].
func (e *Nlmsgerr) Encode(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], uint32(e.Error))
	e.Msg.Encode(b[4:])
}

// Decode reads e from b[:SizeofNlmsgerr].
func (e *Nlmsgerr) Decode(b []byte) {
	e.Error = int32(binary.LittleEndian.Uint32(b[0:]))
	e.Msg.Decode(b[4:])
}

// Rtattr is struct rtattr, the head of a routing attribute: its length (head included,
// padding not) and type.
type Rtattr struct {
	Len  uint16 `c:"rta_len"`
	Type uint16 `c:"rta_type"`
}

// SizeofRtattr is sizeof(struct rtattr).
const SizeofRtattr = 4

// Encode writes a to b[:SizeofRtattr].
func (a *Rtattr) Encode(b []byte) {
	binary.LittleEndian.PutUint16(b[0:], a.Len)
	binary.LittleEndian.PutUint16(b[2:], a.Type)
}

// Decode reads a from b[:SizeofRtattr].
func (a *Rtattr) Decode(b []byte) {
	a.Len, a.Type = binary.LittleEndian.Uint16(b[0:]), binary.LittleEndian.Uint16(b[2:])
}

// Ifinfomsg is struct ifinfomsg, the family header of RTM_*LINK.
type Ifinfomsg struct {
	Family uint8  `c:"ifi_family"`
	_      uint8  // __ifi_pad
	Type   uint16 `c:"ifi_type"`
	Index  int32  `c:"ifi_index"`
	Flags  uint32 `c:"ifi_flags"`
	Change uint32 `c:"ifi_change"`
}

// SizeofIfinfomsg is sizeof(struct ifinfomsg).
const SizeofIfinfomsg = 16

// Encode writes m to b[:SizeofIfinfomsg] (padding zeroed).
func (m *Ifinfomsg) Encode(b []byte) {
	b[0], b[1] = m.Family, 0
	binary.LittleEndian.PutUint16(b[2:], m.Type)
	binary.LittleEndian.PutUint32(b[4:], uint32(m.Index))
	binary.LittleEndian.PutUint32(b[8:], m.Flags)
	binary.LittleEndian.PutUint32(b[12:], m.Change)
}

// Decode reads m from b[:SizeofIfinfomsg].
func (m *Ifinfomsg) Decode(b []byte) {
	m.Family, m.Type, m.Index = b[0], binary.LittleEndian.Uint16(b[2:]), int32(binary.LittleEndian.Uint32(b[4:]))
	m.Flags, m.Change = binary.LittleEndian.Uint32(b[8:]), binary.LittleEndian.Uint32(b[12:])
}

// Ifaddrmsg is struct ifaddrmsg, the family header of RTM_*ADDR.
type Ifaddrmsg struct {
	Family    uint8  `c:"ifa_family"`
	Prefixlen uint8  `c:"ifa_prefixlen"`
	Flags     uint8  `c:"ifa_flags"`
	Scope     uint8  `c:"ifa_scope"`
	Index     uint32 `c:"ifa_index"`
}

// SizeofIfaddrmsg is sizeof(struct ifaddrmsg).
const SizeofIfaddrmsg = 8

// Encode writes m to b[:SizeofIfaddrmsg].
func (m *Ifaddrmsg) Encode(b []byte) {
	b[0], b[1], b[2], b[3] = m.Family, m.Prefixlen, m.Flags, m.Scope
	binary.LittleEndian.PutUint32(b[4:], m.Index)
}

// Decode reads m from b[:SizeofIfaddrmsg].
func (m *Ifaddrmsg) Decode(b []byte) {
	m.Family, m.Prefixlen, m.Flags, m.Scope = b[0], b[1], b[2], b[3]
	m.Index = binary.LittleEndian.Uint32(b[4:])
}

// Rtmsg is struct rtmsg, the family header of RTM_*ROUTE.
type Rtmsg struct {
	Family   uint8  `c:"rtm_family"`
	DstLen   uint8  `c:"rtm_dst_len"`
	SrcLen   uint8  `c:"rtm_src_len"`
	Tos      uint8  `c:"rtm_tos"`
	Table    uint8  `c:"rtm_table"`
	Protocol uint8  `c:"rtm_protocol"`
	Scope    uint8  `c:"rtm_scope"`
	Type     uint8  `c:"rtm_type"`
	Flags    uint32 `c:"rtm_flags"`
}

// SizeofRtmsg is sizeof(struct rtmsg).
const SizeofRtmsg = 12

// Encode writes m to b[:SizeofRtmsg].
func (m *Rtmsg) Encode(b []byte) {
	b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7] = m.Family, m.DstLen, m.SrcLen, m.Tos, m.Table, m.Protocol, m.Scope, m.Type
	binary.LittleEndian.PutUint32(b[8:], m.Flags)
}

// Decode reads m from b[:SizeofRtmsg].
func (m *Rtmsg) Decode(b []byte) {
	m.Family, m.DstLen, m.SrcLen, m.Tos, m.Table, m.Protocol, m.Scope, m.Type = b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]
	m.Flags = binary.LittleEndian.Uint32(b[8:])
}
