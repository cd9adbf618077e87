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

// OpenHow is struct open_how of openat2(2) (include/uapi/linux/openat2.h).
type OpenHow struct {
	Flags   uint64 `c:"flags"`
	Mode    uint64 `c:"mode"`
	Resolve uint64 `c:"resolve"`
}

// SizeofOpenHow is sizeof(struct open_how) (OPEN_HOW_SIZE_VER0).
const SizeofOpenHow = 24

// Encode writes h to b[:SizeofOpenHow].
func (h *OpenHow) Encode(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], h.Flags)
	binary.LittleEndian.PutUint64(b[8:], h.Mode)
	binary.LittleEndian.PutUint64(b[16:], h.Resolve)
}

// Decode reads h from b[:SizeofOpenHow].
func (h *OpenHow) Decode(b []byte) {
	h.Flags, h.Mode, h.Resolve = binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:]), binary.LittleEndian.Uint64(b[16:])
}

// Utimbuf is struct utimbuf of utime(2) (include/uapi/linux/utime.h): whole seconds.
type Utimbuf struct {
	Actime  int64 `c:"actime"`
	Modtime int64 `c:"modtime"`
}

// SizeofUtimbuf is sizeof(struct utimbuf).
const SizeofUtimbuf = 16

// Encode writes u to b[:SizeofUtimbuf].
func (u *Utimbuf) Encode(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], uint64(u.Actime))
	binary.LittleEndian.PutUint64(b[8:], uint64(u.Modtime))
}

// Decode reads u from b[:SizeofUtimbuf].
func (u *Utimbuf) Decode(b []byte) {
	u.Actime, u.Modtime = int64(binary.LittleEndian.Uint64(b[0:])), int64(binary.LittleEndian.Uint64(b[8:]))
}

// SchedAttr is struct sched_attr of sched_setattr(2) and sched_getattr(2)
// (include/uapi/linux/sched/types.h), as of SCHED_ATTR_SIZE_VER1.
type SchedAttr struct {
	Size     uint32 `c:"size"`
	Policy   uint32 `c:"sched_policy"`
	Flags    uint64 `c:"sched_flags"`
	Nice     int32  `c:"sched_nice"`
	Priority uint32 `c:"sched_priority"`
	Runtime  uint64 `c:"sched_runtime"`
	Deadline uint64 `c:"sched_deadline"`
	Period   uint64 `c:"sched_period"`
	UtilMin  uint32 `c:"sched_util_min"`
	UtilMax  uint32 `c:"sched_util_max"`
}

// SizeofSchedAttr is sizeof(struct sched_attr); SCHED_ATTR_SIZE_VER0 the size before the
// utilization clamps.
const (
	SizeofSchedAttr      = 56
	SCHED_ATTR_SIZE_VER0 = 48
)

// Encode writes a to b[:SizeofSchedAttr].
func (a *SchedAttr) Encode(b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], a.Size)
	le.PutUint32(b[4:], a.Policy)
	le.PutUint64(b[8:], a.Flags)
	le.PutUint32(b[16:], uint32(a.Nice))
	le.PutUint32(b[20:], a.Priority)
	le.PutUint64(b[24:], a.Runtime)
	le.PutUint64(b[32:], a.Deadline)
	le.PutUint64(b[40:], a.Period)
	le.PutUint32(b[48:], a.UtilMin)
	le.PutUint32(b[52:], a.UtilMax)
}

// Decode reads a from b, which holds at least SCHED_ATTR_SIZE_VER0 bytes: the fields past
// its end are zero.
func (a *SchedAttr) Decode(b []byte) {
	le := binary.LittleEndian
	a.Size, a.Policy, a.Flags = le.Uint32(b[0:]), le.Uint32(b[4:]), le.Uint64(b[8:])
	a.Nice, a.Priority = int32(le.Uint32(b[16:])), le.Uint32(b[20:])
	a.Runtime, a.Deadline, a.Period = le.Uint64(b[24:]), le.Uint64(b[32:]), le.Uint64(b[40:])
	a.UtilMin, a.UtilMax = 0, 0
	if len(b) >= SizeofSchedAttr {
		a.UtilMin, a.UtilMax = le.Uint32(b[48:]), le.Uint32(b[52:])
	}
}

