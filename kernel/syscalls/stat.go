package syscalls

import (
	"encoding/binary"

	"github.com/sbx-dev/sbx/kernel"
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

// encodeStat lays out struct stat (arch/x86/include/uapi/asm/stat.h, 144 bytes).
func encodeStat(a vfs.Attr) []byte {
	b := make([]byte, 144)
	le := binary.LittleEndian
	le.PutUint64(b[0:], a.Dev)
	le.PutUint64(b[8:], a.Ino)
	le.PutUint64(b[16:], a.Nlink)
	le.PutUint32(b[24:], a.Mode)
	le.PutUint32(b[28:], a.UID)
	le.PutUint32(b[32:], a.GID)
	le.PutUint64(b[40:], a.Rdev)
	le.PutUint64(b[48:], uint64(a.Size))
	bs := a.Blksize
	if bs == 0 {
		bs = 4096
	}
	le.PutUint64(b[56:], uint64(bs))
	le.PutUint64(b[64:], uint64(a.Blocks))
	le.PutUint64(b[72:], uint64(a.Atime.Sec))
	le.PutUint64(b[80:], uint64(a.Atime.Nsec))
	le.PutUint64(b[88:], uint64(a.Mtime.Sec))
	le.PutUint64(b[96:], uint64(a.Mtime.Nsec))
	le.PutUint64(b[104:], uint64(a.Ctime.Sec))
	le.PutUint64(b[112:], uint64(a.Ctime.Nsec))
	return b
}

func writeStat(t *kernel.Task, addr uint64, a vfs.Attr) error {
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

func fstatat(t *kernel.Task, dirfd int32, pathAddr, statAddr, flags uint64) (uint64, error) {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT) != 0 {
		return 0, unix.EINVAL
	}
	path, err := copyInPath(t, pathAddr)
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

// statx mask bits (include/uapi/linux/stat.h).
const (
	statxBasicStats = 0x7ff
	statxBtime      = 0x800
	statxMntID      = 0x1000
)

// atStatxSyncType is AT_STATX_SYNC_TYPE (include/uapi/linux/fcntl.h).
const atStatxSyncType = 0x6000

// Statx implements statx(2).
func Statx(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	dirfd, flags, mask := int32(a[0]), a[2], uint32(a[3])
	const okFlags = unix.AT_SYMLINK_NOFOLLOW | unix.AT_EMPTY_PATH | unix.AT_NO_AUTOMOUNT | atStatxSyncType
	if flags&^okFlags != 0 || flags&atStatxSyncType == atStatxSyncType {
		return 0, unix.EINVAL
	}
	if mask&0x80000000 != 0 { // STATX__RESERVED
		return 0, unix.EINVAL
	}
	path, err := copyInPath(t, a[1])
	if err != nil {
		return 0, err
	}
	vd, fd, err := t.FileOrPath(dirfd, path, flags&unix.AT_EMPTY_PATH != 0, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
	if err != nil {
		return 0, err
	}
	var at vfs.Attr
	mnt := 0
	if fd != nil {
		defer fd.DecRef()
		at, err = fdAttr(fd)
		if fvd := fd.VirtualDentry(); fvd.Ok() {
			mnt = fvd.Mount.ID
		}
	} else {
		at, err = statAttr(vd)
		mnt = vd.Mount.ID
	}
	if err != nil {
		return 0, err
	}
	b := make([]byte, 256)
	le := binary.LittleEndian
	got := uint32(statxBasicStats | statxMntID)
	if at.Btime.Sec != 0 || at.Btime.Nsec != 0 {
		got |= statxBtime
	}
	le.PutUint32(b[0:], got)
	bs := at.Blksize
	if bs == 0 {
		bs = 4096
	}
	le.PutUint32(b[4:], uint32(bs))
	le.PutUint32(b[16:], uint32(at.Nlink))
	le.PutUint32(b[20:], at.UID)
	le.PutUint32(b[24:], at.GID)
	le.PutUint16(b[28:], uint16(at.Mode))
	le.PutUint64(b[32:], at.Ino)
	le.PutUint64(b[40:], uint64(at.Size))
	le.PutUint64(b[48:], uint64(at.Blocks))
	le.PutUint64(b[56:], 0)
	ts := func(off int, s unix.Timespec) {
		le.PutUint64(b[off:], uint64(s.Sec))
		le.PutUint32(b[off+8:], uint32(s.Nsec))
	}
	ts(64, at.Atime)
	ts(80, at.Btime)
	ts(96, at.Ctime)
	ts(112, at.Mtime)
	le.PutUint32(b[128:], unix.Major(at.Rdev))
	le.PutUint32(b[132:], unix.Minor(at.Rdev))
	le.PutUint32(b[136:], unix.Major(at.Dev))
	le.PutUint32(b[140:], unix.Minor(at.Dev))
	le.PutUint64(b[144:], uint64(mnt))
	if _, err := t.CopyOut(a[4], b); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

func encodeStatFS(s vfs.StatFS, ro bool) []byte {
	b := make([]byte, 120)
	le := binary.LittleEndian
	le.PutUint64(b[0:], uint64(s.Type))
	le.PutUint64(b[8:], uint64(s.Bsize))
	le.PutUint64(b[16:], s.Blocks)
	le.PutUint64(b[24:], s.Bfree)
	le.PutUint64(b[32:], s.Bavail)
	le.PutUint64(b[40:], s.Files)
	le.PutUint64(b[48:], s.Ffree)
	le.PutUint64(b[64:], uint64(s.Namelen))
	fr := s.Frsize
	if fr == 0 {
		fr = s.Bsize
	}
	le.PutUint64(b[72:], uint64(fr))
	flags := s.Flags | 0x20 // ST_VALID
	if ro {
		flags |= unix.ST_RDONLY
	}
	le.PutUint64(b[80:], uint64(flags))
	return b
}

// Statfs implements statfs(2).
func Statfs(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	vd, err := lookupPathArg(t, a[0])
	if err != nil {
		return 0, err
	}
	s, err := vd.Dentry.Inode().StatFS()
	if err != nil {
		return 0, err
	}
	if _, err := t.CopyOut(a[1], encodeStatFS(s, vd.Mount.ReadOnly)); err != nil {
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
	s := vfs.StatFS{Type: 0x50495045, Bsize: 4096, Namelen: 255} // PIPEFS_MAGIC for anonymous files
	ro := false
	if vd.Ok() {
		if s, err = vd.Dentry.Inode().StatFS(); err != nil {
			return 0, err
		}
		ro = vd.Mount.ReadOnly
	}
	if _, err := t.CopyOut(a[1], encodeStatFS(s, ro)); err != nil {
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
	if mode&2 != 0 && vd.Mount.ReadOnly && at.Type() != unix.S_IFCHR && at.Type() != unix.S_IFIFO && at.Type() != unix.S_IFSOCK {
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
