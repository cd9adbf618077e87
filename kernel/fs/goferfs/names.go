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

// nameWatch is a sandbox's watch over the host files whose lookups the kernel caches:
// directories whose misses are cached (names), and files of read-write mounts whose
// attributes are (attrs.go). One host watch per file serves both.
type nameWatch struct {
	mu sync.Mutex
	// fd is the names instance the gofer donated, once haveFD; broken is set when
	// watching failed for good (no FD). protected by mu
	fd     int
	haveFD bool
	broken bool
	// byWD maps a watch descriptor to its file's state (the host gives one descriptor per
	// host file, which two handles may name). protected by mu
	byWD map[int32]*watched
	// watches counts the live watches; full is set once the host refused one for its
	// limits (no more are asked for). protected by mu
	watches int
	full    bool
	// events counts every event drained; while loggers > 0, log keeps those drained
	// since events was logBase, so that a walk that made watches can tell whether a drain
	// in the meantime read events about files it did not yet register (watchLog).
	// protected by mu
	events  uint64
	loggers int
	log     []loggedEvent
	logBase uint64
	// buf receives events. protected by mu
	buf []byte
	// overflows counts queue overflows: every cached miss and attribute is dropped at one.
	overflows atomic.Uint64
}

// watched is one host watch: the inodes it covers and how often their file changed.
type watched struct {
	wd     int32
	inodes []*Inode
	// gen moves on at each event that may have changed the file's attributes; ended is set
	// when the watch is gone (the file deleted or the watch refused). protected by
	// nameWatch.mu
	gen   uint64
	ended bool
	// removed maps a name deleted or moved out of, or moved over in, a watched directory
	// to seq at that event; base moves on when the map is reset (ChildEpoch). protected
	// by nameWatch.mu
	removed   map[string]uint64
	seq, base uint64
}

// maxRemoved bounds the names a directory's watch remembers as removed.
const maxRemoved = 4096

// maxAttrWatches bounds the host watches one sandbox makes for its attribute cache: the
// host's limit (fs.inotify.max_user_watches, 8192 on older kernels) is shared by every
// program of the user, so a sandbox walking a big tree must not take it all. Beyond it,
// attributes are asked for each time, as without the cache.
const maxAttrWatches = 4096

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
	return w.addLocked(in, true)
}

// addLocked asks the gofer to watch in (for names: a directory; else for attributes) and
// registers it. Preconditions: w.mu held.
func (w *nameWatch) addLocked(in *Inode, names bool) bool {
	if w.full {
		return false
	}
	ask := in.h.WatchAttrs
	if names {
		ask = in.h.WatchNames
	}
	wd, fd, err := ask(!w.haveFD)
	if err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		switch err {
		case unix.EMFILE, unix.ENFILE, unix.ENOSYS, unix.EPERM:
			// No inotify: no file can be watched.
			w.broken = true
		case unix.ENOSPC:
			// The host's watch limit: no more watches.
			w.full = true
		default:
			// This file cannot be (a directory the user may search but not read):
			// its lookups go to the gofer, without asking again.
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
	w.registerLocked(in, wd)
	return true
}

// registerLocked records that host watch wd covers in. Preconditions: w.mu held.
func (w *nameWatch) registerLocked(in *Inode, wd int32) *watched {
	if w.byWD == nil {
		w.byWD = map[int32]*watched{}
	}
	x := w.byWD[wd]
	if x == nil {
		x = &watched{wd: wd}
		w.byWD[wd] = x
		w.watches++
	}
	x.inodes = append(x.inodes, in)
	in.mu.Lock()
	in.namesWD = wd
	in.watch = x
	in.mu.Unlock()
	return x
}

// Events that change a watched directory's own attributes when they name a child in it
// (its times, size and link count); other events naming a child (the child read, written,
// chmod'ed) concern the child alone, which has its own watch if its attributes are cached.
const dirChangeMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO

// Events after which a name may exist in a directory that a lookup found missing.
const nameAppearMask = unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_IGNORED

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
			w.events++
			if w.loggers > 0 {
				w.log = append(w.log, loggedEvent{wd: h.Wd, mask: h.Mask})
			}
			if h.Mask&unix.IN_Q_OVERFLOW != 0 {
				w.overflows.Add(1)
				continue
			}
			x := w.byWD[h.Wd]
			if x == nil {
				continue
			}
			if h.Len == 0 || h.Mask&dirChangeMask != 0 {
				x.gen++
			}
			if h.Len > 0 && h.Mask&(unix.IN_DELETE|unix.IN_MOVED_FROM|unix.IN_MOVED_TO) != 0 {
				name := w.buf[off-int(h.Len) : off]
				for len(name) > 0 && name[len(name)-1] == 0 {
					name = name[:len(name)-1]
				}
				if x.removed == nil || len(x.removed) >= maxRemoved {
					x.removed = map[string]uint64{}
					x.base++
				}
				x.seq++
				x.removed[string(name)] = x.seq
			}
			if h.Mask&nameAppearMask != 0 {
				for _, in := range x.inodes {
					in.namesEpoch.Add(1)
				}
			}
			if h.Mask&unix.IN_IGNORED != 0 {
				delete(w.byWD, h.Wd)
				w.watches--
				x.ended = true
				for _, in := range x.inodes {
					in.mu.Lock()
					if in.namesWD == h.Wd {
						in.namesWD = 0
						in.watch = nil
					}
					in.mu.Unlock()
				}
			}
		}
	}
}

// loggedEvent is an event a drain read while a walk was in flight.
type loggedEvent struct {
	wd   int32
	mask uint32
}

// startLog drains what is queued (it is from before the request about to be sent) and
// starts keeping the events drained from now on; it returns the mark to give endLog.
// Preconditions: w.mu held.
func (w *nameWatch) startLogLocked() uint64 {
	if w.haveFD {
		w.drainLocked()
	}
	if w.loggers == 0 {
		w.log, w.logBase = w.log[:0], w.events
	}
	w.loggers++
	return w.events
}

// endLogLocked drains, then reports whether any event drained since mark concerns one of
// wds (a file a reply watched before it was registered), or the removal of a name from
// directory dir (0: none), or was a queue overflow. Preconditions: w.mu held.
func (w *nameWatch) endLogLocked(mark uint64, wds []int32, dir int32) bool {
	if w.haveFD {
		w.drainLocked()
	}
	hit := false
	for _, e := range w.log[mark-w.logBase:] {
		if e.mask&unix.IN_Q_OVERFLOW != 0 ||
			dir > 0 && e.wd == dir && e.mask&(unix.IN_DELETE|unix.IN_MOVED_FROM|unix.IN_MOVED_TO|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED) != 0 {
			hit = true
			break
		}
		for _, wd := range wds {
			if e.wd == wd {
				hit = true
				break
			}
		}
		if hit {
			break
		}
	}
	w.loggers--
	if w.loggers == 0 {
		w.log, w.logBase = w.log[:0], w.events
	}
	return hit
}

// NamesFD returns the host inotify FD of the names instance the gofer donated, or -1
// before it did. The kernel role keeps a duplicate when the sandbox ends
// (kernel/sandbox/exit.go).
func (c *Cache) NamesFD() int {
	c.names.mu.Lock()
	defer c.names.mu.Unlock()
	if !c.names.haveFD {
		return -1
	}
	return c.names.fd
}
