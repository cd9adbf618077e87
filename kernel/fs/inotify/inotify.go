// Package inotify implements inotify(7): instances (the file inotify_init returns), watches
// on inodes, and the events the kernel's file operations report through Notify*. Changes made
// inside the sandbox are reported by the syscall paths that make them; changes made on the
// host by other programs arrive from the gofer (goferfs forwards them here).
//
// Watches are keyed by the watched inode's (device, inode number), so every path and every
// cached dentry of a file meets the same watches.
//
// Lock order: Table.mu → Instance.mu.
package inotify

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// Event bits (include/uapi/linux/inotify.h).
const (
	InAccess       = 0x1
	InModify       = 0x2
	InAttrib       = 0x4
	InCloseWrite   = 0x8
	InCloseNowrite = 0x10
	InOpen         = 0x20
	InMovedFrom    = 0x40
	InMovedTo      = 0x80
	InCreate       = 0x100
	InDelete       = 0x200
	InDeleteSelf   = 0x400
	InMoveSelf     = 0x800
	InUnmount      = 0x2000
	InQOverflow    = 0x4000
	InIgnored      = 0x8000
	InOnlydir      = 0x1000000
	InDontFollow   = 0x2000000
	InExclUnlink   = 0x4000000
	InMaskCreate   = 0x10000000
	InMaskAdd      = 0x20000000
	InIsdir        = 0x40000000
	InOneshot      = 0x80000000

	InAllEvents = 0xfff
	// childEvents are those a directory watch also gets for its children.
	childEvents = InAccess | InModify | InAttrib | InCloseWrite | InCloseNowrite | InOpen
	// WatchFlags may be given to inotify_add_watch besides events.
	WatchFlags = InOnlydir | InDontFollow | InExclUnlink | InMaskCreate | InMaskAdd | InOneshot
)

// Limits are the values /proc/sys/fs/inotify shows (Linux's defaults, or the host's).
type Limits struct {
	MaxQueuedEvents, MaxUserInstances, MaxUserWatches int32
}

// hostLimits are the host's /proc/sys/fs/inotify values, read once before confinement
// (PrimeHost); every kernel's Table starts from them.
var hostLimits struct {
	once sync.Once
	l    Limits
}

// PrimeHost takes the limits from the host's /proc/sys/fs/inotify (called before the
// kernel confines itself; Linux's defaults stay where it cannot be read).
func PrimeHost() { hostDefaults() }

func hostDefaults() Limits {
	hostLimits.once.Do(func() {
		l := Limits{MaxQueuedEvents: 16384, MaxUserInstances: 128, MaxUserWatches: 65536}
		for name, v := range map[string]*int32{"max_queued_events": &l.MaxQueuedEvents,
			"max_user_instances": &l.MaxUserInstances, "max_user_watches": &l.MaxUserWatches} {
			b, err := os.ReadFile("/proc/sys/fs/inotify/" + name)
			if err != nil {
				continue
			}
			if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 0 {
				*v = int32(min(n, 1<<30))
			}
		}
		hostLimits.l = l
	})
	return hostLimits.l
}

// Key identifies a watched inode.
type Key struct{ Dev, Ino uint64 }

// KeyOf returns in's key.
func KeyOf(in vfs.Inode) (Key, bool, bool) {
	a, err := in.Stat()
	if err != nil {
		return Key{}, false, false
	}
	return Key{a.Dev, a.Ino}, a.IsDir(), true
}

// Table is one kernel's inotify state: every watch of every instance by inode, the
// per-user counts, the limits and the host-event echo filter. Of returns the Kernel's.
type Table struct {
	mu sync.Mutex
	// watches by inode; instances counts live instances per uid. protected by mu
	watches   map[Key][]*watch
	instances map[uint32]int
	userWatch map[uint32]int
	// n is the number of watches: events cost nothing while it is 0.
	n atomic.Int32
	// hosted counts inodes watched on the host too (the kernel then remembers its own
	// events, to tell them from other programs' on the host).
	hosted atomic.Int32
	// cookie numbers rename pairs.
	cookie atomic.Uint32
	// hosts is told which inodes have watches (the gofer watches their host files).
	// protected by mu
	hosts HostWatcher
	// limits are fixed when the table is made.
	limits Limits
	// recent holds the events the kernel itself delivered (host.go).
	recent recentEvents
}

