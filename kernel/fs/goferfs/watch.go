package goferfs

import (
	"sync"

	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/fs/inotify"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// HostWatcher forwards changes other programs make on the host to files the sandbox
// watches: the gofer watches them with a host inotify instance whose events the kernel
// reads from the FD the gofer donated with the first watch.
type HostWatcher struct {
	// tbl is the inotify table host events go to.
	tbl *inotify.Table

	mu sync.Mutex
	// fd is the host inotify FD (-1 before the first watch); byWD and byKey map host watch
	// descriptors to the sandbox's inodes. protected by mu
	fd    int
	byWD  map[int32]hostWatch
	byKey map[inotify.Key]int32
}

type hostWatch struct {
	key   inotify.Key
	isDir bool
	h     handleWatcher
}

type handleWatcher interface {
	Watch(wantFD bool) (int32, int, error)
	Unwatch(wd int32) error
}

// NewHostWatcher returns a watcher that reports to tbl; register it with
// tbl.SetHostWatcher.
func NewHostWatcher(tbl *inotify.Table) *HostWatcher {
	return &HostWatcher{tbl: tbl, fd: -1, byWD: map[int32]hostWatch{}, byKey: map[inotify.Key]int32{}}
}

var _ inotify.HostWatcher = (*HostWatcher)(nil)

// Watch implements inotify.HostWatcher.
func (w *HostWatcher) Watch(in vfs.Inode, k inotify.Key, isDir bool) bool {
	gi, ok := in.(*Inode)
	if !ok {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.byKey[k]; ok {
		return true
	}
	wd, fd, err := gi.h.Watch(w.fd < 0)
	if err != nil {
		return false
	}
	if fd >= 0 {
		if w.fd >= 0 {
			unix.Close(fd)
		} else {
			w.fd = fd
			go w.read(fd)
		}
	}
	w.byWD[wd] = hostWatch{key: k, isDir: isDir, h: gi.h}
	w.byKey[k] = wd
	return true
}

// Unwatch implements inotify.HostWatcher.
func (w *HostWatcher) Unwatch(k inotify.Key) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	wd, ok := w.byKey[k]
	if !ok {
		return false
	}
	hw := w.byWD[wd]
	delete(w.byKey, k)
	delete(w.byWD, wd)
	hw.h.Unwatch(wd)
	return true
}

// read forwards the host's events for as long as the sandbox runs.
func (w *HostWatcher) read(fd int) {
	buf := make([]byte, 64<<10)
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(pfd, -1); err != nil && err != unix.EINTR {
			return
		}
		n, err := unix.Read(fd, buf)
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			var h abi.InotifyEvent // the host's, whose layout is the guest's
			h.Decode(buf[off:])
			wd, mask, cookie, nameLen := h.Wd, h.Mask, h.Cookie, int(h.Len)
			end := off + unix.SizeofInotifyEvent + nameLen
			if end > n {
				break
			}
			name := string(buf[off+unix.SizeofInotifyEvent : end])
			for len(name) > 0 && name[len(name)-1] == 0 {
				name = name[:len(name)-1]
			}
			off = end
			w.mu.Lock()
			hw, ok := w.byWD[wd]
			if ok && mask&unix.IN_IGNORED != 0 {
				delete(w.byWD, wd)
				delete(w.byKey, hw.key)
			}
			w.mu.Unlock()
			if !ok || mask&(unix.IN_IGNORED|unix.IN_Q_OVERFLOW) != 0 {
				continue
			}
			if name == "" && hw.isDir {
				mask |= inotify.InIsdir
			}
			w.tbl.DeliverHost(hw.key, mask, cookie, name)
		}
	}
}

// FD returns the host inotify FD the gofer donated, or -1 before the first watch. The
// kernel role keeps a duplicate when the sandbox ends (kernel/sandbox/exit.go).
func (w *HostWatcher) FD() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fd
}
