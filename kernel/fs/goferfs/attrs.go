package goferfs

import (
	"github.com/sbx-dev/sbx/gofer"
	"github.com/sbx-dev/sbx/kernel/vfs"
)

// Attributes of files on read-write mounts.
//
// Every stat of such a file was a gofer round trip, and so was every directory a path
// resolution passed through (its search permission): `git status` in a repository of 630
// files made 7,595 of them. The kernel now keeps the attributes the gofer last gave while
// the file's host watch (the instance of the missing names, names.go) reports no change:
// the gofer watches each file a walk finds (walk with Watch: no extra round trip) for
// IN_ATTRIB (chmod, chown, utimes, link count, xattrs), IN_MODIFY (write, truncate),
// IN_ACCESS (reads move the access time), the file deleted or moved, and for a directory
// a name created, deleted or moved in it (its times, size and link count). A watch is on
// the inode, so a change through any of its names, by the sandbox or any host program, is
// reported; the host queues the event before the call that made the change returns, and
// the kernel drains the queue before it trusts a cached attribute, so a stat never shows
// attributes older than a change made before it began. The epoch of a cached attribute
// is taken before the request that fetched it. A queue overflow drops every cached
// attribute. Not watched (attributes asked for each time, as before): files walked before
// the kernel had the instance, beyond maxAttrWatches, or where the host refuses watches.
// Not reported by the host: access times moved by mapping a file (mmap), and changes
// made through a shared writable mapping until they are written back.

// currentEpoch drains the watch instance and returns the epoch of in's watch, or ok false
// when in has no live watch.
func (in *Inode) currentEpoch() (uint64, bool) {
	return in.withDrainedWatch(func(w *nameWatch, x *watched) (uint64, bool) {
		if x.ended {
			return 0, false
		}
		return x.gen + w.overflows.Load()<<40, true
	})
}

// withDrainedWatch drains the watch instance and returns f of in's watch, under the
// instance's lock; ok is false when in has no live watch.
func (in *Inode) withDrainedWatch(f func(w *nameWatch, x *watched) (uint64, bool)) (uint64, bool) {
	if in.cache == nil {
		return 0, false
	}
	in.mu.Lock()
	x := in.watch
	in.mu.Unlock()
	if x == nil {
		return 0, false
	}
	w := &in.cache.names
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.broken || !w.haveFD {
		return 0, false
	}
	w.drainLocked()
	return f(w, x)
}

// watchAttrs asks the gofer to watch in, which a walk did not: a directory at once
// (resolutions through it stat it each time), another file at its second uncached stat.
func (in *Inode) watchAttrs() {
	if in.cache == nil {
		return
	}
	in.mu.Lock()
	wd, kind, stats := in.namesWD, in.attr.Kind, in.stats
	in.mu.Unlock()
	if wd != 0 || kind == gofer.KindSymlink || kind != gofer.KindDir && stats < 2 {
		return
	}
	w := &in.cache.names
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.broken || w.full || w.watches >= maxAttrWatches {
		return
	}
	in.mu.Lock()
	wd = in.namesWD
	in.mu.Unlock()
	if wd == 0 {
		w.addLocked(in, false)
	}
}

// lookupWatched walks name (opening a regular file read-only with it when open is set)
// and, once the kernel has the watch instance, has the gofer watch what it finds in the
// same request: its attributes, taken after the watch began, are then cached.
func (in *Inode) lookupWatched(name string, open bool) (vfs.Inode, error) {
	var w *nameWatch
	var mark uint64
	watch := false
	if in.cache != nil {
		w = &in.cache.names
		w.mu.Lock()
		watch = w.haveFD && !w.broken && !w.full && w.watches < maxAttrWatches
		if watch {
			mark = w.startLogLocked()
		}
		w.mu.Unlock()
	}
	e, f, err := in.h.WalkWatch(name, open, watch)
	if watch {
		w.mu.Lock()
		defer w.mu.Unlock()
		// Events drained since the request was sent may have been about this file before
		// it was registered: its attributes are then not trusted until asked again.
		seen := w.endLogLocked(mark, []int32{e.WD}, 0)
		if err == nil && e.WD > 0 {
			n := fromEntry(e, in.cache)
			n.adopt(f)
			x := w.registerLocked(n, e.WD)
			if !seen {
				n.attrs, n.attrEpoch = true, x.gen+w.overflows.Load()<<40
			}
			return n, nil
		}
	}
	if err != nil {
		return nil, err
	}
	n := fromEntry(e, in.cache)
	n.adopt(f)
	return n, nil
}

// ChildEpoch implements vfs.ChildValidator: the cached dentry of name is trusted while no
// host event said name was deleted, moved out or moved over in the directory (the host
// queues it before the call returns; the queue is drained first). Without a live watch
// it cannot tell. A directory of a live read-only mount (gofer.Mount.Live), whose names
// a path walk looks up without stat'ing it first, gets its watch here, before the first
// name is looked up in it.
func (in *Inode) ChildEpoch(name string) (uint64, bool) {
	if in.live {
		in.watchAttrs()
	}
	return in.withDrainedWatch(func(w *nameWatch, x *watched) (uint64, bool) {
		return w.childEpochLocked(x, name)
	})
}

// childEpochLocked is ChildEpoch once drained. Preconditions: w.mu held.
func (w *nameWatch) childEpochLocked(x *watched, name string) (uint64, bool) {
	if x == nil || x.ended {
		return 0, false
	}
	return x.removed[name] + x.base<<24 + w.overflows.Load()<<44, true
}