// Of returns k's inotify table, making it on first use; the table hears the last close
// of every file opened by path in k's mount namespace (IN_CLOSE_WRITE, IN_CLOSE_NOWRITE).
func Of(k *kernel.Kernel) *Table {
	return kernel.StateOf(k, func(k *kernel.Kernel) *Table {
		tbl := &Table{watches: map[Key][]*watch{}, instances: map[uint32]int{}, userWatch: map[uint32]int{},
			limits: hostDefaults()}
		if k.NS != nil {
			k.NS.SetCloseHook(tbl.closed)
		}
		return tbl
	})
}

// Limits returns the table's limits.
func (tbl *Table) Limits() Limits { return tbl.limits }

// HostWatcher learns which host-backed inodes are watched, so it can report changes other
// programs make to them on the host.
type HostWatcher interface {
	// Watch starts watching in on the host, if it is a host file; it reports whether it is.
	Watch(in vfs.Inode, k Key, isDir bool) bool
	// Unwatch stops; it reports whether k was watched on the host.
	Unwatch(k Key) bool
}

// SetHostWatcher registers who forwards host-side changes.
func (tbl *Table) SetHostWatcher(h HostWatcher) {
	tbl.mu.Lock()
	tbl.hosts = h
	tbl.mu.Unlock()
}

// Active reports whether any watch exists (callers skip building events otherwise).
func (tbl *Table) Active() bool { return tbl.n.Load() > 0 }

// NewCookie returns a fresh cookie tying IN_MOVED_FROM to IN_MOVED_TO.
func (tbl *Table) NewCookie() uint32 { return tbl.cookie.Add(1) }

type watch struct {
	inst *Instance
	wd   int32
	key  Key
	// mask: protected by inst.mu
	mask  uint32
	isDir bool
}

type event struct {
	wd     int32
	mask   uint32
	cookie uint32
	name   string
}

func (e event) size() int {
	if e.name == "" {
		return abi.SizeofInotifyEvent
	}
	return abi.SizeofInotifyEvent + (len(e.name)+1+15)/16*16
}

func (e event) encode() []byte {
	b := make([]byte, e.size())
	h := abi.InotifyEvent{Wd: e.wd, Mask: e.mask, Cookie: e.cookie, Len: uint32(len(b) - abi.SizeofInotifyEvent)}
	h.Encode(b)
	copy(b[abi.SizeofInotifyEvent:], e.name)
	return b
}

// Instance is an inotify instance: its watches and its event queue.
type Instance struct {
	tbl *Table
	uid uint32

	mu sync.Mutex
	// Everything below: protected by mu.
	byWD   map[int32]*watch
	byKey  map[Key]*watch
	nextWD int32
	queue  []event
	bytes  int
	closed bool

	q waiter.Queue
}

var (
	_ vfs.File     = (*Instance)(nil)
	_ vfs.Pollable = (*Instance)(nil)
	_ vfs.Ioctler  = (*Instance)(nil)
	_ vfs.Stream   = (*Instance)(nil)
)

// New makes an instance for uid (EMFILE past max_user_instances).
func (tbl *Table) New(uid uint32) (*Instance, error) {
	tbl.mu.Lock()
	defer tbl.mu.Unlock()
	if tbl.instances[uid] >= int(tbl.limits.MaxUserInstances) {
		return nil, unix.EMFILE
	}
	tbl.instances[uid]++
	return &Instance{tbl: tbl, uid: uid, byWD: map[int32]*watch{}, byKey: map[Key]*watch{}, nextWD: 1}, nil
}

