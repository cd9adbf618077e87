package abi

import "encoding/binary"

// Stat is struct stat of stat(2), fstat(2), lstat(2) and newfstatat(2) on x86-64
// (arch/x86/include/uapi/asm/stat.h).
type Stat struct {
	Dev     uint64   `c:"st_dev"`
	Ino     uint64   `c:"st_ino"`
	Nlink   uint64   `c:"st_nlink"`
	Mode    uint32   `c:"st_mode"`
	UID     uint32   `c:"st_uid"`
	GID     uint32   `c:"st_gid"`
	_       uint32   // __pad0
	Rdev    uint64   `c:"st_rdev"`
	Size    int64    `c:"st_size"`
	Blksize int64    `c:"st_blksize"`
	Blocks  int64    `c:"st_blocks"`
	Atime   Timespec `c:"st_atim"`
	Mtime   Timespec `c:"st_mtim"`
	Ctime   Timespec `c:"st_ctim"`
	_       [3]int64 // __unused
}

// SizeofStat is sizeof(struct stat).
const SizeofStat = 144

// Encode writes s in its Linux layout to b[:SizeofStat] (padding zeroed).
func (s *Stat) Encode(b []byte) {
	le := binary.LittleEndian
	le.PutUint64(b[0:], s.Dev)
	le.PutUint64(b[8:], s.Ino)
	le.PutUint64(b[16:], s.Nlink)
	le.PutUint32(b[24:], s.Mode)
	le.PutUint32(b[28:], s.UID)
	le.PutUint32(b[32:], s.GID)
	le.PutUint32(b[36:], 0)
	le.PutUint64(b[40:], s.Rdev)
	le.PutUint64(b[48:], uint64(s.Size))
	le.PutUint64(b[56:], uint64(s.Blksize))
	le.PutUint64(b[64:], uint64(s.Blocks))
	s.Atime.Encode(b[72:])
	s.Mtime.Encode(b[88:])
	s.Ctime.Encode(b[104:])
	clear(b[120:SizeofStat])
}

// Decode reads s from b[:SizeofStat].
func (s *Stat) Decode(b []byte) {
	le := binary.LittleEndian
	s.Dev, s.Ino, s.Nlink = le.Uint64(b[0:]), le.Uint64(b[8:]), le.Uint64(b[16:])
	s.Mode, s.UID, s.GID = le.Uint32(b[24:]), le.Uint32(b[28:]), le.Uint32(b[32:])
	s.Rdev, s.Size, s.Blksize, s.Blocks = le.Uint64(b[40:]), int64(le.Uint64(b[48:])), int64(le.Uint64(b[56:])), int64(le.Uint64(b[64:]))
	s.Atime, s.Mtime, s.Ctime = DecodeTimespec(b[72:]), DecodeTimespec(b[88:]), DecodeTimespec(b[104:])
}

// StatxTimestamp is struct statx_timestamp (include/uapi/linux/stat.h).
type StatxTimestamp struct {
	Sec  int64  `c:"tv_sec"`
	Nsec uint32 `c:"tv_nsec"`
	_    int32  // __reserved
}

// Encode writes t to b[:16].
func (t StatxTimestamp) Encode(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], uint64(t.Sec))
	binary.LittleEndian.PutUint32(b[8:], t.Nsec)
	binary.LittleEndian.PutUint32(b[12:], 0)
}

// DecodeStatxTimestamp reads a StatxTimestamp from b[:16].
func DecodeStatxTimestamp(b []byte) StatxTimestamp {
	return StatxTimestamp{Sec: int64(binary.LittleEndian.Uint64(b[0:])), Nsec: binary.LittleEndian.Uint32(b[8:])}
}

