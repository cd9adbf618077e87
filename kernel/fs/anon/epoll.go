package anon

import (
	"sync"
	"sync/atomic"

	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// Epoll flags beyond the poll bits (<sys/epoll.h>).
const (
	EpollExclusive = 1 << 28
	EpollWakeup    = 1 << 29
	EpollOneShot   = 1 << 30
	EpollET        = 1 << 31
	// always are reported whether asked for or not.
	always = waiter.EventErr | waiter.EventHUp
)

// Event is one ready file as epoll_wait reports it.
type Event struct {
	Events uint32
	Data   uint64
}

// Epoll is an epoll instance: an interest list of (FD number, file description) pairs.
//
// Files implemented in the kernel (vfs.Pollable) are watched through their wait queues: a
// notification marks the item, which is what edge-triggered items report on. Host files
// (terminals, brokered sockets) are polled on the host when the instance is waited on;
// edge-triggered ones are registered in a host epoll instance of the epoll's own (hostEP),
// whose edges the host kernel tracks. A file can be both and change between them, or
// change its host FD (vfs.HostBacking: a socket that connects on the private loopback): the
// item follows the file's backing as it is now each time the instance is scanned, and the
// file's queue (on which every Pollable item stays registered) wakes waiters when it changes.
type Epoll struct {
	queue waiter.Queue

	mu sync.Mutex
	// items in insertion order, and by key. protected by mu
	items []*epollItem
	byKey map[epollKey]*epollItem
	// hostEP is the host epoll instance of edge-triggered host files (-1: none yet);
	// hostItems maps the IDs registered there to items; nextID numbers them. protected by mu
	hostEP    int
	hostItems map[uint64]*epollItem
	nextID    uint64
}

type epollKey struct {
	fd   int32
	file *vfs.FileDescription
}

type epollItem struct {
	key    epollKey
	events uint32 // asked-for events and flags
	data   uint64
	// entry is the registration on a Pollable's queue; nil for host files.
	entry    *waiter.Entry
	pollable vfs.Pollable
	// pending: notified since last reported (edge-triggered). disabled: a one-shot item
	// that fired and waits for EPOLL_CTL_MOD.
	pending  atomic.Bool
	disabled bool
	// hostID is the item's ID in hostEP (0: not there); hostFD and hostGen are the host FD
	// registered there and the generation of the file's backing it belongs to.
	hostID  uint64
	hostFD  int
	hostGen uint64
}

var _ vfs.Pollable = (*Epoll)(nil)

// hostFailed reports whether registering (hfd, gen) in hostEP failed before.
func (it *epollItem) hostFailed(hfd int, gen uint64) bool {
	return it.hostID == 0 && it.hostFD == hfd && it.hostGen == gen && hfd >= 0
}

// NewEpoll returns an empty instance.
func NewEpoll() *Epoll {
	return &Epoll{byKey: make(map[epollKey]*epollItem), hostEP: -1, hostItems: map[uint64]*epollItem{}}
}

// addHostETLocked registers an edge-triggered host file in hostEP; false when it cannot be
// (the same host file twice: it is then reported level-triggered). Preconditions: e.mu held.
func (e *Epoll) addHostETLocked(it *epollItem, hfd int, gen uint64) bool {
	if e.hostEP < 0 {
		ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return false
		}
		e.hostEP = ep
	}
	e.nextID++
	ev := unix.EpollEvent{Events: it.events & (0xffff | EpollET | EpollOneShot)}
	setEpollData(&ev, e.nextID)
	if unix.EpollCtl(e.hostEP, unix.EPOLL_CTL_ADD, hfd, &ev) != nil {
		return false
	}
	it.hostID, it.hostFD, it.hostGen = e.nextID, hfd, gen
	e.hostItems[it.hostID] = it
	return true
}

// dropHostLocked removes an item from hostEP. Preconditions: e.mu held.
func (e *Epoll) dropHostLocked(it *epollItem) {
	if it.hostID == 0 {
		return
	}
	// The registered FD is the file's only while its backing is the same generation: a
	// replaced FD was closed, which took it out of hostEP, and its number may be another's.
	if hfd, gen, ok := vfs.HostPollState(it.key.file.Impl()); ok && hfd == it.hostFD && gen == it.hostGen {
		unix.EpollCtl(e.hostEP, unix.EPOLL_CTL_DEL, hfd, nil)
	}
	delete(e.hostItems, it.hostID)
	it.hostID = 0
}