// AddWatch implements inotify_add_watch(2) for inode in.
func (ii *Instance) AddWatch(in vfs.Inode, mask uint32) (int32, error) {
	k, isDir, ok := KeyOf(in)
	if !ok {
		return 0, unix.ENOENT
	}
	if mask&InOnlydir != 0 && !isDir {
		return 0, unix.ENOTDIR
	}
	events := mask & (InAllEvents | InExclUnlink | InOneshot | InDontFollow | InOnlydir)
	ii.tbl.mu.Lock()
	defer ii.tbl.mu.Unlock()
	ii.mu.Lock()
	defer ii.mu.Unlock()
	if w := ii.byKey[k]; w != nil {
		if mask&InMaskCreate != 0 {
			return 0, unix.EEXIST
		}
		if mask&InMaskAdd != 0 {
			w.mask |= events
		} else {
			w.mask = events
		}
		return w.wd, nil
	}
	if ii.tbl.userWatch[ii.uid] >= int(ii.tbl.limits.MaxUserWatches) {
		return 0, unix.ENOSPC
	}
	w := &watch{inst: ii, wd: ii.nextWD, key: k, mask: events, isDir: isDir}
	ii.nextWD++
	ii.byWD[w.wd], ii.byKey[k] = w, w
	first := len(ii.tbl.watches[k]) == 0
	ii.tbl.watches[k] = append(ii.tbl.watches[k], w)
	ii.tbl.userWatch[ii.uid]++
	ii.tbl.n.Add(1)
	if first && ii.tbl.hosts != nil && ii.tbl.hosts.Watch(in, k, isDir) {
		ii.tbl.hosted.Add(1)
	}
	return w.wd, nil
}

// RmWatch implements inotify_rm_watch(2).
func (ii *Instance) RmWatch(wd int32) error {
	ii.tbl.mu.Lock()
	ii.mu.Lock()
	w := ii.byWD[wd]
	if w == nil {
		ii.mu.Unlock()
		ii.tbl.mu.Unlock()
		return unix.EINVAL
	}
	ii.removeLocked(w)
	ii.mu.Unlock()
	ii.tbl.mu.Unlock()
	ii.q.Notify(waiter.EventIn)
	return nil
}

// removeLocked drops w and queues IN_IGNORED. Preconditions: ii.tbl.mu and ii.mu held.
func (ii *Instance) removeLocked(w *watch) {
	delete(ii.byWD, w.wd)
	delete(ii.byKey, w.key)
	ws := ii.tbl.watches[w.key]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(ii.tbl.watches, w.key)
		if ii.tbl.hosts != nil && ii.tbl.hosts.Unwatch(w.key) {
			ii.tbl.hosted.Add(-1)
		}
	} else {
		ii.tbl.watches[w.key] = ws
	}
	ii.tbl.userWatch[ii.uid]--
	ii.tbl.n.Add(-1)
	ii.queueLocked(event{wd: w.wd, mask: InIgnored})
}

// queueLocked appends an event, merging it with an identical last one and overflowing
// past max_queued_events. Preconditions: ii.mu held.
func (ii *Instance) queueLocked(e event) {
	if n := len(ii.queue); n > 0 && ii.queue[n-1] == e {
		return
	}
	if len(ii.queue) >= int(ii.tbl.limits.MaxQueuedEvents) {
		if ii.queue[len(ii.queue)-1].mask != InQOverflow {
			ov := event{wd: -1, mask: InQOverflow}
			ii.queue = append(ii.queue, ov)
			ii.bytes += ov.size()
		}
		return
	}
	ii.queue = append(ii.queue, e)
	ii.bytes += e.size()
}

// deliver reports mask (an event, plus IN_ISDIR when the subject is a directory) to the
// watches on k; name is set when the subject is k's child of that name.
func (tbl *Table) deliver(k Key, mask, cookie uint32, name string, unlinkedChild bool) {
	tbl.deliverFrom(k, mask, cookie, name, unlinkedChild, true)
}

// deliverFrom delivers an event made by the kernel (own) or seen on the host.
func (tbl *Table) deliverFrom(k Key, mask, cookie uint32, name string, unlinkedChild, own bool) {
	if own && tbl.hosted.Load() > 0 {
		tbl.recent.remember(k, mask, name)
	}
	tbl.mu.Lock()
	defer tbl.mu.Unlock()
	var woken []*Instance
	for _, w := range append([]*watch(nil), tbl.watches[k]...) {
		ii := w.inst
		ii.mu.Lock()
		ev := mask & InAllEvents
		if name != "" && !w.isDir {
			ii.mu.Unlock()
			continue
		}
		if w.mask&ev == 0 || unlinkedChild && w.mask&InExclUnlink != 0 {
			ii.mu.Unlock()
			continue
		}
		ii.queueLocked(event{wd: w.wd, mask: mask, cookie: cookie, name: name})
		if w.mask&InOneshot != 0 {
			ii.removeLocked(w)
		}
		ii.mu.Unlock()
		woken = append(woken, ii)
	}
	for _, ii := range woken {
		ii.q.Notify(waiter.EventIn)
	}
}

