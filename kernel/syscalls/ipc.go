package syscalls

import (
	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// ipcPerm is struct ipc64_perm: the owner, creator and mode of a System V IPC object.
type ipcPerm struct {
	key        int32
	uid, gid   uint32
	cuid, cgid uint32
	mode       uint32
}

func newIPCPerm(t *kernel.Task, key int32, flags uint32) ipcPerm {
	c := t.Creds()
	return ipcPerm{key: key, uid: c.EUID, gid: c.EGID, cuid: c.EUID, cgid: c.EGID, mode: flags & 0o777}
}

// access checks want (4 read, 2 write) against the mode, as ipcperms() does.
func (p *ipcPerm) access(c *vfs.Creds, want uint32) bool {
	if c.EUID == 0 {
		return true
	}
	mode := p.mode & 0o7
	switch {
	case c.EUID == p.uid || c.EUID == p.cuid:
		mode = p.mode >> 6 & 0o7
	case c.EGID == p.gid || c.EGID == p.cgid:
		mode = p.mode >> 3 & 0o7
	}
	return mode&want == want
}

// owner reports whether c may change or remove the object.
func (p *ipcPerm) owner(c *vfs.Creds) bool {
	return c.EUID == 0 || c.EUID == p.uid || c.EUID == p.cuid
}

// perm64 is the object's struct ipc64_perm; extra mode bits are or'ed in.
func (p *ipcPerm) perm64(extraMode uint32) abi.IPC64Perm {
	return abi.IPC64Perm{Key: p.key, UID: p.uid, GID: p.gid, CUID: p.cuid, CGID: p.cgid, Mode: p.mode | extraMode}
}

// set applies IPC_SET's uid, gid and permission bits from the ipc64_perm in b, which
// may end after mode (the fields IPC_SET reads).
func (p *ipcPerm) set(b []byte) {
	var in abi.IPC64Perm
	full := make([]byte, abi.SizeofIPC64Perm)
	copy(full, b)
	in.Decode(full)
	p.uid, p.gid = in.UID, in.GID
	p.mode = p.mode&^0o777 | in.Mode&0o777
}

// ipcLookup resolves the xxxget(2) rules for key: an existing object (checked with
// check), ENOENT without IPC_CREAT, EEXIST with IPC_CREAT|IPC_EXCL; ok false means create.
func ipcLookup(t *kernel.Task, key int32, flags uint32, existing *ipcPerm, check func() error) (found bool, err error) {
	if key == unix.IPC_PRIVATE {
		return false, nil
	}
	if existing == nil {
		if flags&unix.IPC_CREAT == 0 {
			return false, unix.ENOENT
		}
		return false, nil
	}
	if flags&unix.IPC_CREAT != 0 && flags&unix.IPC_EXCL != 0 {
		return false, unix.EEXIST
	}
	if err := check(); err != nil {
		return false, err
	}
	if !existing.access(t.Creds(), (flags>>6)&0o7&^1) {
		return false, unix.EACCES
	}
	return true, nil
}

// setFrom implements IPC_SET for shm and sem: the owner's new uid, gid and permissions from
// the struct at addr.
func (p *ipcPerm) setFrom(t *kernel.Task, addr uint64) error {
	if !p.owner(t.Creds()) {
		return unix.EPERM
	}
	b := make([]byte, 24)
	if _, err := t.CopyIn(addr, b); err != nil {
		return unix.EFAULT
	}
	p.set(b)
	return nil
}

// statReply copies an IPC_STAT/xxx_STAT structure out: xxx_STAT returns the object's id,
// IPC_STAT zero.
func statReply(t *kernel.Task, addr uint64, b []byte, byIndex bool, id int32) (uint64, error) {
	if _, err := t.CopyOut(addr, b); err != nil {
		return 0, unix.EFAULT
	}
	if byIndex {
		return uint64(id), nil
	}
	return 0, nil
}

// ipcNamespace is a kernel's System V IPC objects (ipc_namespaces(7)): every process of the
// sandbox shares one, and two kernels never share one.
type ipcNamespace struct {
	msg msgTable
	sem semTable
	shm shmTable
}

func ipcOf(k *kernel.Kernel) *ipcNamespace {
	return kernel.StateOf(k, func(k *kernel.Kernel) *ipcNamespace {
		ns := &ipcNamespace{
			msg: msgTable{byID: make(map[int32]*msgQueue), byKey: make(map[int32]*msgQueue)},
			sem: semTable{byID: make(map[int32]*semSet), byKey: make(map[int32]*semSet),
				undo: make(map[*kernel.ThreadGroup]map[int32]map[uint16]int32)},
			shm: shmTable{byID: make(map[int32]*shmSegment), byKey: make(map[int32]*shmSegment)},
		}
		// A process's SEM_UNDO adjustments are applied when it exits.
		k.OnProcessExit(func(tg *kernel.ThreadGroup) { semExit(&ns.sem, tg) })
		return ns
	})
}