// FileHandle is the head of struct file_handle of name_to_handle_at(2) (include/linux/
// fs.h, <fcntl.h>); HandleBytes bytes of f_handle follow it.
type FileHandle struct {
	HandleBytes uint32 `c:"handle_bytes"`
	HandleType  int32  `c:"handle_type"`
}

// SizeofFileHandle is the size of the head, offsetof(struct file_handle, f_handle).
const SizeofFileHandle = 8

// Encode writes h to b[:SizeofFileHandle].
func (h *FileHandle) Encode(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], h.HandleBytes)
	binary.LittleEndian.PutUint32(b[4:], uint32(h.HandleType))
}

// Decode reads h from b[:SizeofFileHandle].
func (h *FileHandle) Decode(b []byte) {
	h.HandleBytes, h.HandleType = binary.LittleEndian.Uint32(b[0:]), int32(binary.LittleEndian.Uint32(b[4:]))
}

// CapUserHeader is struct __user_cap_header_struct of capget(2) and capset(2)
// (include/uapi/linux/capability.h).
type CapUserHeader struct {
	Version uint32 `c:"version"`
	PID     int32  `c:"pid"`
}

// SizeofCapUserHeader is sizeof(struct __user_cap_header_struct).
const SizeofCapUserHeader = 8

// Encode writes h to b[:SizeofCapUserHeader].
func (h *CapUserHeader) Encode(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], h.Version)
	binary.LittleEndian.PutUint32(b[4:], uint32(h.PID))
}

// Decode reads h from b[:SizeofCapUserHeader].
func (h *CapUserHeader) Decode(b []byte) {
	h.Version, h.PID = binary.LittleEndian.Uint32(b[0:]), int32(binary.LittleEndian.Uint32(b[4:]))
}

// CapUserData is struct __user_cap_data_struct (include/uapi/linux/capability.h): one
// 32-bit word of each set; version 2 and 3 pass two of them, low word first.
type CapUserData struct {
	Effective   uint32 `c:"effective"`
	Permitted   uint32 `c:"permitted"`
	Inheritable uint32 `c:"inheritable"`
}

// SizeofCapUserData is sizeof(struct __user_cap_data_struct).
const SizeofCapUserData = 12

// Encode writes d to b[:SizeofCapUserData].
func (d *CapUserData) Encode(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], d.Effective)
	binary.LittleEndian.PutUint32(b[4:], d.Permitted)
	binary.LittleEndian.PutUint32(b[8:], d.Inheritable)
}

// Decode reads d from b[:SizeofCapUserData].
func (d *CapUserData) Decode(b []byte) {
	d.Effective, d.Permitted, d.Inheritable = binary.LittleEndian.Uint32(b[0:]), binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[8:])
}

// FOwnerEx is struct f_owner_ex of F_GETOWN_EX and F_SETOWN_EX (include/uapi/asm-generic/fcntl.h).
type FOwnerEx struct {
	Type int32 `c:"type"`
	PID  int32 `c:"pid"`
}

// SizeofFOwnerEx is sizeof(struct f_owner_ex).
const SizeofFOwnerEx = 8

// Encode writes o to b[:SizeofFOwnerEx].
func (o *FOwnerEx) Encode(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], uint32(o.Type))
	binary.LittleEndian.PutUint32(b[4:], uint32(o.PID))
}

// Decode reads o from b[:SizeofFOwnerEx].
func (o *FOwnerEx) Decode(b []byte) {
	o.Type, o.PID = int32(binary.LittleEndian.Uint32(b[0:])), int32(binary.LittleEndian.Uint32(b[4:]))
}

// PosixACLXattrHeader is struct posix_acl_xattr_header, the head of a system.posix_acl_*
// extended attribute's value (include/uapi/linux/posix_acl_xattr.h); entries follow.
type PosixACLXattrHeader struct {
	Version uint32 `c:"a_version"`
}

// SizeofPosixACLXattrHeader is sizeof(struct posix_acl_xattr_header).
const SizeofPosixACLXattrHeader = 4

// Encode writes h to b[:SizeofPosixACLXattrHeader].
func (h *PosixACLXattrHeader) Encode(b []byte) { binary.LittleEndian.PutUint32(b, h.Version) }

// Decode reads h from b[:SizeofPosixACLXattrHeader].
func (h *PosixACLXattrHeader) Decode(b []byte) { h.Version = binary.LittleEndian.Uint32(b) }

