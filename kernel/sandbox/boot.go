package sandbox

import (
	"fmt"
	"path"
	"strings"

	"github.com/sbx-dev/sbx/gofer"
	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/fs/devfs"
	"github.com/sbx-dev/sbx/kernel/fs/goferfs"
	"github.com/sbx-dev/sbx/kernel/fs/procfs"
	"github.com/sbx-dev/sbx/kernel/fs/tmpfs"
	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/kernel/syscalls"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// anonDevs numbers the devices of one kernel's own filesystems (major 0, like Linux's
// anonymous devices).
type anonDevs struct{ last uint64 }

func newAnonDevs() *anonDevs { return &anonDevs{last: 0x30} }

func (d *anonDevs) next() uint64 {
	d.last++
	return unix.Mkdev(0, uint32(d.last))
}

// builder assembles the namespace.
type builder struct {
	k     *kernel.Kernel
	mf    *mm.MemoryFile
	files *goferfs.Cache
	ns    *vfs.Namespace
	gofer *gofer.Client
	term  devfs.Terminal
	uid   uint32
	gid   uint32
	devs  *anonDevs
	// roots are the gofer mounts' roots, attached ahead (attachAll), by gofer index.
	roots map[int]*attached
}

// attached is one gofer mount's root, ready once done is closed.
type attached struct {
	done chan struct{}
	root *goferfs.Inode
	err  error
}

// attachAll asks the gofer for the root of every gofer mount of layout at once, each in
// a goroutine of its own: the requests wait together in the connection while the gofer
// still confines itself, and are answered in one go instead of one round trip after the
// other.
func (b *builder) attachAll(layout []Mount) {
	b.roots = make(map[int]*attached)
	for _, m := range layout {
		if m.Kind != MountGofer || b.roots[m.GoferIndex] != nil {
			continue
		}
		a := &attached{done: make(chan struct{})}
		b.roots[m.GoferIndex] = a
		go func(index int) {
			defer close(a.done)
			a.root, a.err = goferfs.Root(b.gofer, index, b.files)
		}(m.GoferIndex)
	}
}

// root returns the root of gofer mount index: the one attachAll asked for, or a new one.
func (b *builder) root(index int) (*goferfs.Inode, error) {
	if a := b.roots[index]; a != nil {
		delete(b.roots, index)
		<-a.done
		return a.root, a.err
	}
	return goferfs.Root(b.gofer, index, b.files)
}

func newRoot(mf *mm.MemoryFile, devs *anonDevs) *vfs.Namespace {
	_, root := tmpfs.New(mf, tmpfs.Options{Dev: devs.next(), Mode: 0o755})
	return vfs.NewNamespace(root, "tmpfs", "sbx-root")
}

func splitParent(p string) (string, string) {
	p = strings.TrimRight(p, "/")
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "/", p
	}
	if i == 0 {
		return "/", p[1:]
	}
	return p[:i], p[i+1:]
}

// ensure makes path exist in the namespace as a directory (or, with file set, a regular
// file) so something can be mounted on it; missing parents are created as directories.
func (b *builder) ensure(path string, file bool) (vfs.VirtualDentry, error) {
	root := b.ns.Root()
	o := vfs.ResolveOpts{Root: root, Start: root, Follow: true}
	if vd, err := b.ns.Resolve(path, o); err == nil {
		return vd, nil
	}
	parentPath, name := splitParent(path)
	parent, err := b.ensure(parentPath, false)
	if err != nil {
		return vfs.VirtualDentry{}, err
	}
	// A directory made inside one the app's user owns (its home, ~/.cache for an allowed
	// ~/.cache/mozilla) belongs to that user too, as if the user had made it: the app can
	// then create its siblings (~/.cache/dconf).
	creds := &vfs.Creds{}
	in := parent.Dentry.Inode()
	if a, err := in.Stat(); err == nil && a.UID == b.uid {
		creds = &vfs.Creds{UID: b.uid, EUID: b.uid, FSUID: b.uid, GID: b.gid, EGID: b.gid, FSGID: b.gid}
	}
	if file {
		child, f, err := in.Create(name, unix.O_WRONLY, 0o644, creds)
		if err != nil {
			return vfs.VirtualDentry{}, fmt.Errorf("creating mount point %s: %w", path, err)
		}
		f.Release()
		return vfs.VirtualDentry{Mount: parent.Mount, Dentry: parent.Dentry.Insert(name, child)}, nil
	}
	if err := in.Mkdir(name, 0o755, creds); err != nil && err != unix.EEXIST {
		return vfs.VirtualDentry{}, fmt.Errorf("creating mount point %s: %w", path, err)
	}
	return b.ns.Resolve(path, o)
}