// gone ends every watch on k: the inode was deleted (IN_DELETE_SELF, then IN_IGNORED) or
// its filesystem unmounted.
func (tbl *Table) gone(k Key, mask uint32) {
	tbl.mu.Lock()
	var woken []*Instance
	for _, w := range append([]*watch(nil), tbl.watches[k]...) {
		ii := w.inst
		ii.mu.Lock()
		if w.mask&mask&InAllEvents != 0 || mask == InUnmount {
			ii.queueLocked(event{wd: w.wd, mask: mask})
		}
		ii.removeLocked(w)
		ii.mu.Unlock()
		woken = append(woken, ii)
	}
	tbl.mu.Unlock()
	for _, ii := range woken {
		ii.q.Notify(waiter.EventIn)
	}
}

// IsStream implements vfs.Stream.
func (ii *Instance) IsStream() bool { return true }

// NoopSeek implements vfs.NoopSeeker: lseek succeeds and changes nothing.
func (*Instance) NoopSeek() {}

// Read returns whole events; EINVAL when the first does not fit.
func (ii *Instance) Read(_ *vfs.FileDescription, dst [][]byte, _ int64) (int64, error) {
	var room int
	for _, b := range dst {
		room += len(b)
	}
	ii.mu.Lock()
	if len(ii.queue) == 0 {
		ii.mu.Unlock()
		return 0, unix.EAGAIN
	}
	var out []byte
	n := 0
	for _, e := range ii.queue {
		if len(out)+e.size() > room {
			break
		}
		out = append(out, e.encode()...)
		ii.bytes -= e.size()
		n++
	}
	ii.queue = ii.queue[n:]
	ii.mu.Unlock()
	if n == 0 {
		return 0, unix.EINVAL
	}
	var done int64
	for _, b := range dst {
		c := copy(b, out)
		out = out[c:]
		done += int64(c)
	}
	return done, nil
}

// Write is refused (EINVAL), as on Linux.
func (ii *Instance) Write(*vfs.FileDescription, [][]byte, int64) (int64, error) {
	return 0, unix.EINVAL
}

// Readiness implements vfs.Pollable.
func (ii *Instance) Readiness(mask uint32) uint32 {
	ii.mu.Lock()
	defer ii.mu.Unlock()
	if len(ii.queue) > 0 {
		return mask & (waiter.EventIn | waiter.EventRdNorm)
	}
	return 0
}

// EventRegister implements vfs.Pollable.
func (ii *Instance) EventRegister(e *waiter.Entry) { ii.q.EventRegister(e) }

// EventUnregister implements vfs.Pollable.
func (ii *Instance) EventUnregister(e *waiter.Entry) { ii.q.EventUnregister(e) }

// Ioctl implements FIONREAD.
func (ii *Instance) Ioctl(_ *vfs.FileDescription, mem vfs.Memory, cmd uint32, arg uint64) (uint64, error) {
	if cmd != 0x541B { // FIONREAD
		return 0, unix.ENOTTY
	}
	ii.mu.Lock()
	n := ii.bytes
	ii.mu.Unlock()
	var b [4]byte
	abi.PutU32(b[:], uint32(n))
	if _, err := mem.CopyOut(arg, b[:]); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// Release drops the instance's watches.
func (ii *Instance) Release() {
	ii.tbl.mu.Lock()
	ii.mu.Lock()
	for _, w := range ii.byWD {
		ii.removeLocked(w)
	}
	ii.queue = nil
	ii.closed = true
	ii.mu.Unlock()
	ii.tbl.instances[ii.uid]--
	ii.tbl.mu.Unlock()
}

// IsInstance reports whether f is an inotify instance.
func IsInstance(f vfs.File) (*Instance, bool) {
	ii, ok := f.(*Instance)
	return ii, ok
}