// PosixACLXattrEntry is struct posix_acl_xattr_entry.
type PosixACLXattrEntry struct {
	Tag  uint16 `c:"e_tag"`
	Perm uint16 `c:"e_perm"`
	ID   uint32 `c:"e_id"`
}

// SizeofPosixACLXattrEntry is sizeof(struct posix_acl_xattr_entry).
const SizeofPosixACLXattrEntry = 8

// Encode writes e to b[:SizeofPosixACLXattrEntry].
func (e *PosixACLXattrEntry) Encode(b []byte) {
	binary.LittleEndian.PutUint16(b[0:], e.Tag)
	binary.LittleEndian.PutUint16(b[2:], e.Perm)
	binary.LittleEndian.PutUint32(b[4:], e.ID)
}

// Decode reads e from b[:SizeofPosixACLXattrEntry].
func (e *PosixACLXattrEntry) Decode(b []byte) {
	e.Tag, e.Perm, e.ID = binary.LittleEndian.Uint16(b[0:]), binary.LittleEndian.Uint16(b[2:]), binary.LittleEndian.Uint32(b[4:])
}

// MountAttr is struct mount_attr of mount_setattr(2) (include/uapi/linux/mount.h),
// MOUNT_ATTR_SIZE_VER0.
type MountAttr struct {
	AttrSet     uint64 `c:"attr_set"`
	AttrClr     uint64 `c:"attr_clr"`
	Propagation uint64 `c:"propagation"`
	UsernsFD    uint64 `c:"userns_fd"`
}

// SizeofMountAttr is sizeof(struct mount_attr).
const SizeofMountAttr = 32

// Decode reads m from b[:SizeofMountAttr].
func (m *MountAttr) Decode(b []byte) {
	m.AttrSet, m.AttrClr = binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:])
	m.Propagation, m.UsernsFD = binary.LittleEndian.Uint64(b[16:]), binary.LittleEndian.Uint64(b[24:])
}

// Encode writes m to b[:SizeofMountAttr].
func (m *MountAttr) Encode(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], m.AttrSet)
	binary.LittleEndian.PutUint64(b[8:], m.AttrClr)
	binary.LittleEndian.PutUint64(b[16:], m.Propagation)
	binary.LittleEndian.PutUint64(b[24:], m.UsernsFD)
}

// O_LARGEFILE is the kernel's open flag on x86-64 (include/uapi/asm-generic/fcntl.h:
// 00100000), which every 64-bit open gets (force_o_largefile) and F_GETFL shows; the C
// library and x/sys spell it 0 there.
const O_LARGEFILE = 0o100000

// Fid32 is the f_handle of FILEID_INO32_GEN (include/linux/exportfs.h, struct fid's i32:
// ext4 and most disk filesystems).
type Fid32 struct {
	Ino uint32 `c:"ino"`
	Gen uint32 `c:"gen"`
}

// SizeofFid32 is the size of a FILEID_INO32_GEN handle.
const SizeofFid32 = 8

// Encode writes f to b[:SizeofFid32].
func (f *Fid32) Encode(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], f.Ino)
	binary.LittleEndian.PutUint32(b[4:], f.Gen)
}

// ShmemFid is the f_handle of a tmpfs file (mm/shmem.c, shmem_encode_fh): the generation,
// then the inode number's low and high halves.
type ShmemFid struct {
	Gen   uint32 `c:"gen"`
	InoLo uint32 `c:"ino_lo"`
	InoHi uint32 `c:"ino_hi"`
}

// SizeofShmemFid is the size of a tmpfs handle.
const SizeofShmemFid = 12

// Encode writes f to b[:SizeofShmemFid].
func (f *ShmemFid) Encode(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], f.Gen)
	binary.LittleEndian.PutUint32(b[4:], f.InoLo)
	binary.LittleEndian.PutUint32(b[8:], f.InoHi)
}

// Fid64 is the f_handle of FILEID_INO64_GEN (fs/exportfs/expfs.c,
// exportfs_encode_ino64_fid): the 64-bit inode number, then the generation.
type Fid64 struct {
	Ino uint64 `c:"ino"`
	Gen uint32 `c:"gen"`
}

// SizeofFid64 is the size of a FILEID_INO64_GEN handle.
const SizeofFid64 = 12

// Encode writes f to b[:SizeofFid64].
func (f *Fid64) Encode(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], f.Ino)
	binary.LittleEndian.PutUint32(b[8:], f.Gen)
}