func (b *builder) apply(m Mount) error {
	switch m.Kind {
	case MountDir:
		_, err := b.ensure(m.Path, false)
		return err
	case MountSocket:
		parentPath, name := splitParent(m.Path)
		parent, err := b.ensure(parentPath, false)
		if err != nil {
			return err
		}
		return parent.Dentry.Inode().Mknod(name, unix.S_IFSOCK|0o666, 0, &vfs.Creds{FSUID: b.uid, FSGID: b.gid})
	case MountFile:
		// A small tmpfs holding the file, whose file is mounted over Path.
		_, dir := tmpfs.New(b.mf, tmpfs.Options{Dev: b.devs.next(), Mode: 0o755})
		mode := m.Mode & 0o7777
		if mode == 0 {
			mode = 0o644
		}
		if err := dir.WriteFile("f", mode, m.Content); err != nil {
			return err
		}
		f, err := dir.Lookup("f")
		if err != nil {
			return err
		}
		if m.Owned {
			// The app user's own file (its Xauthority, mode 0600).
			if err := f.SetAttr(vfs.SetAttr{UID: &b.uid, GID: &b.gid}); err != nil {
				return err
			}
		}
		at, err := b.ensure(m.Path, true)
		if err != nil {
			return err
		}
		b.ns.Mount(at, f, "tmpfs", "tmpfs", !m.Owned) // the app user's own file is writable
		return nil
	case MountSymlink:
		parentPath, name := splitParent(m.Path)
		parent, err := b.ensure(parentPath, false)
		if err != nil {
			return err
		}
		return parent.Dentry.Inode().Symlink(name, m.Target, &vfs.Creds{})
	case MountGofer:
		mounts := b.gofer.Mounts()
		if m.GoferIndex < 0 || m.GoferIndex >= len(mounts) {
			return fmt.Errorf("gofer has no mount #%d", m.GoferIndex)
		}
		info := mounts[m.GoferIndex]
		root, err := b.root(m.GoferIndex)
		if err != nil {
			return fmt.Errorf("attaching gofer mount %s: %w", m.Path, err)
		}
		at, err := b.ensure(m.Path, info.Kind == gofer.KindRegular)
		if err != nil {
			return err
		}
		b.ns.Mount(at, root, "gofer", info.SandboxPath, m.ReadOnly || info.ReadOnly)
		return nil
	case MountTmpfs:
		mode := m.Mode
		if mode == 0 {
			mode = 0o1777
		}
		// /dev/shm files are host-backed, as memfds are: apps hand them to host peers.
		o := tmpfs.Options{Dev: b.devs.next(), Mode: mode, HostBacked: m.Path == "/dev/shm"}
		if m.Owned {
			o.UID, o.GID = b.uid, b.gid
		}
		// Linux's size for a tmpfs mounted without size= and nr_inodes=: half the RAM, in
		// pages and inodes; the sandbox's RAM is its memory limit (kernel.MemInfo). So a
		// full /tmp is ENOSPC, as on a machine that size, not an OOM kill.
		half := int64(b.k.MemInfo().Total / 4096 / 2)
		o.Limits, o.Exact = tmpfs.Limits{Blocks: half, Inodes: half}, true
		fs, root := tmpfs.New(b.mf, o)
		fs.SetParams(tmpfs.Params{Mode: mode, UID: o.UID, GID: o.GID, Default: o.Limits})
		at, err := b.ensure(m.Path, false)
		if err != nil {
			return err
		}
		b.ns.Mount(at, root, "tmpfs", "tmpfs", m.ReadOnly)
		return nil
	case MountProc:
		at, err := b.ensure(m.Path, false)
		if err != nil {
			return err
		}
		pfs := procfs.New(b.k)
		pfs.SetMount(b.ns.Mount(at, pfs.Root(), "proc", "proc", false))
		return nil
	case MountDev:
		root, err := devfs.New(b.mf, b.devs.next(), b.term, b.k, b.uid, b.gid)
		if err != nil {
			return err
		}
		at, err := b.ensure(m.Path, false)
		if err != nil {
			return err
		}
		b.ns.Mount(at, root, "devtmpfs", "devtmpfs", false)
		// The sandbox's POSIX message queues, as systemd mounts them on the host.
		mq, err := b.ensure(path.Join(m.Path, "mqueue"), false)
		if err != nil {
			return err
		}
		b.ns.Mount(mq, syscalls.MqueueFS(b.k, b.devs.next()), "mqueue", "mqueue", false)
		return nil
	case MountSys:
		_, root := tmpfs.New(b.mf, tmpfs.Options{Dev: b.devs.next(), Mode: 0o555, Magic: 0x62656572})
		cpu, err := root.MkdirAll("devices/system/cpu", 0o755)
		if err != nil {
			return err
		}
		n := procfsCPUs()
		rng := "0\n"
		if n > 1 {
			rng = fmt.Sprintf("0-%d\n", n-1)
		}
		for _, f := range []string{"online", "possible", "present"} {
			if err := cpu.WriteFile(f, 0o444, []byte(rng)); err != nil {
				return err
			}
		}
		at, err := b.ensure(m.Path, false)
		if err != nil {
			return err
		}
		b.ns.Mount(at, root, "sysfs", "sysfs", true)
		return nil
	case MountMask, MountReadOnly:
		root := b.ns.Root()
		// The path itself is covered, not what a final symlink names (runc refuses to
		// follow one out of the root; inside the kernel's namespace there is no out).
		at, err := b.ns.Resolve(m.Path, vfs.ResolveOpts{Root: root, Start: root, Follow: false})
		if err == unix.ENOENT || err == unix.ENOTDIR {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s path %s: %w", m.Kind, m.Path, err)
		}
		a, err := at.Dentry.Inode().Stat()
		if err != nil {
			return fmt.Errorf("%s path %s: %w", m.Kind, m.Path, err)
		}
		isDir := a.Mode&unix.S_IFMT == unix.S_IFDIR
		if m.Kind == MountReadOnly {
			b.ns.Mount(at, at.Dentry.Inode(), at.Mount.FSType, at.Mount.Source, true)
			return nil
		}
		if isDir {
			_, empty := tmpfs.New(b.mf, tmpfs.Options{Dev: b.devs.next(), Mode: 0o755})
			b.ns.Mount(at, empty, "tmpfs", "tmpfs", true)
			return nil
		}
		null, err := b.ns.Resolve("/dev/null", vfs.ResolveOpts{Root: root, Start: root, Follow: true})
		if err != nil {
			return fmt.Errorf("masking %s: the null device: %w", m.Path, err)
		}
		b.ns.Mount(at, null.Dentry.Inode(), null.Mount.FSType, null.Mount.Source, false)
		return nil
	}
	return fmt.Errorf("unknown layout step %q for %s", m.Kind, m.Path)
}

func procfsCPUs() int {
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) == nil {
		return set.Count()
	}
	return 1
}
