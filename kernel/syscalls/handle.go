package syscalls

import (
	"sync"
	"weak"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// File handles (name_to_handle_at(2), open_by_handle_at(2)). A filesystem that exports
// handles (vfs.HandleExporter: tmpfs, host files) encodes them as Linux's does; with
// AT_HANDLE_FID any file gets an identifying one (FILEID_INO64_GEN). The kernel remembers
// which file each handle it gave out names, weakly: open_by_handle_at finds the file
// while the dentry cache holds it, and a handle of a file that is gone (or one this
// kernel never gave out) is stale, as a handle of a deleted file is.

const (
	maxHandleSize       = 128 // MAX_HANDLE_SZ
	atHandleMntIDUnique = 0x001
	atHandleConnectable = 0x002
	atHandleFID         = 0x200
	fileIDInvalid       = 0xff // FILEID_INVALID
	fileIDIno64Gen      = 0x81 // FILEID_INO64_GEN
)

type handleKey struct {
	dev uint64
	typ int32
	b   string
}

// handleTable maps the handles given out to their dentries.
type handleTable struct {
	mu sync.Mutex
	m  map[handleKey]weak.Pointer[vfs.Dentry] // protected by mu
}

func handlesOf(k *kernel.Kernel) *handleTable {
	return kernel.StateOf(k, func(*kernel.Kernel) *handleTable {
		return &handleTable{m: map[handleKey]weak.Pointer[vfs.Dentry]{}}
	})
}

// remember records that key names d, dropping the entries of collected dentries when the
// table has doubled since it was last swept.
func (h *handleTable) remember(key handleKey, d *vfs.Dentry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.m) >= 1024 && len(h.m)&(len(h.m)-1) == 0 {
		for k, p := range h.m {
			if p.Value() == nil {
				delete(h.m, k)
			}
		}
	}
	h.m[key] = weak.Make(d)
}

func (h *handleTable) find(key handleKey) *vfs.Dentry {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.m[key].Value()
}

// encodeHandle returns the handle of the file at vd: nil when its filesystem gives none.
func encodeHandle(in vfs.Inode, fid bool) (int32, []byte, error) {
	if he, ok := in.(vfs.HandleExporter); ok {
		if typ, b := he.FileHandle(); b != nil {
			return typ, b, nil
		}
	}
	if !fid {
		return 0, nil, unix.EOPNOTSUPP
	}
	a, err := in.Stat()
	if err != nil {
		return 0, nil, err
	}
	b := make([]byte, abi.SizeofFid64)
	f := abi.Fid64{Ino: a.Ino}
	f.Encode(b)
	return fileIDIno64Gen, b, nil
}