// Statx is struct statx of statx(2) (include/uapi/linux/stat.h), up to stx_mnt_id; the
// rest of its 256 bytes is written as zeros.
type Statx struct {
	Mask           uint32         `c:"stx_mask"`
	Blksize        uint32         `c:"stx_blksize"`
	Attributes     uint64         `c:"stx_attributes"`
	Nlink          uint32         `c:"stx_nlink"`
	UID            uint32         `c:"stx_uid"`
	GID            uint32         `c:"stx_gid"`
	Mode           uint16         `c:"stx_mode"`
	_              uint16         // __spare0
	Ino            uint64         `c:"stx_ino"`
	Size           uint64         `c:"stx_size"`
	Blocks         uint64         `c:"stx_blocks"`
	AttributesMask uint64         `c:"stx_attributes_mask"`
	Atime          StatxTimestamp `c:"stx_atime"`
	Btime          StatxTimestamp `c:"stx_btime"`
	Ctime          StatxTimestamp `c:"stx_ctime"`
	Mtime          StatxTimestamp `c:"stx_mtime"`
	RdevMajor      uint32         `c:"stx_rdev_major"`
	RdevMinor      uint32         `c:"stx_rdev_minor"`
	DevMajor       uint32         `c:"stx_dev_major"`
	DevMinor       uint32         `c:"stx_dev_minor"`
	MntID          uint64         `c:"stx_mnt_id"`
	_              [13]uint64     // stx_dio_mem_align and what later kernels add
}

// SizeofStatx is sizeof(struct statx).
const SizeofStatx = 256

// Encode writes s in its Linux layout to b[:SizeofStatx] (padding and the fields after
// stx_mnt_id zeroed).
func (s *Statx) Encode(b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], s.Mask)
	le.PutUint32(b[4:], s.Blksize)
	le.PutUint64(b[8:], s.Attributes)
	le.PutUint32(b[16:], s.Nlink)
	le.PutUint32(b[20:], s.UID)
	le.PutUint32(b[24:], s.GID)
	le.PutUint16(b[28:], s.Mode)
	le.PutUint16(b[30:], 0)
	le.PutUint64(b[32:], s.Ino)
	le.PutUint64(b[40:], s.Size)
	le.PutUint64(b[48:], s.Blocks)
	le.PutUint64(b[56:], s.AttributesMask)
	s.Atime.Encode(b[64:])
	s.Btime.Encode(b[80:])
	s.Ctime.Encode(b[96:])
	s.Mtime.Encode(b[112:])
	le.PutUint32(b[128:], s.RdevMajor)
	le.PutUint32(b[132:], s.RdevMinor)
	le.PutUint32(b[136:], s.DevMajor)
	le.PutUint32(b[140:], s.DevMinor)
	le.PutUint64(b[144:], s.MntID)
	clear(b[152:SizeofStatx])
}

// Decode reads s from b[:SizeofStatx].
func (s *Statx) Decode(b []byte) {
	le := binary.LittleEndian
	s.Mask, s.Blksize, s.Attributes = le.Uint32(b[0:]), le.Uint32(b[4:]), le.Uint64(b[8:])
	s.Nlink, s.UID, s.GID, s.Mode = le.Uint32(b[16:]), le.Uint32(b[20:]), le.Uint32(b[24:]), le.Uint16(b[28:])
	s.Ino, s.Size, s.Blocks, s.AttributesMask = le.Uint64(b[32:]), le.Uint64(b[40:]), le.Uint64(b[48:]), le.Uint64(b[56:])
	s.Atime, s.Btime = DecodeStatxTimestamp(b[64:]), DecodeStatxTimestamp(b[80:])
	s.Ctime, s.Mtime = DecodeStatxTimestamp(b[96:]), DecodeStatxTimestamp(b[112:])
	s.RdevMajor, s.RdevMinor, s.DevMajor, s.DevMinor = le.Uint32(b[128:]), le.Uint32(b[132:]), le.Uint32(b[136:]), le.Uint32(b[140:])
	s.MntID = le.Uint64(b[144:])
}

