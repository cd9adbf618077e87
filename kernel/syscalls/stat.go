package syscalls

import (
	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// statAttr returns the attributes of vd, filling the device from the mount when the
// filesystem has none.
func statAttr(vd vfs.VirtualDentry) (vfs.Attr, error) {
	a, err := vd.Dentry.Inode().Stat()
	if err != nil {
		return a, err
	}
	if a.Dev == 0 && vd.Mount != nil {
		a.Dev = vd.Mount.Dev()
	}
	return a, nil
}

// encodeStat lays out a as struct stat.
func encodeStat(a vfs.Attr) []byte {
	bs := a.Blksize
	if bs == 0 {
		bs = 4096
	}
	st := abi.Stat{Dev: a.Dev, Ino: a.Ino, Nlink: a.Nlink, Mode: a.Mode, UID: a.UID, GID: a.GID, Rdev: a.Rdev,
		Size: a.Size, Blksize: int64(bs), Blocks: a.Blocks, Atime: abiTimespec(a.Atime), Mtime: abiTimespec(a.Mtime),
		Ctime: abiTimespec(a.Ctime)}
	b := make([]byte, abi.SizeofStat)
	st.Encode(b)
	return b
}

// seenOwner maps a file's owner to the caller's user namespace, as stat(2) shows it (the
// overflow IDs, 65534, for what is unmapped there).
func seenOwner(t *kernel.Task, uid, gid uint32) (uint32, uint32) {
	u := t.Group().UserNS()
	if u.IsRoot() {
		return uid, gid
	}
	return u.MapUID(uid), u.MapGID(gid)
}

// abiTimespec converts a host timespec to the app's.
func abiTimespec(ts unix.Timespec) abi.Timespec { return abi.Timespec{Sec: ts.Sec, Nsec: ts.Nsec} }

func writeStat(t *kernel.Task, addr uint64, a vfs.Attr) error {
	a.UID, a.GID = seenOwner(t, a.UID, a.GID)
	if _, err := t.CopyOut(addr, encodeStat(a)); err != nil {
		return unix.EFAULT
	}
	return nil
}

// Stat implements stat(2).
func Stat(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return fstatat(t, kernel.AtFDCWD, a[0], a[1], 0)
}

// Lstat implements lstat(2).
func Lstat(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return fstatat(t, kernel.AtFDCWD, a[0], a[1], unix.AT_SYMLINK_NOFOLLOW)
}

// Fstat implements fstat(2).
func Fstat(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	at, err := fdAttr(fd)
	if err != nil {
		return 0, err
	}
	return 0, writeStat(t, a[1], at)
}

// fdAttr stats an open file (anonymous files get synthetic attributes).
func fdAttr(fd *vfs.FileDescription) (vfs.Attr, error) {
	if vd := fd.VirtualDentry(); vd.Ok() {
		return statAttr(vd)
	}
	return fd.StatAnon()
}

// Newfstatat implements newfstatat(2).
func Newfstatat(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return fstatat(t, int32(a[0]), a[1], a[2], a[3])
}

// mntIDUniqueBase is where unique mount IDs (STATX_MNT_ID_UNIQUE) start, above every
// 32-bit mount ID, as Linux's do.
const mntIDUniqueBase = 1 << 32

// emptyOrPath copies in the path of a stat call: a NULL one with AT_EMPTY_PATH is the
// empty path (Linux 6.11's getname_maybe_null), without it EFAULT.
func emptyOrPath(t *kernel.Task, addr, flags uint64) (string, error) {
	if addr == 0 && flags&unix.AT_EMPTY_PATH != 0 {
		return "", nil
	}
	return copyInPath(t, addr)
}

func fstatat(t *kernel.Task, dirfd int32, pathAddr, statAddr, flags uint64) (uint64, error) {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT) != 0 {
		return 0, unix.EINVAL
	}
	path, err := emptyOrPath(t, pathAddr, flags)
	if err != nil {
		return 0, err
	}
	vd, fd, err := t.FileOrPath(dirfd, path, flags&unix.AT_EMPTY_PATH != 0, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
	if err != nil {
		return 0, err
	}
	var at vfs.Attr
	if fd != nil {
		defer fd.DecRef()
		at, err = fdAttr(fd)
	} else {
		at, err = statAttr(vd)
	}
	if err != nil {
		return 0, err
	}
	return 0, writeStat(t, statAddr, at)
}

// atStatxSyncType is AT_STATX_SYNC_TYPE (include/uapi/linux/fcntl.h).
const atStatxSyncType = 0x6000

// Statx implements statx(2).
func Statx(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	dirfd, flags, mask := int32(a[0]), a[2], uint32(a[3])
	const okFlags = unix.AT_SYMLINK_NOFOLLOW | unix.AT_EMPTY_PATH | unix.AT_NO_AUTOMOUNT | atStatxSyncType
	if flags&^okFlags != 0 || flags&atStatxSyncType == atStatxSyncType {
		return 0, unix.EINVAL
	}
	if mask&abi.STATX__RESERVED != 0 {
		return 0, unix.EINVAL
	}
	path, err := emptyOrPath(t, a[1], flags)
	if err != nil {
		return 0, err
	}
	vd, fd, err := t.FileOrPath(dirfd, path, flags&unix.AT_EMPTY_PATH != 0, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
	if err != nil {
		return 0, err
	}
	var at vfs.Attr
	if fd != nil {
		defer fd.DecRef()
		at, err = fdAttr(fd)
		vd = fd.VirtualDentry()
	} else {
		at, err = statAttr(vd)
	}
	if err != nil {
		return 0, err
	}
	// What the mask reports follows Linux 6.18's vfs_statx: multigrain filesystems give
	// mtime and ctime only when asked for, btime comes only when asked for, the unique
	// mount ID replaces the old one when asked for; the generic attributes are known
	// everywhere, a mount's root says so.
	got := uint32(abi.STATX_BASIC_STATS)
	attrMask := uint64(abi.STATX_ATTR_AUTOMOUNT | abi.STATX_ATTR_DAX | abi.STATX_ATTR_MOUNT_ROOT)
	var attrs uint64
	var in vfs.Inode
	if vd.Ok() {
		in = vd.Dentry.Inode()
	} else if fd != nil {
		in = fd.Inode()
	}
	btime := at.Btime.Sec != 0 || at.Btime.Nsec != 0
	if st, ok := in.(vfs.StatxTraiter); ok {
		multigrain, bt, m := st.StatxTraits()
		if multigrain && mask&(abi.STATX_MTIME|abi.STATX_CTIME) == 0 {
			got &^= abi.STATX_MTIME | abi.STATX_CTIME
		}
		btime = btime && bt
		attrMask |= m
	}
	if mask&abi.STATX_BTIME != 0 && btime {
		got |= abi.STATX_BTIME
	}
	var mnt uint64
	if vd.Ok() {
		mnt = uint64(vd.Mount.ID)
		if vd.Dentry == vd.Mount.Root() {
			attrs |= abi.STATX_ATTR_MOUNT_ROOT
		}
	}
	if mask&abi.STATX_MNT_ID_UNIQUE != 0 {
		got |= abi.STATX_MNT_ID_UNIQUE
		mnt += mntIDUniqueBase
	} else {
		got |= abi.STATX_MNT_ID
	}
	bs := at.Blksize
	if bs == 0 {
		bs = 4096
	}
	at.UID, at.GID = seenOwner(t, at.UID, at.GID)
	ts := func(s unix.Timespec) abi.StatxTimestamp { return abi.StatxTimestamp{Sec: s.Sec, Nsec: uint32(s.Nsec)} }
	stx := abi.Statx{Mask: got, Blksize: uint32(bs), Nlink: uint32(at.Nlink), UID: at.UID, GID: at.GID, Mode: uint16(at.Mode),
		Ino: at.Ino, Size: uint64(at.Size), Blocks: uint64(at.Blocks), Atime: ts(at.Atime), Btime: ts(at.Btime),
		Ctime: ts(at.Ctime), Mtime: ts(at.Mtime), RdevMajor: unix.Major(at.Rdev), RdevMinor: unix.Minor(at.Rdev),
		DevMajor: unix.Major(at.Dev), DevMinor: unix.Minor(at.Dev), MntID: mnt, Attributes: attrs, AttributesMask: attrMask}
	b := make([]byte, abi.SizeofStatx)
	stx.Encode(b)
	if _, err := t.CopyOut(a[4], b); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// encodeStatFS lays out s as struct statfs of a file on mount m (nil: an anonymous file):
// f_flags are Linux's calculate_f_flags, the mount's flags and the filesystem's own
// read-only and synchronous states (a filesystem's report of its host mount's flags is
// not the sandbox's); f_fsid is the device, as simple_statfs gives it.
func encodeStatFS(s vfs.StatFS, m *vfs.Mount, dev uint64) []byte {
	fr := s.Frsize
	if fr == 0 {
		fr = s.Bsize
	}
	flags := s.Flags&(abi.ST_RDONLY|abi.ST_SYNCHRONOUS) | abi.ST_VALID
	if m != nil {
		mf := m.Flags()
		for _, x := range []struct {
			mnt uint32
			st  int64
		}{{vfs.MntReadOnly, abi.ST_RDONLY}, {vfs.MntNoSuid, abi.ST_NOSUID}, {vfs.MntNoDev, abi.ST_NODEV},
			{vfs.MntNoExec, abi.ST_NOEXEC}, {vfs.MntNoAtime, abi.ST_NOATIME}, {vfs.MntNoDirAtime, abi.ST_NODIRATIME},
			{vfs.MntRelAtime, abi.ST_RELATIME}, {vfs.MntNoSymFollow, abi.ST_NOSYMFOLLOW}} {
			if mf&x.mnt != 0 {
				flags |= x.st
			}
		}
	}
	// huge_encode_dev, split as u64_to_fsid.
	enc := uint64(unix.Minor(dev)&0xff) | uint64(unix.Major(dev))<<8 | uint64(unix.Minor(dev)&^0xff)<<12
	st := abi.Statfs{Type: s.Type, Bsize: s.Bsize, Blocks: s.Blocks, Bfree: s.Bfree, Bavail: s.Bavail, Files: s.Files,
		Ffree: s.Ffree, Namelen: s.Namelen, Frsize: fr, Flags: flags, Fsid: [2]int32{int32(uint32(enc)), int32(uint32(enc >> 32))}}
	b := make([]byte, abi.SizeofStatfs)
	st.Encode(b)
	return b
}

// statfsOf is the statfs of the file at vd.
func statfsOf(vd vfs.VirtualDentry) ([]byte, error) {
	in := vd.Dentry.Inode()
	s, err := in.StatFS()
	if err != nil {
		return nil, err
	}
	var dev uint64
	if a, err := in.Stat(); err == nil {
		dev = a.Dev
	}
	return encodeStatFS(s, vd.Mount, dev), nil
}

// Statfs implements statfs(2).
func Statfs(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	vd, err := lookupPathArg(t, a[0])
	if err != nil {
		return 0, err
	}
	b, err := statfsOf(vd)
	if err != nil {
		return 0, err
	}
	if _, err := t.CopyOut(a[1], b); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// Fstatfs implements fstatfs(2).
func Fstatfs(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	vd := fd.VirtualDentry()
	var b []byte
	if vd.Ok() {
		if b, err = statfsOf(vd); err != nil {
			return 0, err
		}
	} else {
		// PIPEFS_MAGIC for anonymous files
		b = encodeStatFS(vfs.StatFS{Type: 0x50495045, Bsize: 4096, Namelen: 255}, nil, 0)
	}
	if _, err := t.CopyOut(a[1], b); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// Access implements access(2).
func Access(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return faccessat(t, kernel.AtFDCWD, a[0], a[1], 0)
}

// Faccessat implements faccessat(2).
func Faccessat(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return faccessat(t, int32(a[0]), a[1], a[2], 0)
}

// Faccessat2 implements faccessat2(2).
func Faccessat2(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return faccessat(t, int32(a[0]), a[1], a[2], a[3])
}

func faccessat(t *kernel.Task, dirfd int32, pathAddr, mode, flags uint64) (uint64, error) {
	if mode&^7 != 0 {
		return 0, unix.EINVAL
	}
	if flags&^(unix.AT_EACCESS|unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	vd, release, err := atTarget(t, dirfd, pathAddr, flags)
	if err != nil {
		return 0, err
	}
	defer release()
	at, err := statAttr(vd)
	if err != nil {
		return 0, err
	}
	if mode == 0 {
		return 0, nil
	}
	c := *t.Creds()
	if flags&unix.AT_EACCESS == 0 {
		// access(2) checks with the real IDs.
		c.FSUID, c.FSGID = c.UID, c.GID
	}
	if err := vfs.CheckAccess(&c, at, uint32(mode)); err != nil {
		return 0, err
	}
	if mode&2 != 0 && vd.Mount.ReadOnly() && at.Type() != unix.S_IFCHR && at.Type() != unix.S_IFIFO && at.Type() != unix.S_IFSOCK {
		return 0, unix.EROFS
	}
	return 0, nil
}

// Readlink implements readlink(2).
func Readlink(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return readlinkat(t, kernel.AtFDCWD, a[0], a[1], a[2])
}

// Readlinkat implements readlinkat(2).
func Readlinkat(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return readlinkat(t, int32(a[0]), a[1], a[2], a[3])
}

func readlinkat(t *kernel.Task, dirfd int32, pathAddr, buf, size uint64) (uint64, error) {
	path, err := copyInPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	if int64(size) <= 0 {
		return 0, unix.EINVAL
	}
	vd, fd, err := t.FileOrPath(dirfd, path, true, false)
	if err != nil {
		return 0, err
	}
	if fd != nil {
		fd.DecRef()
	}
	var target string
	if sl, ok := vd.Dentry.Inode().(vfs.SelfLink); ok {
		target = sl.SelfTarget(t.Group().PID, t.TID)
	} else if target, err = vd.Dentry.Inode().Readlink(); err != nil {
		if err == unix.EINVAL && path == "" {
			return 0, unix.ENOENT // Linux: an empty path names no link unless dirfd is one
		}
		return 0, err
	}
	b := []byte(target)
	if uint64(len(b)) > size {
		b = b[:size]
	}
	if _, err := t.CopyOut(buf, b); err != nil {
		return 0, unix.EFAULT
	}
	return uint64(len(b)), nil
}