// NameToHandleAt implements name_to_handle_at(2).
func NameToHandleAt(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	flags := a[4]
	if flags&^uint64(unix.AT_SYMLINK_FOLLOW|unix.AT_EMPTY_PATH|atHandleFID|atHandleMntIDUnique) != 0 {
		return 0, unix.EINVAL // AT_HANDLE_CONNECTABLE (parent-connectable handles) is not given out
	}
	path, err := emptyOrPath(t, a[1], flags)
	if err != nil {
		return 0, err
	}
	vd, fd, err := t.FileOrPath(int32(a[0]), path, flags&unix.AT_EMPTY_PATH != 0, flags&unix.AT_SYMLINK_FOLLOW != 0)
	if err != nil {
		return 0, err
	}
	if fd != nil {
		defer fd.DecRef()
		vd = fd.VirtualDentry()
	}
	if !vd.Ok() {
		return 0, unix.EOPNOTSUPP
	}
	in := vd.Dentry.Inode()
	typ, hb, err := encodeHandle(in, flags&atHandleFID != 0)
	if err != nil {
		return 0, err
	}
	var head [abi.SizeofFileHandle]byte
	if _, err := t.CopyIn(a[2], head[:]); err != nil {
		return 0, unix.EFAULT
	}
	var fh abi.FileHandle
	fh.Decode(head[:])
	if fh.HandleBytes > maxHandleSize {
		return 0, unix.EINVAL
	}
	var result error
	out := abi.FileHandle{HandleBytes: uint32(len(hb)), HandleType: typ}
	if uint32(len(hb)) > fh.HandleBytes {
		// Too small: the size it needs comes back, with no handle.
		out.HandleType, hb, result = fileIDInvalid, nil, unix.EOVERFLOW
	} else if at, err := in.Stat(); err == nil {
		handlesOf(t.Kernel()).remember(handleKey{at.Dev, typ, string(hb)}, vd.Dentry)
	}
	if flags&atHandleMntIDUnique != 0 {
		if err := putU64(t, a[3], uint64(vd.Mount.ID)+mntIDUniqueBase); err != nil {
			result = unix.EFAULT
		}
	} else if err := putU32(t, a[3], uint32(vd.Mount.ID)); err != nil {
		result = unix.EFAULT
	}
	b := make([]byte, abi.SizeofFileHandle+len(hb))
	out.Encode(b)
	copy(b[abi.SizeofFileHandle:], hb)
	if _, err := t.CopyOut(a[2], b); err != nil {
		result = unix.EFAULT
	}
	return 0, result
}

// OpenByHandleAt implements open_by_handle_at(2): Linux's checks in their order (the
// handle's header, its size and type, the mount descriptor, CAP_DAC_READ_SEARCH, its
// bytes), then the file the handle names in mount_fd's filesystem, opened as open(2)
// opens a resolved file (O_CREAT means nothing here).
func OpenByHandleAt(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	const (
		userFlagsMask  = 0xffff0000
		validUserFlags = 0x10000 | 0x20000 // FILEID_IS_CONNECTABLE, FILEID_IS_DIR
	)
	var hdr [abi.SizeofFileHandle]byte
	if _, err := t.CopyIn(a[1], hdr[:]); err != nil {
		return 0, unix.EFAULT
	}
	var fh abi.FileHandle
	fh.Decode(hdr[:])
	size, typ := fh.HandleBytes, fh.HandleType
	if size > maxHandleSize || size == 0 || typ < 0 || uint32(typ)&userFlagsMask&^validUserFlags != 0 {
		return 0, unix.EINVAL
	}
	var mnt vfs.VirtualDentry
	if dirfd := int32(a[0]); dirfd == unix.AT_FDCWD {
		_, mnt = t.FSContext()
	} else {
		fd, err := getFD(t, uint64(uint32(dirfd)))
		if err != nil || dirfd < 0 {
			return 0, unix.EBADF
		}
		mnt = fd.VirtualDentry()
		fd.DecRef()
	}
	if !capable(t, unix.CAP_DAC_READ_SEARCH) {
		return 0, unix.EPERM
	}
	b := make([]byte, abi.SizeofFileHandle+int(size))
	if _, err := t.CopyIn(a[1], b); err != nil {
		return 0, unix.EFAULT
	}
	if !mnt.Ok() {
		return 0, unix.ESTALE
	}
	ra, err := mnt.Mount.Root().Inode().Stat()
	if err != nil {
		return 0, err
	}
	d := handlesOf(t.Kernel()).find(handleKey{ra.Dev, typ & 0xffff, string(b[abi.SizeofFileHandle:])})
	if d == nil || d.IsDead() {
		return 0, unix.ESTALE
	}
	flags := int(a[2]&openFlags) &^ (unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW)
	if flags&unix.O_PATH != 0 {
		flags &= oPathFlags
	} else {
		flags |= abi.O_LARGEFILE
	}
	fd, err := t.OpenLocation(vfs.VirtualDentry{Mount: mnt.Mount, Dentry: d}, flags)
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	n, err := t.FDs().Install(fd, 0, flags&unix.O_CLOEXEC != 0, nofile(t))
	return uint64(n), err
}
