package goferfs

import (
	"sync"
	"sync/atomic"

	"github.com/sbx-dev/sbx/gofer"
	"github.com/sbx-dev/sbx/kernel/abi"
	"golang.org/x/sys/unix"
)

// Missing names.
//
// Programs probe many paths that do not exist (Chromium, Fontconfig and GTK look for
// dozens of files per start), and each miss was a gofer round trip: ~20-120 µs, almost
// all of it the two context switches of the RPC (the gofer's own openat is a few µs). The
// VFS now remembers misses as negative dentries (vfs.NegativeCacher) in directories whose
// host changes the kernel hears of.
//
// Why inotify rather than the directory's times: revalidating by mtime/ctime needs a stat
// of the directory per lookup, and the kernel holds no host FD of a directory to stat
// (giving it an O_PATH FD would let a compromised kernel fstatat names the profile denies
// under it: the gofer's wall). A watch costs nothing per lookup but one read of an empty
// FD, and it is exact: the host queues an inotify event before the create, rename or link
// that made a name returns, so draining the queue before trusting a cached miss sees every
// name made before the lookup began; mtime has a coarse clock on some filesystems and can
// be set back. So on the first miss in a directory the kernel asks the gofer to watch it
// (OpWatch with Names, on an inotify instance of its own, whose FD it donates once), then
// every name appearing in the directory, its deletion or move, and a queue overflow move
// the directory's epoch on, which drops its cached misses. If a watch cannot be had
// (the host's inotify limits), misses there are not cached.

// nameWatch is a sandbox's watch over the directories whose misses are cached.
type nameWatch struct {
	mu sync.Mutex
	// fd is the names instance the gofer donated, once haveFD; broken is set when
	// watching failed for good (no FD). protected by mu
	fd     int
	haveFD bool
	broken bool
	// byWD maps a watch descriptor to its directory's inodes (the host gives one
	// descriptor per host directory, which two handles may name). protected by mu
	byWD map[int32][]*Inode
	// buf receives events. protected by mu
	buf []byte
	// overflows counts queue overflows: every cached miss is dropped at one.
	overflows atomic.Uint64
}

// MissEpoch implements vfs.NegativeCacher: a value that changes whenever a name may
// have appeared in the directory, or ok false when misses there cannot be cached. With
// watch, it first makes sure the directory is watched.
func (in *Inode) MissEpoch(watch bool) (uint64, bool) {
	if in.cache == nil {
		return 0, false
	}
	w := &in.cache.names
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.broken {
		return 0, false
	}
	in.mu.Lock()
	wd := in.namesWD
	in.mu.Unlock()
	if wd < 0 {
		return 0, false // the host would not watch it
	}
	if wd == 0 {
		if !watch {
			return 0, false
		}
		if !w.watchLocked(in) {
			return 0, false
		}
	}
	w.drainLocked()
	in.mu.Lock()
	wd = in.namesWD
	in.mu.Unlock()
	if wd == 0 { // its watch ended while draining
		return 0, false
	}
	return in.namesEpoch.Load() + w.overflows.Load()<<40, true
}

// watchLocked asks the gofer to watch directory in. Preconditions: w.mu held.
func (w *nameWatch) watchLocked(in *Inode) bool {
	in.mu.Lock()
	dir := in.attr.Kind == gofer.KindDir
	in.mu.Unlock()
	if !dir {
		return false
	}
	wd, fd, err := in.h.WatchNames(!w.haveFD)
	if err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		switch err {
		case unix.EMFILE, unix.ENFILE, unix.ENOSPC, unix.ENOSYS, unix.EPERM:
			// The host's inotify limits, or no inotify: no directory can be watched.
			w.broken = true
		default:
			// This directory cannot be (a directory the user may search but not read):
			// its misses go to the gofer, without asking again.
			in.mu.Lock()
			in.namesWD = -1
			in.mu.Unlock()
		}
		return false
	}
	if !w.haveFD {
		if fd < 0 {
			w.broken = true
			return false
		}
		w.fd, w.haveFD = fd, true
		w.buf = make([]byte, 16<<10)
	} else if fd >= 0 {
		unix.Close(fd)
	}
	if w.byWD == nil {
		w.byWD = map[int32][]*Inode{}
	}
	w.byWD[wd] = append(w.byWD[wd], in)
	in.mu.Lock()
	in.namesWD = wd
	in.mu.Unlock()
	return true
}

// drainLocked reads every queued event. Preconditions: w.mu held.
func (w *nameWatch) drainLocked() {
	for {
		n, err := unix.Read(w.fd, w.buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			return // EAGAIN: the queue is empty
		}
		for off := 0; off+abi.SizeofInotifyEvent <= n; {
			var h abi.InotifyEvent // the host's, whose layout is the guest's
			h.Decode(w.buf[off:])
			off += abi.SizeofInotifyEvent + int(h.Len)
			if h.Mask&unix.IN_Q_OVERFLOW != 0 {
				w.overflows.Add(1)
				continue
			}
			ins := w.byWD[h.Wd]
			for _, in := range ins {
				in.namesEpoch.Add(1)
			}
			if h.Mask&unix.IN_IGNORED != 0 {
				delete(w.byWD, h.Wd)
				for _, in := range ins {
					in.mu.Lock()
					if in.namesWD == h.Wd {
						in.namesWD = 0
					}
					in.mu.Unlock()
				}
			}
		}
	}
}
