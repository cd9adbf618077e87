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

// nameWatchMask is what a directory is watched for when its missing names are cached: a
// name appearing in it (created, moved in), or the directory itself going away or moving
// (its watch ends with IN_IGNORED).
const nameWatchMask = unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF |
	unix.IN_ONLYDIR | unix.IN_DONT_FOLLOW

// hostWatchMask is what the gofer asks the host for: changes, not accesses.
const hostWatchMask = unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CLOSE_WRITE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
	unix.IN_CREATE | unix.IN_DELETE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_DONT_FOLLOW

type watcher struct {
	// mu serialises the change of directory add_watch needs (inotify_add_watch takes a
	// path; the gofer names files relative to their handles by fchdir).
	mu sync.Mutex
	fd int // -1 until the first watch
}

// watch adds a host watch on n and returns its descriptor and, when donate is set, a
// duplicate of the instance's FD for the kernel.
func (s *Server) watch(w *watcher, mask uint32, n *node, donate bool) (*reply, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fd < 0 {
		fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
		if err != nil {
			return nil, err
		}
		w.fd = fd
	}
	s.tree.RLock()
	dirFD, name := n.fd, "."
	if n.kind != KindDir {
		if n.parent == nil || n.gone {
			s.tree.RUnlock()
			return nil, unix.EOPNOTSUPP
		}
		dirFD, name = n.parent.fd, n.name
	}
	err := unix.Fchdir(dirFD)
	var wd int
	if err == nil {
		wd, err = unix.InotifyAddWatch(w.fd, name, mask)
		unix.Chdir("/")
	}
	s.tree.RUnlock()
	if err != nil {
		return nil, err
	}
	r := bodyReply(&u32Reply{V: uint32(wd)})
	if donate {
		if r.fd, err = unix.FcntlInt(uintptr(w.fd), unix.F_DUPFD_CLOEXEC, 0); err != nil {
			return nil, err
		}
	}
	return r, nil
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
