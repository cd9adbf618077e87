package syscalls

import (
	"fmt"
	"sort"
	"strings"
	"sync"

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

// ipcNamespace is the System V IPC objects of one IPC namespace (ipc_namespaces(7)): a
// new namespace starts empty, its objects go away with its last process, and two kernels
// never share one.
type ipcNamespace struct {
	msg msgTable
	sem semTable
	shm shmTable
	// mq is the namespace's POSIX message queues (what its mqueue filesystem shows).
	mq *mqNamespace
}

// ipcRegistry holds a kernel's IPC namespaces' objects.
type ipcRegistry struct {
	mu sync.Mutex
	// byNS maps each IPC namespace that has objects to them. protected by mu
	byNS map[*kernel.Namespace]*ipcNamespace
}

func ipcRegistryOf(k *kernel.Kernel) *ipcRegistry {
	return kernel.StateOf(k, func(k *kernel.Kernel) *ipcRegistry {
		r := &ipcRegistry{byNS: make(map[*kernel.Namespace]*ipcNamespace)}
		// A process's SEM_UNDO adjustments are applied when it exits, in whichever
		// namespace it made them.
		k.OnProcessExit(func(tg *kernel.ThreadGroup) {
			for _, ns := range r.all() {
				semExit(&ns.sem, tg)
			}
		})
		k.SetSysvIPCRenderer(func(n *kernel.Namespace, kind string) string {
			r.mu.Lock()
			ns := r.byNS[n]
			r.mu.Unlock()
			if ns == nil {
				return ""
			}
			return ns.procTable(kind)
		})
		k.OnNamespaceRelease(func(n *kernel.Namespace) {
			r.mu.Lock()
			ns := r.byNS[n]
			delete(r.byNS, n)
			r.mu.Unlock()
			if ns != nil {
				ns.destroy()
			}
		})
		return r
	})
}

func (r *ipcRegistry) all() []*ipcNamespace {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*ipcNamespace, 0, len(r.byNS))
	for _, ns := range r.byNS {
		out = append(out, ns)
	}
	return out
}

// ipcOf returns the objects of the caller's IPC namespace.
func ipcOf(t *kernel.Task) *ipcNamespace { return ipcOfNS(t.Kernel(), t.Group().IPCNS()) }

// ipcOfNS returns the objects of IPC namespace n (created empty on first use).
func ipcOfNS(k *kernel.Kernel, n *kernel.Namespace) *ipcNamespace {
	r := ipcRegistryOf(k)
	r.mu.Lock()
	defer r.mu.Unlock()
	if ns := r.byNS[n]; ns != nil {
		return ns
	}
	ns := &ipcNamespace{
		msg: msgTable{byID: make(map[int32]*msgQueue), byKey: make(map[int32]*msgQueue)},
		sem: semTable{byID: make(map[int32]*semSet), byKey: make(map[int32]*semSet),
			undo: make(map[*kernel.ThreadGroup]map[int32]map[uint16]int32)},
		shm: shmTable{byID: make(map[int32]*shmSegment), byKey: make(map[int32]*shmSegment)},
		mq:  &mqNamespace{byName: make(map[string]*mqueue), userBytes: make(map[uint32]int64)},
	}
	r.byNS[n] = ns
	return ns
}

// procTable renders the rows of /proc/sysvipc/KIND, by identifier (IDs in the sandbox's
// numbers; resident and swapped sizes are not tracked and show 0).
func (ns *ipcNamespace) procTable(kind string) string {
	var b strings.Builder
	switch kind {
	case "shm":
		ns.shm.mu.Lock()
		defer ns.shm.mu.Unlock()
		for _, id := range sortedIDs(ns.shm.byID) {
			s := ns.shm.byID[id]
			mode := s.mode
			if s.removed {
				mode |= 0o1000 // SHM_DEST
			}
			fmt.Fprintf(&b, "%10d %10d  %4o %21d %5d %5d  %5d %5d %5d %5d %5d %10d %10d %10d %21d %21d\n",
				s.key, s.id, mode, s.size, s.cpid, s.lpid, s.nattch, s.uid, s.gid, s.cuid, s.cgid, s.atime, s.dtime, s.ctime, 0, 0)
		}
	case "sem":
		ns.sem.mu.Lock()
		defer ns.sem.mu.Unlock()
		for _, id := range sortedIDs(ns.sem.byID) {
			s := ns.sem.byID[id]
			fmt.Fprintf(&b, "%10d %10d  %4o %10d %5d %5d %5d %5d %10d %10d\n",
				s.key, s.id, s.mode, len(s.sems), s.uid, s.gid, s.cuid, s.cgid, s.otime, s.ctime)
		}
	case "msg":
		ns.msg.mu.Lock()
		defer ns.msg.mu.Unlock()
		for _, id := range sortedIDs(ns.msg.byID) {
			q := ns.msg.byID[id]
			fmt.Fprintf(&b, "%10d %10d  %4o  %10d %10d %5d %5d %5d %5d %5d %5d %10d %10d %10d\n",
				q.key, q.id, q.mode, q.bytes, len(q.msgs), q.lspid, q.lrpid, q.uid, q.gid, q.cuid, q.cgid, q.stime, q.rtime, q.ctime)
		}
	}
	return b.String()
}

func sortedIDs[V any](m map[int32]V) []int32 {
	ids := make([]int32, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// destroy removes every object of a namespace no process is in any more: shared memory
// segments are freed once detached, as after IPC_RMID.
func (ns *ipcNamespace) destroy() {
	ns.shm.mu.Lock()
	defer ns.shm.mu.Unlock()
	for _, s := range ns.shm.byID {
		s.removed = true
		delete(ns.shm.byKey, s.key)
		s.key = unix.IPC_PRIVATE
		s.maybeFreeLocked()
	}
}
