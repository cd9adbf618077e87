package gofer

import (
	"errors"
	"path"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// maxHandles bounds the handles one connection may hold.
const maxHandles = 1 << 20

// node is an open handle: an O_PATH FD for a file inside the view, and how to reopen it
// (its parent's FD and its name; mount roots reopen by their path in the gofer's root).
// Renames and unlinks made through the gofer move or retire the nodes they touch, so a
// handle keeps naming its file wherever the file went (see Server.tree).
type node struct {
	fd    int
	mount int
	// parent and name are where the file is reached again; gone is set once its name was
	// unlinked or replaced. protected by Server.tree; writers hold Server.mu too, so
	// holding either is enough to read them
	parent *node
	name   string
	gone   bool
	root   string // for mount roots: the path to reopen
	host   string // for mount roots: the host path (others derive theirs from parent and name)
	kind   Kind
	ino    uint64
	dev    uint64
}

// nameKey is a directory entry: the directory's file and a name in it.
type nameKey struct {
	dev, ino uint64
	name     string
}

// Server answers one kernel's requests.
type Server struct {
	view *view
	// disk counts what the sandbox adds to the host (disk.go).
	disk diskUsage
	// uid, gid are the gofer's own IDs in its user namespace (read at start: its seccomp
	// filter refuses getuid later); hostUID, hostGID the user's IDs on the host.
	uid, gid         uint32
	hostUID, hostGID uint32

	// tree is the rename lock: renames and unlinks hold it exclusively while they change
	// the host tree and move or retire the nodes they touched; everything that reaches a
	// file again by parent and name, or creates a name, holds it shared. Lock order: tree,
	// then mu.
	tree sync.RWMutex

	mu sync.Mutex
	// names indexes non-root nodes by their directory entry. protected by mu
	names map[nameKey][]*node
	// handles maps handle IDs to nodes. protected by mu
	handles map[uint64]*node
	next    uint64

	// watcher holds the host inotify instance for the sandbox's watches; nameWatcher the
	// one for directories whose missing names the kernel caches (watch.go).
	watcher, nameWatcher watcher
}

// view is the served set of mounts, as FDs opened at start.
type view struct {
	mounts []servedMount
	deny   []string
}

type servedMount struct {
	Mount
	// path is where the mount's root is reachable in the gofer's own namespace.
	path string
	kind Kind
}

func (v *view) denied(host string) bool {
	for _, d := range v.deny {
		if host == d || strings.HasPrefix(host, d+"/") {
			return true
		}
	}
	return false
}

func newServer(v *view) *Server {
	uid, gid := uint32(unix.Getuid()), uint32(unix.Getgid())
	return &Server{view: v, handles: make(map[uint64]*node), names: make(map[nameKey][]*node), watcher: watcher{fd: -1}, nameWatcher: watcher{fd: -1},
		uid: uid, gid: gid, hostUID: uid, hostGID: gid, disk: diskUsage{files: map[fileID]*grownFile{}}}
}

func (s *Server) get(id uint64) (*node, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.handles[id]
	if !ok {
		return nil, unix.EBADF
	}
	return n, nil
}

func (s *Server) add(n *node) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.handles) >= maxHandles {
		unix.Close(n.fd)
		return 0, unix.EMFILE
	}
	s.next++
	s.handles[s.next] = n
	if n.parent != nil {
		k := n.key()
		s.names[k] = append(s.names[k], n)
	}
	return s.next, nil
}

// key is the directory entry a non-root node is reached by. Preconditions: tree or mu held.
func (n *node) key() nameKey { return nameKey{n.parent.dev, n.parent.ino, n.name} }

// unindexLocked drops n from the names index. Preconditions: mu held.
func (s *Server) unindexLocked(n *node) {
	if n.parent == nil {
		return
	}
	k := n.key()
	list := s.names[k]
	for i, o := range list {
		if o == n {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(s.names, k)
	} else {
		s.names[k] = list
	}
}

// hostOf is n's host path, for deny checks. Preconditions: tree held (shared is enough).
func (s *Server) hostOf(n *node) string {
	if n.parent == nil {
		return n.host
	}
	return path.Join(s.hostOf(n.parent), n.name)
}

// unlinked retires the nodes of dir/name after their name went away.
// Preconditions: tree held exclusively.
func (s *Server) unlinked(dir *node, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := nameKey{dir.dev, dir.ino, name}
	for _, n := range s.names[k] {
		n.gone = true
		n.parent = nil
	}
	delete(s.names, k)
}

// renamed moves the nodes of od/oldName to nd/newName after a rename, retiring those the
// rename replaced, or swapping the two sets after an exchange.
// Preconditions: tree held exclusively.
func (s *Server) renamed(od *node, oldName string, nd *node, newName string, exchange bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ok, nk := nameKey{od.dev, od.ino, oldName}, nameKey{nd.dev, nd.ino, newName}
	moving, replaced := s.names[ok], s.names[nk]
	delete(s.names, ok)
	delete(s.names, nk)
	for _, n := range moving {
		n.parent, n.name = nd, newName
	}
	if len(moving) > 0 {
		s.names[nk] = moving
	}
	for _, n := range replaced {
		if exchange {
			n.parent, n.name = od, oldName
		} else {
			n.gone, n.parent = true, nil
		}
	}
	if exchange && len(replaced) > 0 {
		s.names[ok] = replaced
	}
}

func (s *Server) closeHandle(id uint64) error {
	s.mu.Lock()
	n, ok := s.handles[id]
	delete(s.handles, id)
	if ok {
		s.unindexLocked(n)
	}
	s.mu.Unlock()
	if !ok {
		return unix.EBADF
	}
	unix.Close(n.fd)
	return nil
}

// closeAll drops every handle (the connection ended).
func (s *Server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, n := range s.handles {
		unix.Close(n.fd)
		delete(s.handles, id)
	}
}

// validName refuses names that are not one path component.
func validName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > MaxName || strings.ContainsAny(name, "/\x00") {
		return unix.EINVAL
	}
	return nil
}

