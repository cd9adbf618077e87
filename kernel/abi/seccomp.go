package abi

import "encoding/binary"

// SeccompData is struct seccomp_data (include/uapi/linux/seccomp.h): what a seccomp filter
// reads, and the call a user notification describes.
type SeccompData struct {
	Nr   int32     `c:"nr"`
	Arch uint32    `c:"arch"`
	IP   uint64    `c:"instruction_pointer"`
	Args [6]uint64 `c:"args"`
}

// SizeofSeccompData is sizeof(struct seccomp_data).
const SizeofSeccompData = 64

// Encode writes d to b[:SizeofSeccompData].
func (d *SeccompData) Encode(b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(d.Nr))
	le.PutUint32(b[4:], d.Arch)
	le.PutUint64(b[8:], d.IP)
	for i, a := range d.Args {
		le.PutUint64(b[16+8*i:], a)
	}
}

// Decode reads d from b[:SizeofSeccompData].
func (d *SeccompData) Decode(b []byte) {
	le := binary.LittleEndian
	d.Nr, d.Arch, d.IP = int32(le.Uint32(b[0:])), le.Uint32(b[4:]), le.Uint64(b[8:])
	for i := range d.Args {
		d.Args[i] = le.Uint64(b[16+8*i:])
	}
}

// SockFilter is struct sock_filter, one classic BPF instruction
// (include/uapi/linux/filter.h).
type SockFilter struct {
	Code uint16 `c:"code"`
	Jt   uint8  `c:"jt"`
	Jf   uint8  `c:"jf"`
	K    uint32 `c:"k"`
}

// SizeofSockFilter is sizeof(struct sock_filter).
const SizeofSockFilter = 8

// Encode writes f to b[:SizeofSockFilter].
func (f *SockFilter) Encode(b []byte) {
	binary.LittleEndian.PutUint16(b[0:], f.Code)
	b[2], b[3] = f.Jt, f.Jf
	binary.LittleEndian.PutUint32(b[4:], f.K)
}

// Decode reads f from b[:SizeofSockFilter].
func (f *SockFilter) Decode(b []byte) {
	f.Code, f.Jt, f.Jf, f.K = binary.LittleEndian.Uint16(b[0:]), b[2], b[3], binary.LittleEndian.Uint32(b[4:])
}

// SockFprog is struct sock_fprog (include/uapi/linux/filter.h): a program's length in
// instructions and its address.
type SockFprog struct {
	Len    uint16 `c:"len"`
	_      [6]byte
	Filter uint64 `c:"filter"`
}

// SizeofSockFprog is sizeof(struct sock_fprog).
const SizeofSockFprog = 16

// Encode writes p to b[:SizeofSockFprog] (padding zeroed).
func (p *SockFprog) Encode(b []byte) {
	binary.LittleEndian.PutUint16(b[0:], p.Len)
	clear(b[2:8])
	binary.LittleEndian.PutUint64(b[8:], p.Filter)
}

// Decode reads p from b[:SizeofSockFprog].
func (p *SockFprog) Decode(b []byte) {
	p.Len, p.Filter = binary.LittleEndian.Uint16(b[0:]), binary.LittleEndian.Uint64(b[8:])
}

// SeccompNotifSizes is struct seccomp_notif_sizes, SECCOMP_GET_NOTIF_SIZES's answer.
type SeccompNotifSizes struct {
	Notif     uint16 `c:"seccomp_notif"`
	NotifResp uint16 `c:"seccomp_notif_resp"`
	Data      uint16 `c:"seccomp_data"`
}

// SizeofSeccompNotifSizes is sizeof(struct seccomp_notif_sizes).
const SizeofSeccompNotifSizes = 6

// Encode writes s to b[:SizeofSeccompNotifSizes].
func (s *SeccompNotifSizes) Encode(b []byte) {
	binary.LittleEndian.PutUint16(b[0:], s.Notif)
	binary.LittleEndian.PutUint16(b[2:], s.NotifResp)
	binary.LittleEndian.PutUint16(b[4:], s.Data)
}

