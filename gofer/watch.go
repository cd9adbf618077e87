package gofer

import (
	"sync"

	"golang.org/x/sys/unix"
)

// Host-side change notification: the gofer keeps one host inotify instance for the sandbox
// and watches the files the sandbox watches (OpWatch, OpUnwatch); the kernel reads the
// events from a duplicate of that instance's FD, donated with the first watch, so changes
// other programs make to those files on the host reach the sandbox's inotify watchers.

// The kernel caches the names a walk found missing (vfs negative dentries) in directories
// the gofer watches for names appearing, on a second instance whose FD the kernel drains
// before it trusts a cached miss (kernel/fs/goferfs/names.go). The host queues an inotify
// event before the call that made the name returns, so a name created on the host before a
// lookup starts is always seen by it.

// cacheWatchMask is what a file is watched for on the instance of the kernel's caches: a
// name appearing in a directory (created, moved in) for the cache of missing names; a
// name going away (deleted, moved out), the file's attributes or contents changing
// (chmod, chown, utimes, link count, xattrs: IN_ATTRIB; write, truncate: IN_MODIFY; read:
// IN_ACCESS, which moves the access time) for the attribute cache; the file itself going
// away or moving (its watch ends with IN_IGNORED). One watch per file serves both caches.
// Successive identical events coalesce in the host's queue, so a file read in a loop
// queues one IN_ACCESS until the kernel drains it.
const cacheWatchMask = unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_DELETE |
	unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ATTRIB | unix.IN_MODIFY | unix.IN_ACCESS |
	unix.IN_DONT_FOLLOW

// hostWatchMask is what the gofer asks the host for: changes, not accesses.
const hostWatchMask = unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CLOSE_WRITE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
	unix.IN_CREATE | unix.IN_DELETE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_DONT_FOLLOW

// cwdMu serialises the changes of working directory add_watch needs (inotify_add_watch
// takes a path; the gofer names files relative to their handles by fchdir). The working
// directory is the process's, shared by every Server in it, hence a package variable.
var cwdMu sync.Mutex

type watcher struct {
	// mu guards fd, made at the first watch.
	mu sync.Mutex
	fd int // -1 until the first watch
}

// watch adds a host watch on n and returns its descriptor and, when donate is set, a
// duplicate of the instance's FD for the kernel.
func (s *Server) watch(w *watcher, mask uint32, n *node, donate bool) (*reply, error) {
	wd, fd, err := s.addWatch(w, mask, n, donate)
	if err != nil {
		return nil, err
	}
	r := bodyReply(&u32Reply{V: uint32(wd)})
	r.fd = fd
	return r, nil
}

// addWatch adds a host watch on n and returns its descriptor and, when donate is set, a
// duplicate of the instance's FD (else -1).
func (s *Server) addWatch(w *watcher, mask uint32, n *node, donate bool) (int, int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fd < 0 {
		fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
		if err != nil {
			return 0, -1, err
		}
		w.fd = fd
	}
	s.tree.RLock()
	dirFD, name := n.fd, "."
	if n.kind != KindDir {
		if n.parent == nil || n.gone {
			s.tree.RUnlock()
			return 0, -1, unix.EOPNOTSUPP
		}
		dirFD, name = n.parent.fd, n.name
	}
	// The working directory is the process's: watches of both instances, made by
	// concurrent requests (a getdents with Plus runs apart), take turns.
	cwdMu.Lock()
	defer cwdMu.Unlock()
	err := unix.Fchdir(dirFD)
	var wd int
	if err == nil {
		wd, err = unix.InotifyAddWatch(w.fd, name, mask)
		if err == nil && name != "." {
			// A name, not the handle's FD, was watched: make sure it still named the
			// handle's file once the watch was there (a host rename in between would put
			// the watch on another file, whose changes are not this one's).
			var st unix.Stat_t
			if unix.Fstatat(dirFD, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil || st.Ino != n.ino || st.Dev != n.dev {
				unix.InotifyRmWatch(w.fd, uint32(wd))
				err = unix.ESTALE
			}
		}
		unix.Chdir("/")
	}
	s.tree.RUnlock()
	if err != nil {
		return 0, -1, err
	}
	fd := -1
	if donate {
		if fd, err = unix.FcntlInt(uintptr(w.fd), unix.F_DUPFD_CLOEXEC, 0); err != nil {
			return 0, -1, err
		}
	}
	return wd, fd, nil
}

// watchEntry watches a file a walk just found on the instance of the kernel's caches, if
// the kernel has that instance already, and returns the watch and the file's attributes
// taken after it began (so that no change after them goes unreported), or wd 0.
func (s *Server) watchEntry(id uint64, a Attr) (int, Attr) {
	if a.Kind == KindSymlink {
		return 0, a
	}
	s.nameWatcher.mu.Lock()
	have := s.nameWatcher.fd >= 0
	s.nameWatcher.mu.Unlock()
	n, err := s.get(id)
	if !have || err != nil {
		return 0, a
	}
	wd, _, err := s.addWatch(&s.nameWatcher, cacheWatchMask, n, false)
	if err != nil {
		return 0, a
	}
	fresh, err := s.statFD(n.fd, n)
	if err != nil {
		return 0, a
	}
	return wd, fresh
}

// unwatch removes a host watch.
func (s *Server) unwatch(w *watcher, wd int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fd < 0 {
		return unix.EINVAL
	}
	_, err := unix.InotifyRmWatch(w.fd, uint32(wd))
	return err
}

// Watch asks the gofer to watch the file on the host: it returns the host watch descriptor
// and, when wantFD is set, the FD to read the host's events from.
func (h *Handle) Watch(wantFD bool) (int32, int, error) {
	var r u32Reply
	fd, err := h.c.call(&watchReq{handleField: h.hd(), WantFD: wantFD}, &r)
	if err != nil {
		return 0, -1, err
	}
	return int32(r.V), fd, nil
}

// WatchAttrs asks the gofer to watch file h (of any kind) on the host for changes of its
// attributes, on WatchNames' instance: it returns the host watch descriptor and, when
// wantFD is set, that instance's FD.
func (h *Handle) WatchAttrs(wantFD bool) (int32, int, error) {
	var r u32Reply
	fd, err := h.c.call(&watchReq{handleField: h.hd(), WantFD: wantFD, Attrs: true}, &r)
	if err != nil {
		return 0, -1, err
	}
	return int32(r.V), fd, nil
}

// WatchNames asks the gofer to watch directory h on the host for names appearing in it:
// it returns the host watch descriptor and, when wantFD is set, the FD of the instance to
// read the events from (a different one from Watch's).
func (h *Handle) WatchNames(wantFD bool) (int32, int, error) {
	var r u32Reply
	fd, err := h.c.call(&watchReq{handleField: h.hd(), WantFD: wantFD, Names: true}, &r)
	if err != nil {
		return 0, -1, err
	}
	return int32(r.V), fd, nil
}

// Unwatch drops a host watch made through this handle's client.
func (h *Handle) Unwatch(wd int32) error {
	_, err := h.c.call(&unwatchReq{handleField: h.hd(), WD: uint32(wd)}, nil)
	return err
}