func kindOf(mode uint32) Kind {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return KindRegular
	case unix.S_IFDIR:
		return KindDir
	case unix.S_IFLNK:
		return KindSymlink
	case unix.S_IFIFO:
		return KindFIFO
	case unix.S_IFSOCK:
		return KindSocket
	case unix.S_IFCHR:
		return KindChar
	case unix.S_IFBLK:
		return KindBlock
	}
	return 0
}

// overflowID is what the kernel shows for IDs not mapped into the gofer's user namespace.
const overflowID = 65534

// innerID is the ID the user's host ID has inside the gofer's user namespace: the same ID,
// except for a user whose ID is the overflow ID (nobody), whose own files would otherwise
// be indistinguishable from files of unmapped owners (root, system users).
func innerID(host uint32) uint32 {
	if host == overflowID {
		return overflowID - 1
	}
	return host
}

// hostOwner turns an owner seen inside the gofer's user namespace into the one the
// sandbox shows: the user's own inner ID is the user, unmapped owners are root.
func hostOwner(id, inner, host uint32) uint32 {
	switch id {
	case inner:
		return host
	case overflowID:
		return 0
	}
	return id
}

// innerOwner is hostOwner's inverse for chown requests: the user's host ID becomes the
// inner one; any other ID is left for the host to refuse.
func innerOwner(id, host uint32) uint32 {
	if id == host {
		return innerID(host)
	}
	return id
}

func (s *Server) statFD(fd int, n *node) (Attr, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return Attr{}, err
	}
	// Owners outside the gofer's user namespace (root, system users) are shown as root: the
	// sandbox presents the system as root-owned, which is what nearly all of it is.
	uid := hostOwner(st.Uid, s.uid, s.hostUID)
	gid := hostOwner(st.Gid, s.gid, s.hostGID)
	return Attr{Kind: kindOf(st.Mode), Mode: st.Mode, UID: uid, GID: gid, Nlink: st.Nlink, Size: st.Size,
		Blocks: st.Blocks, BlkSize: int32(st.Blksize), Atime: Timespec{st.Atim.Sec, st.Atim.Nsec},
		Mtime: Timespec{st.Mtim.Sec, st.Mtim.Nsec}, Ctime: Timespec{st.Ctim.Sec, st.Ctim.Nsec},
		Ino: st.Ino, Dev: st.Dev, Rdev: st.Rdev, ReadOnly: s.view.mounts[n.mount].ReadOnly,
		Live: s.view.mounts[n.mount].ReadOnly && s.view.mounts[n.mount].Live}, nil
}

// walkFD opens name below parent as O_PATH without following anything and without
// leaving the parent: the one primitive every lookup goes through.
func walkFD(parent int, name string) (int, error) {
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_SYMLINKS}
	for {
		fd, err := unix.Openat2(parent, name, &how)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		return fd, err
	}
}

// entryFor makes a handle for name below parent. Preconditions: tree held (shared).
func (s *Server) entryFor(parent *node, name string) (uint64, Attr, string, error) {
	if parent.gone {
		return 0, Attr{}, "", unix.ENOENT
	}
	host := path.Join(s.hostOf(parent), name)
	if s.view.denied(host) {
		return 0, Attr{}, "", unix.ENOENT
	}
	fd, err := walkFD(parent.fd, name)
	if err != nil {
		if err == unix.EXDEV || err == unix.ELOOP {
			err = unix.ENOENT
		}
		return 0, Attr{}, "", err
	}
	n := &node{fd: fd, mount: parent.mount, parent: parent, name: name}
	a, err := s.statFD(fd, n)
	if err != nil {
		unix.Close(fd)
		return 0, Attr{}, "", err
	}
	n.kind, n.ino, n.dev = a.Kind, a.Ino, a.Dev
	var target string
	if a.Kind == KindSymlink {
		buf := make([]byte, MaxPath+1)
		k, err := unix.Readlinkat(fd, "", buf)
		if err != nil {
			unix.Close(fd)
			return 0, Attr{}, "", err
		}
		target = string(buf[:k])
	}
	id, err := s.add(n)
	if err != nil {
		return 0, Attr{}, "", err
	}
	return id, a, target, nil
}

// reopen opens the node's file for I/O (never following a symlink), checking that it is
// still the file the handle names.
func (s *Server) reopen(n *node, flags int) (int, error) {
	s.tree.RLock()
	defer s.tree.RUnlock()
	return s.reopenLocked(n, flags)
}

// reopenLocked is reopen. Preconditions: tree held (shared).
func (s *Server) reopenLocked(n *node, flags int) (int, error) {
	if n.gone {
		return -1, unix.ENOENT
	}
	flags |= unix.O_CLOEXEC | unix.O_NOFOLLOW | unix.O_NOCTTY
	var fd int
	var err error
	for {
		if n.parent == nil {
			fd, err = unix.Open(n.root, flags, 0)
		} else {
			fd, err = unix.Openat(n.parent.fd, n.name, flags, 0)
		}
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Ino != n.ino || st.Dev != n.dev {
		unix.Close(fd)
		return -1, unix.ESTALE
	}
	return fd, nil
}

func (s *Server) readOnly(n *node) bool { return s.view.mounts[n.mount].ReadOnly }

var errClose = errors.New("gofer: closing connection")