// Statx mask bits (include/uapi/linux/stat.h).
const (
	STATX_BASIC_STATS   = 0x7ff
	STATX_BTIME         = 0x800
	STATX_MNT_ID        = 0x1000
	STATX_MNT_ID_UNIQUE = 0x4000
	STATX__RESERVED     = 0x80000000
	STATX_MTIME         = 0x40
	STATX_CTIME         = 0x80
)

// Statx attribute bits (stx_attributes, include/uapi/linux/stat.h).
const (
	STATX_ATTR_IMMUTABLE  = 0x10
	STATX_ATTR_APPEND     = 0x20
	STATX_ATTR_NODUMP     = 0x40
	STATX_ATTR_AUTOMOUNT  = 0x1000
	STATX_ATTR_MOUNT_ROOT = 0x2000
	STATX_ATTR_DAX        = 0x200000
)

// Statfs is struct statfs of statfs(2) and fstatfs(2) on x86-64
// (include/uapi/asm-generic/statfs.h).
type Statfs struct {
	Type    int64    `c:"f_type"`
	Bsize   int64    `c:"f_bsize"`
	Blocks  uint64   `c:"f_blocks"`
	Bfree   uint64   `c:"f_bfree"`
	Bavail  uint64   `c:"f_bavail"`
	Files   uint64   `c:"f_files"`
	Ffree   uint64   `c:"f_ffree"`
	Fsid    [2]int32 `c:"f_fsid"`
	Namelen int64    `c:"f_namelen"`
	Frsize  int64    `c:"f_frsize"`
	Flags   int64    `c:"f_flags"`
	_       [4]int64 // f_spare
}

// SizeofStatfs is sizeof(struct statfs).
const SizeofStatfs = 120

// Encode writes s in its Linux layout to b[:SizeofStatfs] (f_spare zeroed).
func (s *Statfs) Encode(b []byte) {
	le := binary.LittleEndian
	le.PutUint64(b[0:], uint64(s.Type))
	le.PutUint64(b[8:], uint64(s.Bsize))
	le.PutUint64(b[16:], s.Blocks)
	le.PutUint64(b[24:], s.Bfree)
	le.PutUint64(b[32:], s.Bavail)
	le.PutUint64(b[40:], s.Files)
	le.PutUint64(b[48:], s.Ffree)
	le.PutUint32(b[56:], uint32(s.Fsid[0]))
	le.PutUint32(b[60:], uint32(s.Fsid[1]))
	le.PutUint64(b[64:], uint64(s.Namelen))
	le.PutUint64(b[72:], uint64(s.Frsize))
	le.PutUint64(b[80:], uint64(s.Flags))
	clear(b[88:SizeofStatfs])
}

// Decode reads s from b[:SizeofStatfs].
func (s *Statfs) Decode(b []byte) {
	le := binary.LittleEndian
	s.Type, s.Bsize = int64(le.Uint64(b[0:])), int64(le.Uint64(b[8:]))
	s.Blocks, s.Bfree, s.Bavail, s.Files, s.Ffree = le.Uint64(b[16:]), le.Uint64(b[24:]), le.Uint64(b[32:]), le.Uint64(b[40:]), le.Uint64(b[48:])
	s.Fsid = [2]int32{int32(le.Uint32(b[56:])), int32(le.Uint32(b[60:]))}
	s.Namelen, s.Frsize, s.Flags = int64(le.Uint64(b[64:])), int64(le.Uint64(b[72:])), int64(le.Uint64(b[80:]))
}

// Statfs f_flags bits (include/linux/statfs.h).
const (
	ST_RDONLY      = 0x1
	ST_NOSUID      = 0x2
	ST_NODEV       = 0x4
	ST_NOEXEC      = 0x8
	ST_SYNCHRONOUS = 0x10
	ST_VALID       = 0x20
	ST_NOATIME     = 0x400
	ST_NODIRATIME  = 0x800
	ST_RELATIME    = 0x1000
	ST_NOSYMFOLLOW = 0x2000
)
