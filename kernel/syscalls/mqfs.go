package syscalls

import (
	"hash/fnv"
	"sort"
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// The mqueue filesystem (mq_overview(7)): /dev/mqueue shows the sandbox's message queues,
// the same objects mq_open names, as files named without the leading slash. Reading one
// gives its status line; unlinking one is mq_unlink.

const mqueueMagic = 0x19800202

// MqueueFS returns the root of a mqueue filesystem over k's queues, with device number dev.
func MqueueFS(k *kernel.Kernel, dev uint64) vfs.Inode {
	return &mqDir{ns: mqueuesOf(k), dev: dev, made: unix.NsecToTimespec(time.Now().UnixNano())}
}

// mqueuesOf returns the sandbox's initial IPC namespace's message queues.
func mqueuesOf(k *kernel.Kernel) *mqNamespace { return ipcOfNS(k, k.RootNS(kernel.NSIPC)).mq }

// mqueueFSFor returns a new mqueue filesystem showing the queues of t's IPC namespace
// (what mount -t mqueue gives).
func mqueueFSFor(t *kernel.Task, dev uint64) vfs.Inode {
	return &mqDir{ns: ipcOf(t).mq, dev: dev, made: unix.NsecToTimespec(time.Now().UnixNano())}
}

func mqIno(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()&0x7fffffff | 2
}

type mqDir struct {
	vfs.ReadOnlyDir
	vfs.NoSetAttr
	ns   *mqNamespace
	dev  uint64
	made unix.Timespec
}

func mqStatFS() (vfs.StatFS, error) {
	return vfs.StatFS{Type: mqueueMagic, Bsize: 4096, Frsize: 4096, Namelen: 255}, nil
}

// Volatile implements vfs.Volatile: queues come and go through mq_open and mq_unlink.
func (d *mqDir) Volatile() bool { return true }

// Stat implements vfs.Inode: a sticky, world-writable directory owned by root.
func (d *mqDir) Stat() (vfs.Attr, error) {
	return vfs.Attr{Mode: unix.S_IFDIR | 0o1777, Ino: 1, Dev: d.dev, Nlink: 2, Blksize: 4096,
		Atime: d.made, Mtime: d.made, Ctime: d.made}, nil
}

// StatFS implements vfs.Inode.
func (d *mqDir) StatFS() (vfs.StatFS, error) { return mqStatFS() }

// Lookup implements vfs.Inode.
func (d *mqDir) Lookup(name string) (vfs.Inode, error) {
	d.ns.mu.Lock()
	q := d.ns.byName[name]
	d.ns.mu.Unlock()
	if q == nil {
		return nil, unix.ENOENT
	}
	return &mqNode{q: q, ino: mqIno(name), dev: d.dev}, nil
}

// Readdir implements vfs.Inode.
func (d *mqDir) Readdir() ([]vfs.Dirent, error) {
	d.ns.mu.Lock()
	names := make([]string, 0, len(d.ns.byName))
	for n := range d.ns.byName {
		names = append(names, n)
	}
	d.ns.mu.Unlock()
	sort.Strings(names)
	ents := make([]vfs.Dirent, len(names))
	for i, n := range names {
		ents[i] = vfs.Dirent{Name: n, Ino: mqIno(n), Type: unix.DT_REG}
	}
	return ents, nil
}

// Unlink implements vfs.Inode: mq_unlink (the caller checked the sticky bit).
func (d *mqDir) Unlink(name string) error {
	ns := d.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	q := ns.byName[name]
	if q == nil {
		return unix.ENOENT
	}
	delete(ns.byName, name)
	q.linked = false
	q.releaseLocked()
	return nil
}

// mqNode is a queue seen as a file of /dev/mqueue.
type mqNode struct {
	vfs.NotDir
	q   *mqueue
	ino uint64
	dev uint64
}

// Stat implements vfs.Inode: the queue's owner and mode; the size is its bytes queued.
func (n *mqNode) Stat() (vfs.Attr, error) {
	ns := n.q.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	now := unix.NsecToTimespec(time.Now().UnixNano())
	return vfs.Attr{Mode: unix.S_IFREG | n.q.mode, Ino: n.ino, Dev: n.dev, Nlink: 1, UID: n.q.uid, GID: n.q.gid,
		Blksize: 4096, Atime: now, Mtime: now, Ctime: now}, nil
}

// SetAttr implements vfs.Inode: chmod and chown change the queue's permissions.
func (n *mqNode) SetAttr(a vfs.SetAttr) error {
	ns := n.q.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if a.Size != nil {
		return unix.EINVAL
	}
	if a.Mode != nil {
		n.q.mode = *a.Mode & 0o777
	}
	if a.UID != nil {
		n.q.uid = *a.UID
	}
	if a.GID != nil {
		n.q.gid = *a.GID
	}
	return nil
}

// StatFS implements vfs.Inode.
func (n *mqNode) StatFS() (vfs.StatFS, error) { return mqStatFS() }

// Open implements vfs.Inode: the description reads the status line, as a mq_open one does.
func (n *mqNode) Open(flags int) (vfs.File, error) {
	ns := n.q.ns
	ns.mu.Lock()
	n.q.opens++
	ns.mu.Unlock()
	return &mqFile{q: n.q}, nil
}

// The mqueue directory has no mkdir, mknod, symlink, link, rmdir or rename: Linux's VFS
// answers EPERM for an operation a filesystem lacks.

// Mkdir implements vfs.Inode.
func (d *mqDir) Mkdir(string, uint32, *vfs.Creds) error { return unix.EPERM }

// Mknod implements vfs.Inode.
func (d *mqDir) Mknod(string, uint32, uint64, *vfs.Creds) error { return unix.EPERM }

// Symlink implements vfs.Inode.
func (d *mqDir) Symlink(string, string, *vfs.Creds) error { return unix.EPERM }

// Link implements vfs.Inode.
func (d *mqDir) Link(string, vfs.Inode) error { return unix.EPERM }

// Rmdir implements vfs.Inode.
func (d *mqDir) Rmdir(string) error { return unix.EPERM }

// Rename implements vfs.Inode.
func (d *mqDir) Rename(string, vfs.Inode, string, uint32) error { return unix.EPERM }