// syncLocked brings an item up to date with its file's backing and returns the host FD to
// poll (host: the file is host-backed now; et: an edge-triggered item reported through
// hostEP instead). Preconditions: e.mu held.
func (e *Epoll) syncLocked(it *epollItem) (hfd int, host, et bool) {
	hfd, gen, host := vfs.HostPollState(it.key.file.Impl())
	if it.hostID != 0 && (!host || hfd != it.hostFD || gen != it.hostGen) {
		e.dropHostLocked(it)
		it.pending.Store(true) // a new backing: its state is reported afresh
	}
	if host && it.events&EpollET != 0 && it.hostID == 0 && !it.hostFailed(hfd, gen) {
		if !e.addHostETLocked(it, hfd, gen) {
			it.hostFD, it.hostGen = hfd, gen // remember the failure: level-triggered for it
		}
	}
	return hfd, host, it.hostID != 0
}

// CanWatch reports whether epoll can watch fd: regular files and directories cannot (EPERM).
func CanWatch(fd *vfs.FileDescription) bool {
	if in := fd.Inode(); in != nil {
		if a, err := in.Stat(); err == nil && (a.Type() == unix.S_IFREG || a.Type() == unix.S_IFDIR) {
			return false
		}
	}
	switch fd.Impl().(type) {
	case vfs.Pollable:
		return true
	case vfs.HostFile:
		return fd.IsStream()
	}
	return false
}

// Add implements EPOLL_CTL_ADD.
func (e *Epoll) Add(fdn int32, fd *vfs.FileDescription, events uint32, data uint64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := epollKey{fdn, fd}
	if _, ok := e.byKey[k]; ok {
		return unix.EEXIST
	}
	it := &epollItem{key: k, events: events, data: data, hostFD: -1}
	it.pending.Store(true) // a file already ready is reported at once
	if p, ok := fd.Impl().(vfs.Pollable); ok {
		it.pollable = p
		e.registerLocked(it)
	}
	e.syncLocked(it)
	e.items = append(e.items, it)
	e.byKey[k] = it
	e.queue.Notify(waiter.EventIn)
	return nil
}

func (e *Epoll) registerLocked(it *epollItem) {
	it.entry = &waiter.Entry{Mask: it.events | always, Callback: func(uint32) {
		it.pending.Store(true)
		e.queue.Notify(waiter.EventIn | waiter.EventRdNorm)
	}}
	it.pollable.EventRegister(it.entry)
}

// Modify implements EPOLL_CTL_MOD.
func (e *Epoll) Modify(fdn int32, fd *vfs.FileDescription, events uint32, data uint64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	it, ok := e.byKey[epollKey{fdn, fd}]
	if !ok {
		return unix.ENOENT
	}
	if it.events&EpollExclusive != 0 {
		return unix.EINVAL
	}
	if it.pollable != nil {
		it.pollable.EventUnregister(it.entry)
	}
	it.events, it.data, it.disabled = events, data, false
	it.pending.Store(true)
	if it.pollable != nil {
		e.registerLocked(it)
	}
	e.dropHostLocked(it)
	it.hostFD = -1
	e.syncLocked(it)
	e.queue.Notify(waiter.EventIn)
	return nil
}

// Delete implements EPOLL_CTL_DEL.
func (e *Epoll) Delete(fdn int32, fd *vfs.FileDescription) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	it, ok := e.byKey[epollKey{fdn, fd}]
	if !ok {
		return unix.ENOENT
	}
	e.removeLocked(it)
	return nil
}

func (e *Epoll) removeLocked(it *epollItem) {
	if it.pollable != nil {
		it.pollable.EventUnregister(it.entry)
	}
	e.dropHostLocked(it)
	delete(e.byKey, it.key)
	for i, x := range e.items {
		if x == it {
			e.items = append(e.items[:i], e.items[i+1:]...)
			break
		}
	}
}

// HostWaits returns the host FDs and events a waiter must poll besides the instance's
// own queue.
func (e *Epoll) HostWaits() []unix.PollFd {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []unix.PollFd
	for _, it := range e.items {
		if it.disabled || it.key.file.Released() {
			continue
		}
		if hfd, host, et := e.syncLocked(it); host && !et {
			out = append(out, unix.PollFd{Fd: int32(hfd), Events: int16(it.events & 0xffff)})
		}
	}
	if len(e.hostItems) > 0 {
		out = append(out, unix.PollFd{Fd: int32(e.hostEP), Events: unix.POLLIN})
	}
	return out
}

// Collect returns up to max ready events, consuming edges and one-shots as epoll_wait does.
func (e *Epoll) Collect(max int) []Event {
	return e.scan(max, true)
}