// SeccompNotif is struct seccomp_notif, read by SECCOMP_IOCTL_NOTIF_RECV.
type SeccompNotif struct {
	ID    uint64      `c:"id"`
	PID   uint32      `c:"pid"`
	Flags uint32      `c:"flags"`
	Data  SeccompData `c:"data"`
}

// SizeofSeccompNotif is sizeof(struct seccomp_notif).
const SizeofSeccompNotif = 80

// Encode writes n to b[:SizeofSeccompNotif].
func (n *SeccompNotif) Encode(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], n.ID)
	binary.LittleEndian.PutUint32(b[8:], n.PID)
	binary.LittleEndian.PutUint32(b[12:], n.Flags)
	n.Data.Encode(b[16:])
}

// Decode reads n from b[:SizeofSeccompNotif].
func (n *SeccompNotif) Decode(b []byte) {
	n.ID, n.PID, n.Flags = binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint32(b[8:]), binary.LittleEndian.Uint32(b[12:])
	n.Data.Decode(b[16:])
}

// SeccompNotifResp is struct seccomp_notif_resp, written by SECCOMP_IOCTL_NOTIF_SEND.
type SeccompNotifResp struct {
	ID    uint64 `c:"id"`
	Val   int64  `c:"val"`
	Error int32  `c:"error"`
	Flags uint32 `c:"flags"`
}

// SizeofSeccompNotifResp is sizeof(struct seccomp_notif_resp).
const SizeofSeccompNotifResp = 24

// Encode writes r to b[:SizeofSeccompNotifResp].
func (r *SeccompNotifResp) Encode(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], r.ID)
	binary.LittleEndian.PutUint64(b[8:], uint64(r.Val))
	binary.LittleEndian.PutUint32(b[16:], uint32(r.Error))
	binary.LittleEndian.PutUint32(b[20:], r.Flags)
}

// Decode reads r from b[:SizeofSeccompNotifResp].
func (r *SeccompNotifResp) Decode(b []byte) {
	r.ID, r.Val = binary.LittleEndian.Uint64(b[0:]), int64(binary.LittleEndian.Uint64(b[8:]))
	r.Error, r.Flags = int32(binary.LittleEndian.Uint32(b[16:])), binary.LittleEndian.Uint32(b[20:])
}

// SeccompNotifAddfd is struct seccomp_notif_addfd, written by SECCOMP_IOCTL_NOTIF_ADDFD.
type SeccompNotifAddfd struct {
	ID         uint64 `c:"id"`
	Flags      uint32 `c:"flags"`
	Srcfd      uint32 `c:"srcfd"`
	Newfd      uint32 `c:"newfd"`
	NewfdFlags uint32 `c:"newfd_flags"`
}

// SizeofSeccompNotifAddfd is sizeof(struct seccomp_notif_addfd).
const SizeofSeccompNotifAddfd = 24

// Encode writes a to b[:SizeofSeccompNotifAddfd].
func (a *SeccompNotifAddfd) Encode(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], a.ID)
	binary.LittleEndian.PutUint32(b[8:], a.Flags)
	binary.LittleEndian.PutUint32(b[12:], a.Srcfd)
	binary.LittleEndian.PutUint32(b[16:], a.Newfd)
	binary.LittleEndian.PutUint32(b[20:], a.NewfdFlags)
}

// Decode reads a from b[:SizeofSeccompNotifAddfd].
func (a *SeccompNotifAddfd) Decode(b []byte) {
	le := binary.LittleEndian
	a.ID, a.Flags, a.Srcfd, a.Newfd, a.NewfdFlags = le.Uint64(b[0:]), le.Uint32(b[8:]), le.Uint32(b[12:]), le.Uint32(b[16:]), le.Uint32(b[20:])
}
