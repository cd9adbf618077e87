package procfs

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// The namespace files of /proc/PID: ns/* links ("user:[4026531837]"), uid_map, gid_map
// and setgroups (user_namespaces(7)).

// nsEntries are /proc/PID's namespace entries.
func (p *proc) nsEntries(tg *kernel.ThreadGroup, n func(string) node) []entry {
	ctl := func(name string, read func(reader *kernel.UserNS) string, write func(t *kernel.Task, s string) error) entry {
		return entry{name, &ctlNode{node: n(name), read: read, write: write}}
	}
	user := func() *kernel.UserNS { return tg.UserNS() }
	idMap := func(gid bool) func(reader *kernel.UserNS) string {
		return func(reader *kernel.UserNS) string {
			var b strings.Builder
			for _, e := range user().Maps(gid, reader) {
				fmt.Fprintf(&b, "%10d %10d %10d\n", e.First, e.LowerShown, e.Count)
			}
			return b.String()
		}
	}
	es := []entry{
		ctl("uid_map", idMap(false), func(t *kernel.Task, s string) error { return user().WriteMap(t, false, s) }),
		ctl("gid_map", idMap(true), func(t *kernel.Task, s string) error { return user().WriteMap(t, true, s) }),
		ctl("setgroups", func(*kernel.UserNS) string {
			if user().SetgroupsAllowed() {
				return "allow\n"
			}
			return "deny\n"
		}, func(t *kernel.Task, s string) error { return user().WriteSetgroups(t, strings.TrimSpace(s)) }),
	}
	var links []entry
	for kind, name := range kernel.NSNames {
		kind := kernel.NSKind(kind)
		links = append(links, p.nsLink(n, name, func() *kernel.Namespace { return tg.Namespaces()[kind] }))
		if kind == kernel.NSPID {
			links = append(links, p.nsLink(n, "pid_for_children", func() *kernel.Namespace { return tg.Namespaces()[kernel.NSPID] }))
		}
	}
	es = append(es, entry{"ns", &dirNode{node: n("ns"), list: func() []entry { return links }, perm: 0o511}})
	return es
}

// ctlNode is a small file read and written whole, whose contents depend on who reads and
// who writes it.
type ctlNode struct {
	node
	vfs.NotDir
	read  func(reader *kernel.UserNS) string
	write func(t *kernel.Task, s string) error
}

func (c *ctlNode) Stat() (vfs.Attr, error) { return c.attr(unix.S_IFREG|0o644, 0), nil }

// Open snapshots the contents as the sandbox's root namespace reads them (the lower IDs of
// a map in root namespace numbers, whoever reads).
func (c *ctlNode) Open(flags int) (vfs.File, error) {
	return &ctlFile{n: c, snapshot: snapshot{data: []byte(c.read(nil))}}, nil
}

type ctlFile struct {
	snapshot
	n *ctlNode
}

// WriteBy implements kernel.TaskWriter: the whole write at offset 0, once.
func (f *ctlFile) WriteBy(t *kernel.Task, off int64, p []byte) (int, error) {
	if off != 0 {
		return 0, unix.EINVAL
	}
	if len(p) >= 4096 {
		return 0, unix.EINVAL
	}
	if err := f.n.write(t, string(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// nsLink is a /proc/PID/ns/NAME magic link: it reads as "user:[4026531837]" and opens (for
// setns) a file of the namespace, whose inode number is the namespace's (as on nsfs).
func (p *proc) nsLink(n func(string) node, name string, ns func() *kernel.Namespace) entry {
	return entry{name, &magicLink{linkNode: linkNode{node: n("ns/" + name), target: func() (string, error) {
		return ns().String(), nil
	}}, to: func() (vfs.VirtualDentry, error) {
		d := vfs.NewRootDentry(newNSInode(p.k, ns()))
		return vfs.VirtualDentry{Mount: p.mount, Dentry: d}, nil
	}}}
}

// NSInode is the file a /proc/PID/ns link leads to: setns(2) takes a descriptor of it. An
// open descriptor of it and a bind mount of it keep the namespace's objects (mounts, IPC
// objects) after its last process left, as nsfs does.
type NSInode struct {
	node
	vfs.NotDir
	NS *kernel.Namespace
	k  *kernel.Kernel
}

var _ vfs.Pinner = (*NSInode)(nil)

func newNSInode(k *kernel.Kernel, n *kernel.Namespace) *NSInode {
	return &NSInode{node: node{boot: k.Start, path: n.String()}, NS: n, k: k}
}

// Pin implements vfs.Pinner: a bind mount holds the namespace.
func (i *NSInode) Pin() { i.k.HoldNS(i.NS) }

// Unpin implements vfs.Pinner.
func (i *NSInode) Unpin() { i.k.DropNS(i.NS) }

// OpenNS returns a new read-only descriptor of namespace n's file (what ioctl_ns(2)'s
// NS_GET_USERNS and NS_GET_PARENT give), shown in /proc/PID/fd as "user:[4026531837]".
func OpenNS(k *kernel.Kernel, n *kernel.Namespace) *vfs.FileDescription {
	in := newNSInode(k, n)
	f, _ := in.Open(unix.O_RDONLY)
	fd := vfs.NewAnonFileDescription(f, n.String(), unix.O_RDONLY)
	fd.SetInode(in)
	return fd
}

// Stat shows the namespace's inode number, as nsfs does.
func (i *NSInode) Stat() (vfs.Attr, error) {
	a := i.attr(unix.S_IFREG|0o444, 0)
	a.Ino = i.NS.Ino
	return a, nil
}

// Open gives a file that reads nothing; its descriptor names the namespace and holds it.
func (i *NSInode) Open(flags int) (vfs.File, error) {
	i.k.HoldNS(i.NS)
	return &nsFile{NS: i.NS, k: i.k}, nil
}

type nsFile struct {
	snapshot
	NS *kernel.Namespace
	k  *kernel.Kernel
}

// Release implements vfs.File: the descriptor no longer holds the namespace.
func (f *nsFile) Release() { f.k.DropNS(f.NS) }

// Namespace implements kernel.NSFile for setns(2).
func (f *nsFile) Namespace() *kernel.Namespace { return f.NS }

// commNode is /proc/PID/comm (the leader's) or /proc/PID/task/TID/comm: a thread's name,
// which any thread of the same process may set by writing it (Linux's comm_write: the
// first 15 bytes, newline included, up to a NUL; EINVAL from another process).
type commNode struct {
	node
	vfs.NotDir
	task func() *kernel.Task
}

func (c *commNode) Stat() (vfs.Attr, error) { return c.attr(unix.S_IFREG|0o644, 0), nil }

func (c *commNode) Open(flags int) (vfs.File, error) {
	t := c.task()
	if t == nil {
		return nil, unix.ESRCH
	}
	return &commFile{snapshot: snapshot{data: []byte(t.Name() + "\n")}, t: t}, nil
}

type commFile struct {
	snapshot
	t *kernel.Task
}

// WriteBy implements kernel.TaskWriter.
func (f *commFile) WriteBy(w *kernel.Task, _ int64, p []byte) (int, error) {
	if w.Group() != f.t.Group() {
		return 0, unix.EINVAL
	}
	name := p[:min(len(p), 15)]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	f.t.SetName(string(name))
	return len(p), nil
}