func (e *Epoll) scan(max int, consume bool) []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Event
	var host []unix.PollFd
	var hostItems []*epollItem
	for _, it := range append([]*epollItem(nil), e.items...) {
		if it.key.file.Released() {
			e.removeLocked(it) // the file is gone: Linux drops it from every interest list
			continue
		}
		if it.disabled {
			continue
		}
		if hfd, isHost, et := e.syncLocked(it); isHost {
			if !et { // edge-triggered ones come from hostEP below
				host = append(host, unix.PollFd{Fd: int32(hfd), Events: int16(it.events & 0xffff)})
				hostItems = append(hostItems, it)
			}
			continue
		}
		if it.pollable == nil {
			continue
		}
		mask := it.events&0xffff | always
		r := it.pollable.Readiness(mask) & mask
		if r == 0 || (it.events&EpollET != 0 && !it.pending.Load()) {
			continue
		}
		out = e.reportLocked(out, it, r, consume)
		if len(out) >= max {
			return out
		}
	}
	if len(host) > 0 {
		unix.Poll(host, 0)
		for i, h := range host {
			if h.Revents == 0 {
				continue
			}
			it := hostItems[i]
			r := vfs.HostEvents(it.key.file.Impl(), uint32(uint16(h.Revents)))
			if r == 0 {
				continue
			}
			out = e.reportLocked(out, it, r, consume)
			if len(out) >= max {
				break
			}
		}
	}
	if len(e.hostItems) > 0 && len(out) < max {
		if !consume {
			// Looking must not consume edges: the host instance is readable when one waits.
			p := []unix.PollFd{{Fd: int32(e.hostEP), Events: unix.POLLIN}}
			if n, _ := unix.Poll(p, 0); n > 0 {
				out = append(out, Event{Events: waiter.EventIn})
			}
			return out
		}
		evs := make([]unix.EpollEvent, max-len(out))
		n, err := unix.EpollWait(e.hostEP, evs, 0)
		if err != nil {
			n = 0
		}
		for _, ev := range evs[:n] {
			it := e.hostItems[epollData(&ev)]
			if it == nil || it.disabled || it.key.file.Released() {
				continue
			}
			if r := vfs.HostEvents(it.key.file.Impl(), ev.Events&0xffff); r != 0 {
				out = e.reportLocked(out, it, r, consume)
			}
		}
	}
	return out
}

func (e *Epoll) reportLocked(out []Event, it *epollItem, r uint32, consume bool) []Event {
	if consume {
		it.pending.Store(false)
		if it.events&EpollOneShot != 0 {
			it.disabled = true
		}
	}
	return append(out, Event{Events: r, Data: it.data})
}

// Readiness implements vfs.Pollable: an instance is readable when a wait would report
// something.
func (e *Epoll) Readiness(mask uint32) uint32 {
	if len(e.scan(1, false)) > 0 {
		return (waiter.EventIn | waiter.EventRdNorm) & mask
	}
	return 0
}

// EventRegister implements vfs.Pollable.
func (e *Epoll) EventRegister(w *waiter.Entry) { e.queue.EventRegister(w) }

// EventUnregister implements vfs.Pollable.
func (e *Epoll) EventUnregister(w *waiter.Entry) { e.queue.EventUnregister(w) }

// IsStream implements vfs.Stream.
func (*Epoll) IsStream() bool { return true }

// NoopSeek implements vfs.NoopSeeker: lseek succeeds and changes nothing.
func (*Epoll) NoopSeek() {}

// Read implements vfs.File: an epoll instance is not readable.
func (*Epoll) Read(*vfs.FileDescription, [][]byte, int64) (int64, error) { return 0, unix.EINVAL }

// Write implements vfs.File.
func (*Epoll) Write(*vfs.FileDescription, [][]byte, int64) (int64, error) { return 0, unix.EINVAL }

// Release drops every registration.
func (e *Epoll) Release() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, it := range append([]*epollItem(nil), e.items...) {
		e.removeLocked(it)
	}
	if e.hostEP >= 0 {
		unix.Close(e.hostEP)
		e.hostEP = -1
	}
}

// Watches reports whether e watches target, directly or through nested instances
// (EPOLL_CTL_ADD refuses such cycles with ELOOP).
func (e *Epoll) Watches(target *Epoll) bool {
	if e == target {
		return true
	}
	e.mu.Lock()
	var inner []*Epoll
	for _, it := range e.items {
		if x, ok := it.key.file.Impl().(*Epoll); ok {
			inner = append(inner, x)
		}
	}
	e.mu.Unlock()
	for _, x := range inner {
		if x.Watches(target) {
			return true
		}
	}
	return false
}
